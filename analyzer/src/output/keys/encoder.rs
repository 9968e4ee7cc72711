//! The `keys` table's schema and its row builder: the column list that
//! makes both the Arrow schema and the encoders, and [`KeysEncoder`],
//! which appends one row per key and cuts pages and row groups.

use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema, SchemaRef};

use super::buffers::PageBuffers;
use super::column::{Column, EncodedRowGroup, Shape, PAGE_ROWS};
use super::compression::{Compressor, KeysCompression};
use crate::error::Result;
use crate::facts::KeyFacts;
use crate::prefix::PatternSlot;

/// The columns, in order: name, Arrow type, nullable, storage. The
/// schema and the encoders are both made from this list.
pub(super) const COLUMNS: [(&str, DataType, bool, Shape); 15] = [
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
    ("memory_model", DataType::Utf8, false, Shape::Text),
];

const SOURCE: usize = 0;
const DB: usize = 1;
const TYPE: usize = 3;
const ENCODING: usize = 4;
const RDB_BYTES: usize = 5;
pub(super) const MEMORY_BYTES: usize = 6;
const ELEMENTS: usize = 7;
const MAX_ELEMENT_BYTES: usize = 8;
pub(super) const EXPIRE_AT_MS: usize = 9;
const IDLE_SECONDS: usize = 10;
const LFU_FREQ: usize = 11;
const SLOT: usize = 12;
const PREFIX: usize = 13;
const MEMORY_MODEL: usize = 14;

/// The schema of the `keys` table: one row per key.
pub fn keys_schema() -> SchemaRef {
    Arc::new(Schema::new(
        COLUMNS
            .iter()
            .map(|(name, dt, nullable, _)| Field::new(*name, dt.clone(), *nullable))
            .collect::<Vec<_>>(),
    ))
}

/// Key bytes after which a page is cut early (bounds a page of huge keys).
pub const PAGE_KEY_BYTES: usize = 1 << 20;
/// A worker closes its row group once the encoded pages pass this many
/// bytes (or it has [`ROW_GROUP_ROWS`] rows).
pub const WORKER_ROW_GROUP_BYTES: usize = 32 << 20;
/// Most rows in one `keys.parquet` row group.
pub const ROW_GROUP_ROWS: usize = 1 << 20;

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
    pub(super) columns: Box<[Column; COLUMNS.len()]>,
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
    /// The `db` values of a held encoder's rows already in pages.
    held_db: Vec<i64>,
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

pub(super) const KEY: usize = 2;

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
            held_db: Vec::new(),
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
            self.page_rows == 0 && self.group_rows == 0 && self.held_db.is_empty(),
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
        self.held_db.fill(db);
        self.columns[DB].ints[..self.page_rows].fill(db);
    }

    /// Ends holding: the rows may leave by [`KeysEncoder::finish`].
    pub fn release(&mut self) -> Result<()> {
        if !std::mem::take(&mut self.held) {
            return Ok(());
        }
        // The db values of the rows whose other columns are already in
        // pages: encoded now, in pages of at most PAGE_ROWS. The open
        // page's stay with its other columns.
        let c = &mut self.columns[DB];
        for page in self.held_db.chunks(PAGE_ROWS) {
            c.cut_int_page(page, &mut self.codec, &mut self.body, &mut self.scratch)?;
        }
        self.held_db.clear();
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
        let r = self.page_rows;
        c[SOURCE].indexed_text::<false>(r, 0, || source.as_bytes().to_vec());
        c[DB].int(r, i64::from(i32::try_from(f.db).unwrap_or(i32::MAX)));
        c[KEY].bytes(f.key);
        match f.module {
            Some(_) => c[TYPE].text::<false>(r, f.type_name().as_bytes()),
            None => c[TYPE]
                .indexed_text::<false>(r, f.kind as usize, || f.kind.name().as_bytes().to_vec()),
        }
        c[ENCODING].indexed_text::<false>(r, f.encoding as usize, || {
            f.encoding.as_str().as_bytes().to_vec()
        });
        c[RDB_BYTES].int(r, f.rdb_bytes as i64);
        c[MEMORY_BYTES].int(r, memory_bytes as i64);
        c[ELEMENTS].int(r, f.elements as i64);
        c[MAX_ELEMENT_BYTES].int(r, f.max_element_bytes as i64);
        c[EXPIRE_AT_MS].opt_int(r, f.expire_at_ms);
        c[IDLE_SECONDS].opt_int(r, f.idle_seconds.map(|v| v as i64));
        c[LFU_FREQ].opt_int(r, f.lfu_freq.map(i64::from));
        c[SLOT].int(r, i64::from(f.slot));
        match slot {
            Some(s) => {
                if s.epoch != self.prefix_epoch {
                    c[PREFIX].by_index.clear();
                    self.prefix_epoch = s.epoch;
                }
                c[PREFIX].indexed_text::<true>(r, s.index as usize, || prefix.to_vec());
            }
            None => c[PREFIX].text::<true>(r, prefix),
        }
        let model = f.memory_model();
        c[MEMORY_MODEL]
            .indexed_text::<false>(r, model as usize, || model.as_str().as_bytes().to_vec());
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
                // Kept open for set_db, encoded at release.
                self.held_db.extend_from_slice(&c.ints[..rows]);
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
