//! One column's encoder ([`Column`]: the open page's values, the row
//! group's encoded pages) and the encoded column chunks and row groups it
//! produces.

use parquet::basic::{Compression, Encoding};
use parquet::file::statistics::Statistics;

use super::compression::{Compressor, KeysCompression};
use super::dictionary::Dictionary;
use super::pack::{bit_width, encode_ints, hybrid, MinMax};
use super::page::{write_page, ENC_DELTA_BINARY_PACKED, ENC_PLAIN, ENC_RLE_DICTIONARY};
use crate::error::Result;

/// How a column is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Shape {
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

/// Most rows in one page: at 4096 a page's raw values (about half a
/// megabyte per worker) stay in a core's L2 cache between being appended
/// and being encoded; 16384 spilled them to L3 and cost 5 %. The open
/// page's values are stored by row in arrays of this size.
pub const PAGE_ROWS: usize = 4 * 1024;
const ROWS: usize = PAGE_ROWS;
const _: () = assert!(ROWS.is_power_of_two());

/// A page's values, stored by row: room for a whole page from the start,
/// so that appending a row's value is one store at the row's index (a
/// `Vec` push loads and stores its length and checks its capacity, column
/// after column, row after row).
pub(super) type ByRow<T> = Box<[T; ROWS]>;

fn by_row<T: Copy + Default>() -> ByRow<T> {
    vec![T::default(); ROWS]
        .into_boxed_slice()
        .try_into()
        .unwrap_or_else(|_| unreachable!("a slice of ROWS values"))
}

/// `row` as an index the compiler sees is in bounds (rows of a page are
/// fewer than [`ROWS`]: the encoder cuts the page before).
#[inline(always)]
fn at(row: usize) -> usize {
    debug_assert!(row < ROWS, "row {row} of a page of {ROWS}");
    row & (ROWS - 1)
}

/// One column's encoder: the open page's values and the row group's
/// encoded pages.
pub(super) struct Column {
    shape: Shape,
    nullable: bool,
    /// Pages of this column are compressed (else stored as they are).
    compressed: bool,
    /// Integer values of the open page, by row (0 where null).
    pub(super) ints: ByRow<i64>,
    /// Dictionary indices of the open page, by row.
    ids: ByRow<u32>,
    /// Plain-encoded bytes of the open page (the key).
    pub(super) plain: Vec<u8>,
    /// Definition levels of the open page, by row (nullable columns).
    defined: ByRow<u8>,
    /// The open page's values that are not null, gathered to be encoded.
    gathered_ints: Vec<i64>,
    gathered_ids: Vec<u32>,
    /// The row group's dictionary (text columns).
    pub(super) dict: Dictionary,
    /// Dictionary ids by a caller's small index (type and encoding enums).
    pub(super) by_index: Vec<u32>,
    /// Encoded data pages of the row group.
    pub(super) pages: Vec<u8>,
    uncompressed: u64,
    min_max: MinMax,
    nulls: u64,
    /// Nulls in the open page.
    page_nulls: usize,
}

impl Column {
    pub(super) fn new(shape: Shape, nullable: bool, compressed: bool) -> Column {
        Column {
            shape,
            nullable,
            compressed,
            ints: by_row(),
            ids: by_row(),
            plain: Vec::new(),
            defined: by_row(),
            gathered_ints: Vec::new(),
            gathered_ids: Vec::new(),
            dict: Dictionary::default(),
            by_index: Vec::new(),
            pages: Vec::new(),
            uncompressed: 0,
            min_max: MinMax::default(),
            nulls: 0,
            page_nulls: 0,
        }
    }

    /// The value at `row` of a column that is never null. The appends are
    /// told whether their column is nullable (`NULLABLE`, checked in
    /// debug builds), not read from the column row after row.
    #[inline]
    pub(super) fn int(&mut self, row: usize, v: i64) {
        debug_assert!(!self.nullable, "int() on a nullable column");
        self.ints[at(row)] = v;
    }

    /// The value, or null, at `row` of a nullable column.
    #[inline]
    pub(super) fn opt_int(&mut self, row: usize, v: Option<i64>) {
        debug_assert!(self.nullable, "opt_int() on a column never null");
        self.ints[at(row)] = v.unwrap_or(0);
        self.defined[at(row)] = u8::from(v.is_some());
        self.page_nulls += usize::from(v.is_none());
    }

    #[inline]
    pub(super) fn bytes(&mut self, v: &[u8]) {
        self.plain
            .extend_from_slice(&(v.len() as u32).to_le_bytes());
        self.plain.extend_from_slice(v);
    }

