//! `keys.parquet`: its schema, and the column encoders that fill it.
//!
//! There is one row per key, millions per file, so this table is most of
//! the output work. The generic Arrow writer spent about 2 400
//! instructions per row here: it copies each row into Arrow builders,
//! hashes every string into a dictionary and runs a generic bit-packer.
//! These encoders know each column's shape instead (about 1 000 per row):
//! - the type and encoding names are dictionary ids known without
//!   hashing, and the source is one constant;
//! - a pattern is hashed once and found in a dictionary stored as its
//!   page will hold it;
//! - integers are delta bit-packed in 128-value blocks;
//! - the key bytes are copied once, into the page;
//! - with Snappy or LZ4, only the key column is compressed, and Snappy
//!   matches key by key ([`super::snappy`]).
//!
//! The workers encode whole column chunks ([`KeysEncoder`]). The `parquet`
//! crate still writes the file, the schema and the footer
//! ([`super::parquet::KeysFileWriter`]), so any reader sees an ordinary
//! Parquet file.
//!
//! Pages are data pages v1, the most widely read layout. The string
//! columns are dictionary-encoded (`RLE_DICTIONARY`, the dictionary page
//! first), the key is `PLAIN`, and the integers are `DELTA_BINARY_PACKED`
//! with min/max statistics. A page holds at most [`PAGE_ROWS`] rows.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, Mutex};

use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::statistics::Statistics;

use super::snappy::KeyPageSnappy;
use crate::error::{Error, Result};
use crate::facts::KeyFacts;
use crate::prefix::PatternSlot;

/// The codec of `keys.parquet`, the one big output: speed against size.
/// (The small tables are always zstd.)
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum KeysCompression {
    /// Snappy: the fastest to write that every reader knows.
    #[default]
    Snappy,
    /// Zstandard level 1: the smallest file.
    Zstd,
    /// LZ4 (the `LZ4_RAW` codec; Spark needs 3.4 or later).
    Lz4,
    /// No compression.
    None,
}

impl KeysCompression {
    /// Parses `snappy`, `zstd`, `lz4` or `none`.
    pub fn from_name(s: &str) -> Option<KeysCompression> {
        match s {
            "snappy" => Some(KeysCompression::Snappy),
            "zstd" => Some(KeysCompression::Zstd),
            "lz4" => Some(KeysCompression::Lz4),
            "none" => Some(KeysCompression::None),
            _ => None,
        }
    }

    /// The codec as the footer names it.
    pub fn parquet(self) -> Compression {
        match self {
            KeysCompression::Snappy => Compression::SNAPPY,
            KeysCompression::Zstd => Compression::ZSTD(ZstdLevel::default()),
            KeysCompression::Lz4 => Compression::LZ4_RAW,
            KeysCompression::None => Compression::UNCOMPRESSED,
        }
    }
}

/// How a column is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    /// Dictionary-encoded text.
    Text,
    /// Plain bytes (the key).
    Bytes,
    /// A signed 32-bit integer.
    I32,
    /// An unsigned integer stored in 32 bits (min/max compare unsigned).
    U32,
    /// A signed 64-bit integer.
    I64,
    /// An unsigned 64-bit integer (min/max compare unsigned).
    U64,
}

/// The columns, in order: name, Arrow type, nullable, storage. The
/// schema and the encoders are both made from this list.
const COLUMNS: [(&str, DataType, bool, Shape); 14] = [
    ("source", DataType::Utf8, false, Shape::Text),
    ("db", DataType::Int32, false, Shape::I32),
    ("key", DataType::Binary, false, Shape::Bytes),
    ("type", DataType::Utf8, false, Shape::Text),
    ("encoding", DataType::Utf8, false, Shape::Text),
    ("rdb_bytes", DataType::UInt64, false, Shape::U64),
    ("memory_bytes", DataType::UInt64, false, Shape::U64),
    ("elements", DataType::UInt64, false, Shape::U64),
    ("max_element_bytes", DataType::UInt64, false, Shape::U64),
    ("expire_at_ms", DataType::Int64, true, Shape::I64),
    ("idle_seconds", DataType::UInt64, true, Shape::U64),
    ("lfu_freq", DataType::UInt8, true, Shape::U32),
    ("slot", DataType::UInt16, false, Shape::U32),
    ("prefix", DataType::Utf8, true, Shape::Text),
];

const SOURCE: usize = 0;
const DB: usize = 1;
const TYPE: usize = 3;
const ENCODING: usize = 4;
const RDB_BYTES: usize = 5;
const MEMORY_BYTES: usize = 6;
const ELEMENTS: usize = 7;
const MAX_ELEMENT_BYTES: usize = 8;
const EXPIRE_AT_MS: usize = 9;
const IDLE_SECONDS: usize = 10;
const LFU_FREQ: usize = 11;
const SLOT: usize = 12;
const PREFIX: usize = 13;

/// The schema of the `keys` table: one row per key.
pub fn keys_schema() -> SchemaRef {
    Arc::new(Schema::new(
        COLUMNS
            .iter()
            .map(|(name, dt, nullable, _)| Field::new(*name, dt.clone(), *nullable))
            .collect::<Vec<_>>(),
    ))
}

/// Most rows in one page: at 4096 a page's raw values (about half a
/// megabyte per worker) stay in a core's L2 cache between being appended
/// and being encoded; 16384 spilled them to L3 and cost 5 %.
pub const PAGE_ROWS: usize = 4 * 1024;
/// Key bytes after which a page is cut early (bounds a page of huge keys).
pub const PAGE_KEY_BYTES: usize = 1 << 20;
/// A worker closes its row group once the encoded pages pass this many
/// bytes (or it has [`ROW_GROUP_ROWS`] rows).
pub const WORKER_ROW_GROUP_BYTES: usize = 32 << 20;
/// Most rows in one `keys.parquet` row group.
pub const ROW_GROUP_ROWS: usize = 1 << 20;

// Parquet's enums, as the footer and page headers number them.
const PAGE_DATA: i32 = 0;
const PAGE_DICTIONARY: i32 = 2;
const ENC_PLAIN: i32 = 0;
const ENC_RLE: i32 = 3;
const ENC_DELTA_BINARY_PACKED: i32 = 5;
const ENC_RLE_DICTIONARY: i32 = 8;

/// A page codec, reused for every page of a worker.
enum Compressor {
    None,
    Snappy(Box<KeyPageSnappy>),
    /// Made at the first page (making it can fail).
    Zstd(Option<Box<zstd::bulk::Compressor<'static>>>),
    Lz4,
}

impl Compressor {
    fn new(c: KeysCompression) -> Compressor {
        match c {
            KeysCompression::None => Compressor::None,
            KeysCompression::Snappy => Compressor::Snappy(Box::default()),
            KeysCompression::Zstd => Compressor::Zstd(None),
            KeysCompression::Lz4 => Compressor::Lz4,
        }
    }

