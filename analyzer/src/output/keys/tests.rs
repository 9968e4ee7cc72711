//! `keys.parquet` written by the encoders and read back with the `parquet`
//! crate's Arrow reader, value by value.

use std::fs::File;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type, UInt16Type, UInt64Type, UInt8Type};
use arrow_array::{Array, RecordBatch};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use rdb_parser::{Kind, ModuleId, ValueType};

use super::column::Shape;
use super::encoder::{COLUMNS, EXPIRE_AT_MS, KEY, MEMORY_BYTES};
use super::*;
use crate::facts::KeyFacts;
use crate::facts::ObjEncoding;
use crate::prefix::{KeyStat, PatternSlot, PrefixAcc, PrefixConfig, Separators};
use crate::testutil::{Lcg, TempDir};

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
    memory_model: String,
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
                let k = format!("zz{i}");
                many.add(k.as_bytes(), k.as_bytes(), &Numbering::stat());
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
                let k = format!("u{i}:*");
                other.add(k.as_bytes(), k.as_bytes(), &Numbering::stat());
            }
            for b in (0..=255u8).rev() {
                other.add(&[b'p', 0xff, b], &[b'p', 0xff, b], &Numbering::stat());
            }
            for i in 0..self.rounds {
                let k = format!("extra{i}");
                other.add(k.as_bytes(), k.as_bytes(), &Numbering::stat());
            }
            self.acc.merge(other);
        }
        let slot = self.acc.add(pattern, pattern, &Numbering::stat());
        self.numbered += usize::from(slot.is_some());
        slot
    }

    fn stat() -> KeyStat {
        KeyStat {
            kind: Kind::String,
            memory_bytes: 1,
            rdb_bytes: 1,
            has_ttl: false,
            bucket: crate::model::ExpiryBucket::NoTtl,
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
            enterprise_opcodes: false,
            slot: (r >> 40) as u16 & 0x3fff,
            hash_tag: None,
        };
        let memory = extreme(r >> 3);
        let prefix: Vec<u8> = match r % 11 {
            0 => vec![b'p', 0xff, (r >> 50) as u8],
            _ => format!("u{}:*", r % 3000).into_bytes(),
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
            memory_model: match kind {
                Kind::Module => "serialized",
                _ => "model",
            }
            .to_owned(),
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
                expire_at_ms: opt(c(9).as_ref()).then(|| c(9).as_primitive::<Int64Type>().value(i)),
                idle_seconds: opt(c(10).as_ref())
                    .then(|| c(10).as_primitive::<UInt64Type>().value(i)),
                lfu_freq: opt(c(11).as_ref()).then(|| c(11).as_primitive::<UInt8Type>().value(i)),
                slot: c(12).as_primitive::<UInt16Type>().value(i),
                prefix: c(13).as_string::<i32>().value(i).to_owned(),
                memory_model: c(14).as_string::<i32>().value(i).to_owned(),
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
        enterprise_opcodes: false,
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