    #[inline]
    pub(super) fn text<const NULLABLE: bool>(&mut self, row: usize, v: &[u8]) {
        let id = self.dict.id(v);
        self.set_id::<NULLABLE>(row, id);
    }

    /// A text whose value is fixed by `index` (an enum's position).
    #[inline]
    pub(super) fn indexed_text<const NULLABLE: bool>(
        &mut self,
        row: usize,
        index: usize,
        v: impl FnOnce() -> Vec<u8>,
    ) {
        let id = match self.by_index.get(index) {
            Some(&id) if id != u32::MAX => id,
            _ => self.index_entry(index, &v()),
        };
        self.set_id::<NULLABLE>(row, id);
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
    fn set_id<const NULLABLE: bool>(&mut self, row: usize, id: u32) {
        debug_assert_eq!(self.nullable, NULLABLE, "a text column's nullability");
        self.ids[at(row)] = id;
        if NULLABLE {
            self.defined[at(row)] = 1;
        }
    }

    /// Encodes the open page (`rows` rows) into `pages`.
    pub(super) fn cut_page(
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
        // Rows with a value (not null).
        let present = rows - std::mem::take(&mut self.page_nulls);
        if self.nullable {
            body.extend_from_slice(&[0; 4]);
            hybrid(body, &self.defined[..rows], 1);
            let n = (body.len() - 4) as u32;
            body[..4].copy_from_slice(&n.to_le_bytes());
            self.nulls += (rows - present) as u64;
        }
        let codec = self.compressed.then_some(codec);
        let encoding = match self.shape {
            Shape::Text => {
                let width = bit_width(u64::from(self.dict.len().saturating_sub(1))).max(1);
                body.push(width as u8);
                let ids = present_values(
                    &mut self.gathered_ids,
                    &self.ids[..rows],
                    &self.defined[..rows],
                    present,
                );
                hybrid(body, ids, width);
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
                let values = present_values(
                    &mut self.gathered_ints,
                    &self.ints[..rows],
                    &self.defined[..rows],
                    present,
                );
                int_body(self.shape, values, body, &mut self.min_max);
                ENC_DELTA_BINARY_PACKED
            }
        };
        self.uncompressed +=
            write_page(&mut self.pages, false, rows, encoding, body, codec, scratch)?;
        Ok(())
    }

    /// Encodes `values` into `pages`: a page of a column that is never
    /// null, given apart from the open page (a held encoder's databases).
    pub(super) fn cut_int_page(
        &mut self,
        values: &[i64],
        codec: &mut Compressor,
        body: &mut Vec<u8>,
        scratch: &mut Vec<u8>,
    ) -> Result<()> {
        debug_assert!(!self.nullable && values.len() <= ROWS);
        if values.is_empty() {
            return Ok(());
        }
        body.clear();
        int_body(self.shape, values, body, &mut self.min_max);
        let codec = self.compressed.then_some(codec);
        self.uncompressed += write_page(
            &mut self.pages,
            false,
            values.len(),
            ENC_DELTA_BINARY_PACKED,
            body,
            codec,
            scratch,
        )?;
        Ok(())
    }

    /// The finished column chunk; the column starts over empty.
    pub(super) fn close(
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

/// A page body of integer values (`DELTA_BINARY_PACKED`, as 32-bit
/// integers where the column is), their least and greatest added to
/// `min_max`.
fn int_body(shape: Shape, values: &[i64], body: &mut Vec<u8>, min_max: &mut MinMax) {
    encode_ints(
        body,
        values,
        matches!(shape, Shape::I32 | Shape::U32),
        matches!(shape, Shape::U32 | Shape::U64),
        min_max,
    );
}

/// The values of `values` whose row is defined (`present` of them): all
/// of them or none as they are, else gathered into `into`.
fn present_values<'a, T: Copy>(
    into: &'a mut Vec<T>,
    values: &'a [T],
    defined: &[u8],
    present: usize,
) -> &'a [T] {
    match present {
        p if p == values.len() => values,
        0 => &[],
        _ => gather(into, values, defined),
    }
}

/// The values of `values` whose row is defined, gathered into `into`.
fn gather<'a, T: Copy>(into: &'a mut Vec<T>, values: &[T], defined: &[u8]) -> &'a [T] {
    into.clear();
    into.extend(
        values
            .iter()
            .zip(defined)
            .filter(|(_, &d)| d != 0)
            .map(|(&v, _)| v),
    );
    into
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