    /// Compresses `body` into `out` (reused: it only grows); returns the
    /// compressed length, or `None` when pages are stored as they are.
    fn compress(&mut self, body: &[u8], out: &mut Vec<u8>) -> Result<Option<usize>> {
        let n = match self {
            Compressor::None => return Ok(None),
            Compressor::Snappy(enc) => {
                // Only the key column is compressed with Snappy.
                enc.compress(body, out)
            }
            Compressor::Zstd(enc) => {
                let enc = match enc {
                    Some(enc) => enc,
                    None => enc.insert(Box::new(
                        zstd::bulk::Compressor::new(ZstdLevel::default().compression_level())
                            .map_err(compress_error)?,
                    )),
                };
                // Writes from the start of `out`, within its capacity.
                out.clear();
                out.reserve(zstd::zstd_safe::compress_bound(body.len()));
                enc.compress_to_buffer(body, out).map_err(compress_error)?
            }
            Compressor::Lz4 => {
                let max = lz4_flex::block::get_maximum_output_size(body.len());
                if out.len() < max {
                    out.resize(max, 0);
                }
                lz4_flex::block::compress_into(body, out)
                    .map_err(|e| compress_error(std::io::Error::other(e)))?
            }
        };
        Ok(Some(n))
    }
}

fn compress_error(err: std::io::Error) -> Error {
    Error::Io {
        path: "keys.parquet".into(),
        err,
    }
}

/// Thrift compact protocol: just what page headers need (structs of
/// `i32` fields and nested structs, ids ascending).
struct Thrift<'a> {
    out: &'a mut Vec<u8>,
    /// The last field id written, per open struct.
    last: Vec<i16>,
}

impl<'a> Thrift<'a> {
    fn new(out: &'a mut Vec<u8>) -> Thrift<'a> {
        Thrift { out, last: vec![0] }
    }

    fn field(&mut self, id: i16, ty: u8) {
        let last = self.last.last_mut().expect("inside a struct");
        let delta = id - *last;
        *last = id;
        if (1..=15).contains(&delta) {
            self.out.push((delta as u8) << 4 | ty);
        } else {
            self.out.push(ty);
            varint(self.out, zigzag(i64::from(id)));
        }
    }

    fn i32(&mut self, id: i16, v: i32) {
        self.field(id, 5);
        varint(self.out, zigzag(i64::from(v)));
    }

    fn begin(&mut self, id: i16) {
        self.field(id, 12);
        self.last.push(0);
    }

    fn end(&mut self) {
        self.out.push(0);
        self.last.pop();
    }
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends a page (header and body, compressed with `codec` if given) to
/// `out`; returns its uncompressed size as the footer counts it (header
/// included).
fn write_page(
    out: &mut Vec<u8>,
    dictionary: bool,
    values: usize,
    encoding: i32,
    body: &[u8],
    codec: Option<&mut Compressor>,
    scratch: &mut Vec<u8>,
) -> Result<u64> {
    let compressed = match codec {
        Some(c) => c.compress(body, scratch)?.map(|n| &scratch[..n]),
        None => None,
    };
    let stored = compressed.unwrap_or(body);
    let header_start = out.len();
    let mut t = Thrift::new(out);
    t.i32(
        1,
        if dictionary {
            PAGE_DICTIONARY
        } else {
            PAGE_DATA
        },
    );
    t.i32(2, len_i32(body.len())?);
    t.i32(3, len_i32(stored.len())?);
    if dictionary {
        t.begin(7);
        t.i32(1, len_i32(values)?);
        t.i32(2, ENC_PLAIN);
        t.end();
    } else {
        t.begin(5);
        t.i32(1, len_i32(values)?);
        t.i32(2, encoding);
        t.i32(3, ENC_RLE);
        t.i32(4, ENC_RLE);
        t.end();
    }
    t.end();
    let header = out.len() - header_start;
    out.extend_from_slice(stored);
    Ok((header + body.len()) as u64)
}

fn len_i32(n: usize) -> Result<i32> {
    i32::try_from(n).map_err(|_| Error::Invalid(format!("a keys.parquet page of {n} bytes")))
}

/// Packs `values` (each below `2^width`) LSB first, as Parquet's
/// bit-packed runs and delta miniblocks store them. `values.len() *
/// width` must be a multiple of 8.
#[inline]
fn bitpack<T: Copy + Into<u64>>(out: &mut Vec<u8>, values: &[T], width: u32) {
    if width == 0 {
        return;
    }
    let total = (values.len() * width as usize).div_ceil(8);
    let start = out.len();
    // Sixteen bytes of slack: whole words are stored, then cut back.
    out.resize(start + total + 16, 0);
    let buf = &mut out[start..];
    if width <= 16 && values.len().is_multiple_of(8) {
        // Eight values fill exactly `width` bytes: pack them in one word
        // (dictionary ids, definition levels and most miniblocks are this
        // narrow).
        let width = width as usize;
        for (group, at) in values.chunks_exact(8).zip((0..).step_by(width)) {
            if width <= 8 {
                let mut word = 0u64;
                for (k, &v) in group.iter().enumerate() {
                    word |= v.into() << (k * width);
                }
                buf[at..at + 8].copy_from_slice(&word.to_le_bytes());
            } else {
                let mut word = 0u128;
                for (k, &v) in group.iter().enumerate() {
                    word |= u128::from(v.into()) << (k * width);
                }
                buf[at..at + 16].copy_from_slice(&word.to_le_bytes());
            }
        }
        out.truncate(start + total);
        return;
    }
    let mut acc = 0u64;
    let mut bits = 0u32;
    let mut pos = 0;
    for &v in values {
        let v: u64 = v.into();
        acc |= v << bits;
        if bits + width >= 64 {
            buf[pos..pos + 8].copy_from_slice(&acc.to_le_bytes());
            pos += 8;
            acc = if bits == 0 { 0 } else { v >> (64 - bits) };
            bits = bits + width - 64;
        } else {
            bits += width;
        }
    }
    buf[pos..pos + 8].copy_from_slice(&acc.to_le_bytes());
    out.truncate(start + total);
}

fn bit_width(max: u64) -> u32 {
    64 - max.leading_zeros()
}

/// The RLE/bit-packing hybrid (definition levels, dictionary indices):
/// one RLE run when every value is the same, else bit-packed runs of at
/// most 63 groups of eight.
fn hybrid<T: Copy + Default + PartialEq + Into<u64>>(out: &mut Vec<u8>, values: &[T], width: u32) {
    let Some(&first) = values.first() else {
        return;
    };
    if values.iter().all(|&v| v == first) {
        varint(out, (values.len() as u64) << 1);
        out.extend_from_slice(&first.into().to_le_bytes()[..width.div_ceil(8) as usize]);
        return;
    }
    for run in values.chunks(63 * 8) {
        let groups = run.len().div_ceil(8);
        varint(out, (groups as u64) << 1 | 1);
        let full = run.len() / 8 * 8;
        bitpack(out, &run[..full], width);
        if full < run.len() {
            let mut last = [T::default(); 8];
            last[..run.len() - full].copy_from_slice(&run[full..]);
            bitpack(out, &last, width);
        }
    }
}

/// `DELTA_BINARY_PACKED` of `values` (128-value blocks of four
/// miniblocks). With `INT32`, deltas wrap in 32 bits as readers of an
/// `INT32` column compute them.
fn delta_binary_packed<const INT32: bool>(out: &mut Vec<u8>, values: &[i64]) {
    const BLOCK: usize = 128;
    const MINI: usize = 32;
    let delta = |v: i64, prev: i64| -> i64 {
        if INT32 {
            i64::from((v as i32).wrapping_sub(prev as i32))
        } else {
            v.wrapping_sub(prev)
        }
    };
    let first = values.first().copied().unwrap_or(0);
    varint(out, BLOCK as u64);
    varint(out, (BLOCK / MINI) as u64);
    varint(out, values.len() as u64);
    varint(out, zigzag(first));
    let mut deltas = [0i64; BLOCK];
    let mut packed = [0u64; BLOCK];
    let mut prev = first;
    for block in values.get(1..).unwrap_or_default().chunks(BLOCK) {
        let n = block.len();
        deltas[0] = delta(block[0], prev);
        for (d, pair) in deltas[1..].iter_mut().zip(block.windows(2)) {
            *d = delta(pair[1], pair[0]);
        }
        prev = block[n - 1];
        let min = deltas[..n].iter().copied().fold(i64::MAX, i64::min);
        varint(out, zigzag(min));
        for (p, &d) in packed.iter_mut().zip(&deltas[..n]) {
            *p = if INT32 {
                u64::from((d as i32).wrapping_sub(min as i32) as u32)
            } else {
                d.wrapping_sub(min) as u64
            };
        }
        // Padding of the last miniblock: zeros.
        let used = n.next_multiple_of(MINI);
        packed[n..used].fill(0);
        let widths_at = out.len();
        out.extend_from_slice(&[0; BLOCK / MINI]);
        for (m, mini) in packed[..used].chunks_exact(MINI).enumerate() {
            let width = bit_width(mini.iter().fold(0, |a, &b| a | b));
            out[widths_at + m] = width as u8;
            bitpack(out, mini, width);
        }
    }
}

/// A fast hash of a short byte string (dictionary lookups of patterns):
/// eight bytes per multiply.
fn hash_bytes(bytes: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h = bytes.len() as u64;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes(c.try_into().expect("eight bytes"));
        h = (h.rotate_left(5) ^ w).wrapping_mul(K);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        h = (h.rotate_left(5) ^ crate::prefix::tail_word(rest)).wrapping_mul(K);
    }
    h ^ (h >> 29)
}

/// Hashes a `u64` that already is a hash to itself.
#[derive(Default)]
struct NoHash(u64);

impl Hasher for NoHash {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A row group's dictionary of one text column. Entries are stored once,
/// plain-encoded as the dictionary page wants them, and found by a 64-bit
/// hash of their bytes, then compared with the stored copy.
#[derive(Default)]
struct Dictionary {
    plain: Vec<u8>,
    /// Where each entry's bytes are in `plain`.
    spans: Vec<(u32, u32)>,
    /// Entry ids by hash: entries stored as given (valid UTF-8), the first
    /// one of each hash.
    by_hash: HashMap<u64, u32, BuildHasherDefault<NoHash>>,
    /// The other entries (UTF-8 repaired, or their hash taken), by their
    /// bytes as given.
    others: HashMap<Box<[u8]>, u32>,
}

impl Dictionary {
    fn len(&self) -> u32 {
        self.spans.len() as u32
    }

    /// The id of `v`, added if new.
    #[inline]
    fn id(&mut self, v: &[u8]) -> u32 {
        let h = hash_bytes(v);
        if let Some(&id) = self.by_hash.get(&h) {
            let (start, len) = self.spans[id as usize];
            if self.plain.get(start as usize..(start + len) as usize) == Some(v) {
                return id;
            }
        }
        self.id_slow(v, h)
    }

    #[cold]
    fn id_slow(&mut self, v: &[u8], h: u64) -> u32 {
        if let Some(&id) = self.others.get(v) {
            return id;
        }
        let id = self.len();
        let text = String::from_utf8_lossy(v);
        self.plain
            .extend_from_slice(&(text.len() as u32).to_le_bytes());
        let start = self.plain.len() as u32;
        self.plain.extend_from_slice(text.as_bytes());
        self.spans.push((start, text.len() as u32));
        let as_given = matches!(text, std::borrow::Cow::Borrowed(_));
        if as_given && !self.by_hash.contains_key(&h) {
            self.by_hash.insert(h, id);
        } else {
            self.others.insert(v.into(), id);
        }
        id
    }

    fn clear(&mut self) {
        self.plain.clear();
        self.spans.clear();
        self.by_hash.clear();
        self.others.clear();
    }
}

/// Min and max of an integer column chunk.
#[derive(Clone, Copy, Debug, Default)]
struct MinMax {
    min: i64,
    max: i64,
    /// Any value seen.
    any: bool,
}

impl MinMax {
    fn add(&mut self, values: &[i64], unsigned: bool) {
        let Some(&first) = values.first() else {
            return;
        };
        if !self.any {
            *self = MinMax {
                min: first,
                max: first,
                any: true,
            };
        }
        // Unsigned values compare as signed ones with the top bit flipped.
        let flip = if unsigned { i64::MIN } else { 0 };
        let (lo, hi) = min_max(values, flip);
        let (min, max) = (self.min ^ flip, self.max ^ flip);
        self.min = min.min(lo) ^ flip;
        self.max = max.max(hi) ^ flip;
    }
}

/// The least and greatest of `values` (not empty), each XORed with
/// `flip`. Four lanes: one running minimum would be a chain of dependent
/// compares, one per value.
fn min_max(values: &[i64], flip: i64) -> (i64, i64) {
    let first = values[0] ^ flip;
    let mut lo = [first; 4];
    let mut hi = [first; 4];
    let mut quads = values.chunks_exact(4);
    for q in &mut quads {
        for k in 0..4 {
            let v = q[k] ^ flip;
            lo[k] = lo[k].min(v);
            hi[k] = hi[k].max(v);
        }
    }
    for &v in quads.remainder() {
        lo[0] = lo[0].min(v ^ flip);
        hi[0] = hi[0].max(v ^ flip);
    }
    (
        lo[0].min(lo[1]).min(lo[2].min(lo[3])),
        hi[0].max(hi[1]).max(hi[2].max(hi[3])),
    )
}

/// One column's encoder: the open page's values and the row group's
/// encoded pages.
struct Column {
    shape: Shape,
    nullable: bool,
    /// Pages of this column are compressed (else stored as they are).
    compressed: bool,
    /// Integer values of the open page (non-null ones).
    ints: Vec<i64>,
    /// Dictionary indices of the open page.
    ids: Vec<u32>,
    /// Plain-encoded bytes of the open page (the key).
    plain: Vec<u8>,
    /// Definition levels of the open page (nullable columns).
    defined: Vec<u8>,
    /// The row group's dictionary (text columns).
    dict: Dictionary,
    /// Dictionary ids by a caller's small index (type and encoding enums).
    by_index: Vec<u32>,
    /// Encoded data pages of the row group.
    pages: Vec<u8>,
    uncompressed: u64,
    min_max: MinMax,
    nulls: u64,
}

impl Column {
    fn new(shape: Shape, nullable: bool, compressed: bool) -> Column {
        Column {
            shape,
            nullable,
            compressed,
            ints: Vec::new(),
            ids: Vec::new(),
            plain: Vec::new(),
            defined: Vec::new(),
            dict: Dictionary::default(),
            by_index: Vec::new(),
            pages: Vec::new(),
            uncompressed: 0,
            min_max: MinMax::default(),
            nulls: 0,
        }
    }

    #[inline]
    fn int(&mut self, v: i64) {
        self.ints.push(v);
        if self.nullable {
            self.defined.push(1);
        }
    }

    #[inline]
    fn opt_int(&mut self, v: Option<i64>) {
        match v {
            Some(v) => self.int(v),
            None => {
                self.defined.push(0);
                self.nulls += 1;
            }
        }
    }

    #[inline]
    fn bytes(&mut self, v: &[u8]) {
        self.plain
            .extend_from_slice(&(v.len() as u32).to_le_bytes());
        self.plain.extend_from_slice(v);
    }

    #[inline]
    fn text(&mut self, v: &[u8]) {
        let id = self.dict.id(v);
        self.push_id(id);
    }

    /// A text whose value is fixed by `index` (an enum's position).
    #[inline]
    fn indexed_text(&mut self, index: usize, v: impl FnOnce() -> Vec<u8>) {
        let id = match self.by_index.get(index) {
            Some(&id) if id != u32::MAX => id,
            _ => self.index_entry(index, &v()),
        };
        self.push_id(id);
    }

    #[cold]
    fn index_entry(&mut self, index: usize, v: &[u8]) -> u32 {
        let id = self.dict.id(v);
        if self.by_index.len() <= index {
            self.by_index.resize(index + 1, u32::MAX);
        }
        self.by_index[index] = id;
        id
    }

    #[inline]
    fn push_id(&mut self, id: u32) {
        self.ids.push(id);
        if self.nullable {
            self.defined.push(1);
        }
    }

    /// Encodes the open page (`rows` rows) into `pages`.
    fn cut_page(
        &mut self,
        rows: usize,
        codec: &mut Compressor,
        body: &mut Vec<u8>,
        scratch: &mut Vec<u8>,
    ) -> Result<()> {
        if rows == 0 {
            return Ok(());
        }
        body.clear();
        if self.nullable {
            body.extend_from_slice(&[0; 4]);
            hybrid(body, &self.defined, 1);
            let n = (body.len() - 4) as u32;
            body[..4].copy_from_slice(&n.to_le_bytes());
            self.defined.clear();
        }
        let codec = self.compressed.then_some(codec);
        let encoding = match self.shape {
            Shape::Text => {
                let width = bit_width(u64::from(self.dict.len().saturating_sub(1))).max(1);
                body.push(width as u8);
                hybrid(body, &self.ids, width);
                self.ids.clear();
                ENC_RLE_DICTIONARY
            }
            Shape::Bytes if body.is_empty() => {
                // The key bytes go to the page (or codec) as they are.
                self.uncompressed += write_page(
                    &mut self.pages,
                    false,
                    rows,
                    ENC_PLAIN,
                    &self.plain,
                    codec,
                    scratch,
                )?;
                self.plain.clear();
                return Ok(());
            }
            Shape::Bytes => {
                body.extend_from_slice(&self.plain);
                self.plain.clear();
                ENC_PLAIN
            }
            Shape::I32 | Shape::U32 | Shape::I64 | Shape::U64 => {
                let unsigned = matches!(self.shape, Shape::U32 | Shape::U64);
                self.min_max.add(&self.ints, unsigned);
                match self.shape {
                    Shape::I32 | Shape::U32 => delta_binary_packed::<true>(body, &self.ints),
                    _ => delta_binary_packed::<false>(body, &self.ints),
                }
                self.ints.clear();
                ENC_DELTA_BINARY_PACKED
            }
        };
        self.uncompressed +=
            write_page(&mut self.pages, false, rows, encoding, body, codec, scratch)?;
        Ok(())
    }

    /// The finished column chunk; the column starts over empty.
    fn close(
        &mut self,
        rows: u64,
        codec: &mut Compressor,
        scratch: &mut Vec<u8>,
        compression: KeysCompression,
    ) -> Result<EncodedColumn> {
        let mut dictionary = Vec::new();
        let mut uncompressed = std::mem::take(&mut self.uncompressed);
        if self.shape == Shape::Text {
            uncompressed += write_page(
                &mut dictionary,
                true,
                self.dict.len() as usize,
                ENC_PLAIN,
                &self.dict.plain,
                self.compressed.then_some(codec),
                scratch,
            )?;
            self.dict.clear();
            self.by_index.clear();
        }
        let min_max = std::mem::take(&mut self.min_max);
        let nulls = std::mem::take(&mut self.nulls);
        let statistics = match self.shape {
            Shape::Text | Shape::Bytes => None,
            Shape::I32 | Shape::U32 => Some(Statistics::int32(
                min_max.any.then_some(min_max.min as i32),
                min_max.any.then_some(min_max.max as i32),
                None,
                Some(nulls),
                false,
            )),
            Shape::I64 | Shape::U64 => Some(Statistics::int64(
                min_max.any.then_some(min_max.min),
                min_max.any.then_some(min_max.max),
                None,
                Some(nulls),
                false,
            )),
        };
        let encodings = match self.shape {
            Shape::Text => vec![Encoding::PLAIN, Encoding::RLE, Encoding::RLE_DICTIONARY],
            Shape::Bytes => vec![Encoding::PLAIN, Encoding::RLE],
            _ => vec![Encoding::RLE, Encoding::DELTA_BINARY_PACKED],
        };
        Ok(EncodedColumn {
            dictionary,
            pages: std::mem::take(&mut self.pages),
            uncompressed,
            values: rows,
            encodings,
            statistics,
            compression: if self.compressed {
                compression.parquet()
            } else {
                Compression::UNCOMPRESSED
            },
        })
    }
}

/// One encoded column chunk: its pages and what the footer says of it.
#[derive(Debug)]
pub struct EncodedColumn {
    /// The dictionary page (header and body), empty if none; it goes
    /// first in the file.
    pub dictionary: Vec<u8>,
    /// The data pages (headers and bodies).
    pub pages: Vec<u8>,
    /// Uncompressed size, headers included.
    pub uncompressed: u64,
    /// Values (rows, nulls included).
    pub values: u64,
    /// Encodings used.
    pub encodings: Vec<Encoding>,
    /// Min, max and null count (integer columns).
    pub statistics: Option<Statistics>,
    /// The codec of its pages.
    pub compression: Compression,
}

/// One encoded `keys.parquet` row group: its column chunks, in schema order.
#[derive(Debug)]
pub struct EncodedRowGroup {
    /// The column chunks.
    pub columns: Vec<EncodedColumn>,
    /// Rows.
    pub rows: u64,
}

/// Spent column-chunk buffers, handed back by the file writer for the
/// encoders to fill again. Without them every encoded byte of
/// `keys.parquet` lands in memory fresh from the kernel, one page fault
/// per 4 KiB, row group after row group.
#[derive(Debug, Default)]
pub struct PageBuffers {
    /// Per column: buffers ready to be filled again (at most
    /// [`PageBuffers::PER_COLUMN`] each).
    free: Mutex<Vec<Vec<Vec<u8>>>>,
}

impl PageBuffers {
    /// Most buffers kept per column: about as many as are in flight at
    /// once (the writer's queue plus the row groups being filled). Kept
    /// buffers add to peak memory (10–15 MB on the benchmark file), but
    /// never more than this many per column, whatever the file size.
    pub const PER_COLUMN: usize = 4;

    /// Takes back a row group's spent buffers, in column order.
    pub fn give_back(&self, spent: Vec<Vec<u8>>) {
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        if free.len() < spent.len() {
            free.resize_with(spent.len(), Vec::new);
        }
        for (mut b, kept) in spent.into_iter().zip(free.iter_mut()) {
            if kept.len() < Self::PER_COLUMN && b.capacity() > 0 {
                b.clear();
                kept.push(b);
            }
        }
    }

    /// Gives each column whose page buffer was taken one kept buffer, if any.
    fn refill(&self, columns: &mut [Column]) {
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        for (c, kept) in columns.iter_mut().zip(free.iter_mut()) {
            if c.pages.capacity() == 0 {
                if let Some(b) = kept.pop() {
                    c.pages = b;
                }
            }
        }
    }
}

/// A worker's share of `keys.parquet`: rows go straight into the columns'
/// page buffers; a full page is encoded (and compressed) into the
/// worker's open row group, and a full row group comes out of
/// [`KeysEncoder::append`] or [`KeysEncoder::finish`] ready for the file
/// writer.
///
/// With Snappy or LZ4 only the key column is compressed: delta-packed
/// integers and dictionary indices are already dense, and those codecs
/// gained nothing on them. Zstd, chosen for size, compresses every column.
pub struct KeysEncoder {
    compression: KeysCompression,
    codec: Compressor,
    columns: Box<[Column; COLUMNS.len()]>,
    page_rows: usize,
    group_rows: u64,
    /// Encoded bytes of the open row group.
    group_bytes: usize,
    body: Vec<u8>,
    scratch: Vec<u8>,
    /// Rows are kept until [`KeysEncoder::release`], and the `db`
    /// column's values stay open so that [`KeysEncoder::set_db`] can
    /// change them (rows read before their database was known).
    held: bool,
    /// Where page buffers come back from the file writer, if anywhere.
    page_buffers: Option<Arc<PageBuffers>>,
    /// The numbering of the pattern slots in the prefix column's
    /// `by_index` ([`PatternSlot::epoch`]).
    prefix_epoch: u64,
}

impl std::fmt::Debug for KeysEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeysEncoder")
            .field("compression", &self.compression)
            .field("group_rows", &self.group_rows)
            .finish_non_exhaustive()
    }
}

const KEY: usize = 2;

impl KeysEncoder {
    /// An encoder whose pages use `compression`.
    pub fn new(compression: KeysCompression) -> KeysEncoder {
        let every_column = compression == KeysCompression::Zstd;
        let columns = std::array::from_fn(|i| {
            let (_, _, nullable, shape) = &COLUMNS[i];
            Column::new(*shape, *nullable, every_column || i == KEY)
        });
        KeysEncoder {
            compression,
            codec: Compressor::new(compression),
            columns: Box::new(columns),
            page_rows: 0,
            group_rows: 0,
            group_bytes: 0,
            body: Vec::new(),
            scratch: Vec::new(),
            held: false,
            page_buffers: None,
            prefix_epoch: u64::MAX,
        }
    }

    /// This encoder takes its page buffers from `buffers` (where the file
    /// writer gives them back) when it can.
    pub fn with_page_buffers(mut self, buffers: Arc<PageBuffers>) -> KeysEncoder {
        self.page_buffers = Some(buffers);
        self
    }

    /// Makes a finished encoder (every row gone by
    /// [`KeysEncoder::finish`]) ready for new rows, held or not: its
    /// buffers are used again.
    pub fn reuse(&mut self, held: bool) {
        debug_assert!(
            self.page_rows == 0 && self.group_rows == 0,
            "reuse of an encoder with rows"
        );
        self.held = held;
    }

    /// An encoder whose rows stay with it until [`KeysEncoder::release`]:
    /// [`KeysEncoder::append`] returns no row group, and the `db` column
    /// is not encoded, so that [`KeysEncoder::set_db`] can still set it.
    pub fn held(compression: KeysCompression) -> KeysEncoder {
        KeysEncoder {
            held: true,
            ..KeysEncoder::new(compression)
        }
    }

    /// Sets the database of every row appended so far (a held encoder's
    /// rows all read before their database was known).
    pub fn set_db(&mut self, db: u64) {
        debug_assert!(self.held, "set_db on an encoder that is not held");
        let db = i64::from(i32::try_from(db).unwrap_or(i32::MAX));
        self.columns[DB].ints.iter_mut().for_each(|v| *v = db);
    }

    /// Ends holding: the rows may leave by [`KeysEncoder::finish`].
    pub fn release(&mut self) -> Result<()> {
        if !std::mem::take(&mut self.held) {
            return Ok(());
        }
        // The db values of the rows whose other columns are already in
        // pages: encoded now, in pages of at most PAGE_ROWS.
        let c = &mut self.columns[DB];
        let done = c.ints.len() - self.page_rows;
        let all = std::mem::take(&mut c.ints);
        for page in all[..done].chunks(PAGE_ROWS) {
            c.ints.extend_from_slice(page);
            c.cut_page(
                page.len(),
                &mut self.codec,
                &mut self.body,
                &mut self.scratch,
            )?;
        }
        c.ints.extend_from_slice(&all[done..]);
        Ok(())
    }

    /// Appends the row of one key, whose pattern is `prefix`
    /// ([`crate::prefix::PrefixConfig::template`]; invalid UTF-8 is
    /// repaired) and numbered `slot` if known
    /// ([`crate::prefix::PrefixAcc::add`]: then it is not hashed again);
    /// returns a row group when one is full.
    pub fn append(
        &mut self,
        source: &str,
        f: &KeyFacts<'_>,
        memory_bytes: u64,
        prefix: &[u8],
        slot: Option<PatternSlot>,
    ) -> Result<Option<EncodedRowGroup>> {
        let c = &mut *self.columns;
        c[SOURCE].indexed_text(0, || source.as_bytes().to_vec());
        c[DB].int(i64::from(i32::try_from(f.db).unwrap_or(i32::MAX)));
        c[KEY].bytes(f.key);
        match f.module {
            Some(_) => c[TYPE].text(f.type_name().as_bytes()),
            None => c[TYPE].indexed_text(f.kind as usize, || f.kind.name().as_bytes().to_vec()),
        }
        c[ENCODING].indexed_text(f.encoding as usize, || {
            f.encoding.as_str().as_bytes().to_vec()
        });
        c[RDB_BYTES].int(f.rdb_bytes as i64);
        c[MEMORY_BYTES].int(memory_bytes as i64);
        c[ELEMENTS].int(f.elements as i64);
        c[MAX_ELEMENT_BYTES].int(f.max_element_bytes as i64);
        c[EXPIRE_AT_MS].opt_int(f.expire_at_ms);
        c[IDLE_SECONDS].opt_int(f.idle_seconds.map(|v| v as i64));
        c[LFU_FREQ].opt_int(f.lfu_freq.map(i64::from));
        c[SLOT].int(i64::from(f.slot));
        match slot {
            Some(s) => {
                if s.epoch != self.prefix_epoch {
                    c[PREFIX].by_index.clear();
                    self.prefix_epoch = s.epoch;
                }
                c[PREFIX].indexed_text(s.index as usize, || prefix.to_vec());
            }
            None => c[PREFIX].text(prefix),
        }
        self.page_rows += 1;
        if self.page_rows < PAGE_ROWS && c[KEY].plain.len() < PAGE_KEY_BYTES {
            return Ok(None);
        }
        self.cut_page()?;
        if self.held {
            Ok(None)
        } else if self.group_rows >= ROW_GROUP_ROWS as u64
            || self.group_bytes >= WORKER_ROW_GROUP_BYTES
        {
            self.close_group().map(Some)
        } else {
            Ok(None)
        }
    }

    /// Encodes the pending rows and closes the row group, if any rows.
    pub fn finish(&mut self) -> Result<Option<EncodedRowGroup>> {
        self.release()?;
        self.cut_page()?;
        if self.group_rows == 0 {
            return Ok(None);
        }
        self.close_group().map(Some)
    }

    fn cut_page(&mut self) -> Result<()> {
        let rows = std::mem::take(&mut self.page_rows);
        if rows == 0 {
            return Ok(());
        }
        let held = self.held;
        for (i, c) in self.columns.iter_mut().enumerate() {
            if held && i == DB {
                continue;
            }
            c.cut_page(rows, &mut self.codec, &mut self.body, &mut self.scratch)?;
        }
        self.group_rows += rows as u64;
        // Dictionaries count too: a file of unique long patterns must not
        // grow one without bound.
        self.group_bytes = self
            .columns
            .iter()
            .map(|c| c.pages.len() + c.dict.plain.len())
            .sum();
        Ok(())
    }

    fn close_group(&mut self) -> Result<EncodedRowGroup> {
        let rows = std::mem::take(&mut self.group_rows);
        self.group_bytes = 0;
        let columns = self
            .columns
            .iter_mut()
            .map(|c| c.close(rows, &mut self.codec, &mut self.scratch, self.compression))
            .collect::<Result<Vec<_>>>()?;
        if let Some(b) = &self.page_buffers {
            b.refill(&mut self.columns[..]);
        }
        Ok(EncodedRowGroup { columns, rows })
    }
}

#[cfg(test)]
mod tests {
    use std::fs::File;

    use arrow_array::cast::AsArray;
    use arrow_array::types::{Int32Type, Int64Type, UInt16Type, UInt64Type, UInt8Type};
    use arrow_array::{Array, RecordBatch};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use rdb_parser::{Kind, ModuleId, ValueType};

    use super::*;
    use crate::facts::ObjEncoding;
    use crate::output::parquet::KeysFileWriter;
    use crate::prefix::{KeyStat, PrefixAcc, PrefixConfig, Separators};
    use crate::testutil::TempDir;

    /// Reads a bit-packed stream back, LSB first, one bit at a time.
    fn unpack(bytes: &[u8], width: u32, n: usize) -> Vec<u64> {
        (0..n)
            .map(|i| {
                let mut v = 0u64;
                for b in 0..width as usize {
                    let bit = i * width as usize + b;
                    if bytes[bit / 8] >> (bit % 8) & 1 == 1 {
                        v |= 1 << b;
                    }
                }
                v
            })
            .collect()
    }

    /// A deterministic pseudo-random sequence.
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 ^ (self.0 >> 29)
        }
    }

    #[test]
    fn bitpack_matches_a_bit_by_bit_reader() {
        let mut rng = Lcg(7);
        for width in 0..=64u32 {
            // 12 values: not whole groups of eight (the general loop).
            for n in [8usize, 32, 64, 200, 12] {
                if !(n * width as usize).is_multiple_of(8) {
                    continue;
                }
                let values: Vec<u64> = (0..n)
                    .map(|_| match width {
                        64 => rng.next(),
                        w => rng.next() & ((1u64 << w) - 1),
                    })
                    .collect();
                let mut out = vec![0xAA]; // appends after what is there
                bitpack(&mut out, &values, width);
                assert_eq!(out.len(), 1 + n * width as usize / 8, "width {width}");
                assert_eq!(out[0], 0xAA);
                assert_eq!(unpack(&out[1..], width, n), values, "width {width}");
            }
        }
    }

    #[test]
    fn min_max_equals_a_plain_scan_signed_and_unsigned() {
        let mut rng = Lcg(11);
        for n in [1usize, 3, 4, 5, 8, 127, 4096] {
            for spread in [0u32, 8, 40, 64] {
                let draw = |rng: &mut Lcg| match spread {
                    0 => 42,
                    64 => rng.next() as i64,
                    s => (rng.next() >> (64 - s)) as i64 - (1 << (s - 1)),
                };
                // Two pages into one chunk, as the column adds them.
                let a: Vec<i64> = (0..n).map(|_| draw(&mut rng)).collect();
                let b: Vec<i64> = (0..n / 2 + 1).map(|_| draw(&mut rng)).collect();
                let all: Vec<i64> = a.iter().chain(&b).copied().collect();
                let mut signed = MinMax::default();
                signed.add(&a, false);
                signed.add(&b, false);
                assert_eq!(
                    signed.min,
                    *all.iter().min().unwrap(),
                    "n {n} spread {spread}"
                );
                assert_eq!(
                    signed.max,
                    *all.iter().max().unwrap(),
                    "n {n} spread {spread}"
                );
                let mut unsigned = MinMax::default();
                unsigned.add(&a, true);
                unsigned.add(&b, true);
                let u = |v: &i64| *v as u64;
                assert_eq!(unsigned.min as u64, all.iter().map(u).min().unwrap());
                assert_eq!(unsigned.max as u64, all.iter().map(u).max().unwrap());
            }
        }
    }

    #[test]
    fn thrift_field_ids_past_fifteen_use_the_long_form() {
        let mut out = Vec::new();
        let mut t = Thrift::new(&mut out);
        t.i32(1, -1);
        t.i32(20, 300);
        t.end();
        // Short form: delta 1, type i32 (0x15), zigzag(-1) = 1. Long form:
        // the type byte, zigzag(20) = 40, then zigzag(300) = 600 as a
        // varint; stop.
        assert_eq!(out, [0x15, 0x01, 0x05, 40, 0xd8, 0x04, 0x00]);
    }

    /// One row as written and as read back.
    #[derive(Clone, Debug, PartialEq)]
    struct Row {
        db: i32,
        key: Vec<u8>,
        kind: String,
        encoding: String,
        rdb_bytes: u64,
        memory_bytes: u64,
        elements: u64,
        max_element_bytes: u64,
        expire_at_ms: Option<i64>,
        idle_seconds: Option<u64>,
        lfu_freq: Option<u8>,
        slot: u16,
        prefix: String,
    }

    const KINDS: [Kind; 7] = [
        Kind::String,
        Kind::List,
        Kind::Set,
        Kind::Zset,
        Kind::Hash,
        Kind::Stream,
        Kind::Module,
    ];
    const ENCODINGS: [ObjEncoding; 6] = [
        ObjEncoding::Int,
        ObjEncoding::Embstr,
        ObjEncoding::Listpack,
        ObjEncoding::Hashtable,
        ObjEncoding::Skiplist,
        ObjEncoding::Module,
    ];

    /// Writes `n` generated rows with `compression` (pages of every shape:
    /// extreme integers, wrapping deltas, runs of nulls, thousands of
    /// patterns, invalid UTF-8, module types, a huge key), reads them back
    /// with the `parquet` crate's Arrow reader and compares every value.
    fn round_trip(n: usize, compression: KeysCompression, seed: u64) {
        round_trip_with(n, compression, seed, None)
    }

    /// [`round_trip`]; with `held_db`, the encoder holds its rows, then
    /// all are given that database.
    fn round_trip_with(n: usize, compression: KeysCompression, seed: u64, held_db: Option<u64>) {
        let enc = match held_db {
            Some(_) => KeysEncoder::held(compression),
            None => KeysEncoder::new(compression),
        };
        round_trip_numbered(enc, None, n, compression, seed, held_db, None);
    }

    /// Numbers the patterns of [`round_trip_numbered`]'s rows as a worker's
    /// accumulator does: from a [`PrefixAcc`] that is merged with others
    /// now and then (its numbering changes), and at row `coarsen_at` with
    /// one of many patterns: it coarsens, and patterns go unnumbered.
    struct Numbering {
        acc: PrefixAcc,
        rows: usize,
        coarsen_at: usize,
        numbered: usize,
        rounds: usize,
    }

    impl Numbering {
        fn new(coarsen_at: usize) -> Numbering {
            Numbering {
                acc: Numbering::acc(),
                rows: 0,
                coarsen_at,
                numbered: 0,
                rounds: 0,
            }
        }

        fn acc() -> PrefixAcc {
            PrefixAcc::new(PrefixConfig::new(&Separators::default(), 5000, 8))
        }

        fn slot(&mut self, pattern: &[u8]) -> Option<PatternSlot> {
            self.rows += 1;
            if self.rows == self.coarsen_at {
                let mut many = Numbering::acc();
                for i in 0..3000 {
                    many.add(format!("zz{i}").as_bytes(), &Numbering::stat());
                }
                self.acc.merge(many);
            }
            if self.rows.is_multiple_of(7000) {
                // One with every pattern there can be, numbered in
                // another order, and more: the maps swap and the patterns
                // held are numbered anew.
                self.rounds += 1;
                let mut other = Numbering::acc();
                for i in (0..3000).rev() {
                    other.add(format!("user:*:{i}").as_bytes(), &Numbering::stat());
                }
                for b in (0..=255u8).rev() {
                    other.add(&[b'p', 0xff, b], &Numbering::stat());
                }
                for i in 0..self.rounds {
                    other.add(format!("extra{i}").as_bytes(), &Numbering::stat());
                }
                self.acc.merge(other);
            }
            let slot = self.acc.add(pattern, &Numbering::stat());
            self.numbered += usize::from(slot.is_some());
            slot
        }

        fn stat() -> KeyStat {
            KeyStat {
                kind: Kind::String,
                memory_bytes: 1,
                rdb_bytes: 1,
                has_ttl: false,
                bucket: crate::analyzer::ExpiryBucket::NoTtl,
            }
        }
    }

    /// [`round_trip_with`] by `enc`; the writer gives its spent buffers
    /// back to `buffers`, and patterns are numbered by `numbering`, if
    /// given. Returns `enc`, finished.
    fn round_trip_numbered(
        mut enc: KeysEncoder,
        buffers: Option<&PageBuffers>,
        n: usize,
        compression: KeysCompression,
        seed: u64,
        held_db: Option<u64>,
        mut numbering: Option<&mut Numbering>,
    ) -> KeysEncoder {
        let dir = TempDir::new("keys-encoder");
        let path = dir.0.join("keys.parquet");
        let mut rng = Lcg(seed);
        let mut written = Vec::new();
        let mut writer = KeysFileWriter::create(&path).unwrap();
        let append = |writer: &mut KeysFileWriter, g| {
            let spent = writer.append(g).unwrap();
            if let Some(b) = buffers {
                b.give_back(spent);
            }
        };
        let huge_key = vec![b'h'; PAGE_KEY_BYTES + 10];
        for i in 0..n {
            let r = rng.next();
            let key: Vec<u8> = match i {
                5 => huge_key.clone(),
                _ => format!("user:{}:{}", r % 5000, i).into_bytes(),
            };
            let kind = KINDS[(r >> 8) as usize % KINDS.len()];
            let module = (kind == Kind::Module).then_some(ModuleId((r >> 20) & 0xffff_ffff << 10));
            let extreme = |x: u64| match x % 7 {
                0 => 0,
                1 => u64::MAX,
                2 => i64::MAX as u64,
                3 => 1 << 63,
                _ => x >> (x % 64),
            };
            let facts = KeyFacts {
                db: match r % 50 {
                    0 => u64::MAX, // clamped to i32::MAX
                    x => x % 16,
                },
                key: &key,
                kind,
                value_type: ValueType::String,
                module,
                encoding: ENCODINGS[(r >> 12) as usize % ENCODINGS.len()],
                rdb_bytes: extreme(rng.next()),
                elements: rng.next() % 1000,
                max_element_bytes: rng.next() >> 40,
                memory_bytes: 0,
                // Long runs of nulls, then of values.
                expire_at_ms: match (i / 3000) % 3 {
                    0 => None,
                    1 => Some(match rng.next() % 5 {
                        0 => i64::MIN,
                        1 => i64::MAX,
                        _ => 1_700_000_000_000 + (rng.next() % 1_000_000) as i64,
                    }),
                    _ => r.is_multiple_of(2).then_some(-(r as i64 >> 3)),
                },
                idle_seconds: r.is_multiple_of(3).then(|| extreme(r)),
                lfu_freq: (!r.is_multiple_of(5)).then_some((r >> 30) as u8),
                slot: (r >> 40) as u16 & 0x3fff,
                hash_tag: None,
            };
            let memory = extreme(r >> 3);
            let prefix: Vec<u8> = match r % 11 {
                0 => vec![b'p', 0xff, (r >> 50) as u8],
                _ => format!("user:*:{}", r % 3000).into_bytes(),
            };
            written.push(Row {
                db: i32::try_from(facts.db).unwrap_or(i32::MAX),
                key: key.clone(),
                kind: facts.type_name(),
                encoding: facts.encoding.as_str().to_owned(),
                rdb_bytes: facts.rdb_bytes,
                memory_bytes: memory,
                elements: facts.elements,
                max_element_bytes: facts.max_element_bytes,
                expire_at_ms: facts.expire_at_ms,
                idle_seconds: facts.idle_seconds,
                lfu_freq: facts.lfu_freq,
                slot: facts.slot,
                prefix: String::from_utf8_lossy(&prefix).into_owned(),
            });
            let slot = numbering.as_mut().and_then(|n| n.slot(&prefix));
            if let Some(g) = enc
                .append("src.rdb", &facts, memory, &prefix, slot)
                .unwrap()
            {
                assert!(held_db.is_none(), "a held encoder let a row group go");
                append(&mut writer, g);
            }
        }
        if let Some(db) = held_db {
            enc.set_db(db);
            for w in &mut written {
                w.db = i32::try_from(db).unwrap_or(i32::MAX);
            }
        }
        if let Some(g) = enc.finish().unwrap() {
            append(&mut writer, g);
        }
        assert_eq!(writer.close().unwrap(), n as u64);

        let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap()).unwrap();
        assert_eq!(*reader.schema(), keys_schema());
        let meta = reader.metadata().clone();
        let batches: Vec<RecordBatch> = reader.build().unwrap().map(|b| b.unwrap()).collect();
        let mut read = Vec::new();
        for b in &batches {
            let src = b.column(0).as_string::<i32>();
            let c = |i: usize| b.column(i);
            for i in 0..b.num_rows() {
                assert_eq!(src.value(i), "src.rdb");
                let opt = |col: &dyn Array| col.is_valid(i);
                read.push(Row {
                    db: c(1).as_primitive::<Int32Type>().value(i),
                    key: c(2).as_binary::<i32>().value(i).to_vec(),
                    kind: c(3).as_string::<i32>().value(i).to_owned(),
                    encoding: c(4).as_string::<i32>().value(i).to_owned(),
                    rdb_bytes: c(5).as_primitive::<UInt64Type>().value(i),
                    memory_bytes: c(6).as_primitive::<UInt64Type>().value(i),
                    elements: c(7).as_primitive::<UInt64Type>().value(i),
                    max_element_bytes: c(8).as_primitive::<UInt64Type>().value(i),
                    expire_at_ms: opt(c(9).as_ref())
                        .then(|| c(9).as_primitive::<Int64Type>().value(i)),
                    idle_seconds: opt(c(10).as_ref())
                        .then(|| c(10).as_primitive::<UInt64Type>().value(i)),
                    lfu_freq: opt(c(11).as_ref())
                        .then(|| c(11).as_primitive::<UInt8Type>().value(i)),
                    slot: c(12).as_primitive::<UInt16Type>().value(i),
                    prefix: c(13).as_string::<i32>().value(i).to_owned(),
                });
            }
        }
        assert_eq!(read.len(), written.len());
        for (i, (r, w)) in read.iter().zip(&written).enumerate() {
            assert_eq!(r, w, "row {i}");
        }

        // The footer's statistics agree with the values.
        let mut rows = 0;
        for rg in meta.row_groups() {
            let range = rows..rows + rg.num_rows() as usize;
            rows = range.end;
            let part = &written[range];
            let stats = rg.column(MEMORY_BYTES).statistics().unwrap();
            let (lo, hi) = part.iter().fold((u64::MAX, 0), |(lo, hi), r| {
                (lo.min(r.memory_bytes), hi.max(r.memory_bytes))
            });
            assert_eq!(stats.min_bytes_opt().unwrap(), lo.to_le_bytes());
            assert_eq!(stats.max_bytes_opt().unwrap(), hi.to_le_bytes());
            let nulls = part.iter().filter(|r| r.expire_at_ms.is_none()).count();
            let stats = rg.column(EXPIRE_AT_MS).statistics().unwrap();
            assert_eq!(stats.null_count_opt(), Some(nulls as u64));
            assert_eq!(rg.column(KEY).compression(), compression.parquet());
        }
        assert_eq!(rows, n);
        enc
    }

    #[test]
    fn numbered_patterns_read_back_though_their_numbering_changes() {
        let n = ROW_GROUP_ROWS + 30_000;
        let mut numbering = Numbering::new(n - 20_000);
        round_trip_numbered(
            KeysEncoder::new(KeysCompression::Snappy),
            None,
            n,
            KeysCompression::Snappy,
            77,
            None,
            Some(&mut numbering),
        );
        // Numbered until the accumulator coarsened, not after.
        assert!(numbering.acc.level() < 8, "never coarsened");
        assert_eq!(numbering.numbered, n - 20_001);
    }

    #[test]
    fn an_encoder_used_again_on_written_buffers_writes_every_value() {
        // Row groups of a held encoder, then of a free one, then held
        // again: each file reads back whole, though the encoder's state
        // and page buffers (given back by the writer, some a row group
        // in size) were used before.
        let buffers = Arc::new(PageBuffers::default());
        let mut enc =
            KeysEncoder::held(KeysCompression::Snappy).with_page_buffers(Arc::clone(&buffers));
        let mut reused = 0;
        for (i, (n, held_db)) in [
            (PAGE_ROWS * 2 + 3, Some(4)),
            (ROW_GROUP_ROWS + PAGE_ROWS + 1, None),
            (PAGE_ROWS + 9, Some(1)),
            (70_000, None),
        ]
        .into_iter()
        .enumerate()
        {
            enc.reuse(held_db.is_some());
            let before: usize = enc.columns.iter().map(|c| c.pages.capacity()).sum();
            reused += usize::from(before > 0);
            enc = round_trip_numbered(
                enc,
                Some(&buffers),
                n,
                KeysCompression::Snappy,
                i as u64 + 40,
                held_db,
                None,
            );
        }
        assert!(reused >= 2, "page buffers were used again {reused} times");
    }

    #[test]
    fn every_value_reads_back_with_each_codec() {
        for (i, c) in [
            KeysCompression::Snappy,
            KeysCompression::Zstd,
            KeysCompression::Lz4,
            KeysCompression::None,
        ]
        .into_iter()
        .enumerate()
        {
            round_trip(40_000, c, i as u64 + 1);
        }
    }

    #[test]
    fn held_rows_take_the_database_set_later() {
        // Several pages of rows, and a row group's worth, held back.
        for (n, db) in [
            (1, 3),
            (PAGE_ROWS * 3 + 5, 7),
            (ROW_GROUP_ROWS + 10, u64::MAX),
        ] {
            round_trip_with(n, KeysCompression::Snappy, n as u64, Some(db));
        }
    }

    #[test]
    fn tiny_and_exact_page_sizes_read_back() {
        for n in [
            1,
            2,
            7,
            8,
            9,
            127,
            128,
            129,
            PAGE_ROWS - 1,
            PAGE_ROWS,
            PAGE_ROWS + 1,
        ] {
            round_trip(n, KeysCompression::Snappy, n as u64);
        }
    }

    #[test]
    fn unique_long_patterns_close_row_groups_early() {
        // Dictionaries count toward the row group's size: a million
        // unique kilobyte patterns must not pile up in one dictionary.
        let key = b"k".to_vec();
        let facts = KeyFacts {
            db: 0,
            key: &key,
            kind: Kind::String,
            value_type: ValueType::String,
            module: None,
            encoding: ObjEncoding::Embstr,
            rdb_bytes: 1,
            elements: 1,
            max_element_bytes: 1,
            memory_bytes: 0,
            expire_at_ms: None,
            idle_seconds: None,
            lfu_freq: None,
            slot: 0,
            hash_tag: None,
        };
        let mut enc = KeysEncoder::new(KeysCompression::None);
        let mut pattern = vec![b'x'; 1024];
        let mut first_group = None;
        for i in 0..(3 * WORKER_ROW_GROUP_BYTES / 1024) {
            pattern[..8].copy_from_slice(&(i as u64).to_le_bytes());
            if let Some(g) = enc.append("s", &facts, 1, &pattern, None).unwrap() {
                first_group = Some(g.rows);
                break;
            }
        }
        let rows = first_group.expect("a row group closed") as usize;
        assert!(rows * 1024 >= WORKER_ROW_GROUP_BYTES, "{rows}");
        assert!(rows * 1024 < 2 * WORKER_ROW_GROUP_BYTES, "{rows}");
    }

    #[test]
    fn schema_shapes_match_the_parquet_physical_types() {
        use parquet::basic::Type as Physical;
        let dir = TempDir::new("keys-schema");
        let w = KeysFileWriter::create(&dir.0.join("k.parquet")).unwrap();
        for (descr, (name, _, nullable, shape)) in w.columns().iter().zip(COLUMNS.iter()) {
            assert_eq!(descr.name(), *name);
            assert_eq!(descr.max_def_level() == 1, *nullable, "{name}");
            let physical = match shape {
                Shape::Text | Shape::Bytes => Physical::BYTE_ARRAY,
                Shape::I32 | Shape::U32 => Physical::INT32,
                Shape::I64 | Shape::U64 => Physical::INT64,
            };
            assert_eq!(descr.physical_type(), physical, "{name}");
        }
        assert_eq!(w.columns().len(), COLUMNS.len());
    }
}
