//! Redis 8.8 (RDB 14) files built byte by byte: a stream of type 27 with a
//! NACK zone and sparse arrays of type 28, read back value by value, in
//! parallel, and under the wrong magic.
//!
//! Formats as redis/librdb v2.3.0 reads them (`src/lib/parser.c`:
//! `elementStreamLP` states `ST_LOAD_NACK_ZONE_COUNT`/`_ENTRY`, and
//! `elementArray`), with the array element tags of redis/redis
//! `src/sparsearray.h` (`AR_RDB_TAG_SDS 0`, `INT 1`, `FLOAT 2`, `SMALLSTR 3`).

use rdb_parser::{ArrayItem, ErrorKind, Kind, Rdb, Record, Scratch, StreamId, StreamVisitor};

use super::craft::{cat, len, s};
use super::walk::walk_all;

/// A listpack integer entry (7-bit unsigned) with its back-length.
fn lp_int(v: u8) -> Vec<u8> {
    assert!(v < 128);
    vec![v, 1]
}

/// A listpack string entry (6-bit length) with its back-length.
fn lp_str(b: &[u8]) -> Vec<u8> {
    assert!(b.len() < 64);
    cat(&[&[0x80 | b.len() as u8], b, &[b.len() as u8 + 1]])
}

fn listpack(entries: &[Vec<u8>]) -> Vec<u8> {
    let body = entries.concat();
    cat(&[
        &((body.len() + 7) as u32).to_le_bytes(),
        &(entries.len() as u16).to_le_bytes(),
        &body,
        &[0xff],
    ])
}

fn raw_id(ms: u64, seq: u64) -> Vec<u8> {
    cat(&[&ms.to_be_bytes(), &seq.to_be_bytes()])
}

/// A type-27 stream value: one node (master 1-0) with entries 1-0 and 1-1
/// (field `f`), group `g` with both pending, consumer `c` owning 1-0, and
/// 1-1 in the NACK zone; then Redis 8.6's IDMP state, empty.
pub(super) fn stream5_value() -> Vec<u8> {
    let node = listpack(&[
        // master entry: count, deleted, 1 field "f", terminator 0
        lp_int(2),
        lp_int(0),
        lp_int(1),
        lp_str(b"f"),
        lp_int(0),
        // entry 1-0: flags SAMEFIELDS, ms delta 0, seq delta 0, value, lp-count
        lp_int(2),
        lp_int(0),
        lp_int(0),
        lp_str(b"v0"),
        lp_int(3),
        // entry 1-1
        lp_int(2),
        lp_int(0),
        lp_int(1),
        lp_str(b"v1"),
        lp_int(3),
    ]);
    cat(&[
        &len(1),
        &s(&raw_id(1, 0)),
        &s(&node),
        &len(2), // length
        &len(1),
        &len(1), // last id 1-1
        &len(1),
        &len(0), // first id 1-0
        &len(0),
        &len(0), // max deleted id
        &len(2), // entries added
        &len(1), // groups
        &s(b"g"),
        &len(1),
        &len(1), // group last id 1-1
        &len(2), // entries read
        &len(2), // group PEL
        &raw_id(1, 0),
        &1_700_000_000_000i64.to_le_bytes(),
        &len(1),
        &raw_id(1, 1),
        &1_700_000_000_500i64.to_le_bytes(),
        &len(2),
        &len(1), // consumers
        &s(b"c"),
        &1_700_000_000_000i64.to_le_bytes(),
        &1_700_000_000_000i64.to_le_bytes(),
        &len(1),
        &raw_id(1, 0),
        &len(1), // NACK zone
        &raw_id(1, 1),
        &len(0), // IDMP duration
        &len(0), // IDMP max entries
        &len(0), // IDMP producers
        &len(0), // IDMP ids added
        &len(0), // IDMP duplicates
    ])
}

/// A type-28 array: count 4, insert index 9; [0] integer -7, [1] double
/// 2.5, [5] small string "abc", [9] string "a longer string".
pub(super) fn array_value() -> Vec<u8> {
    cat(&[
        &len(4),
        &len(1),
        &len(9),
        &len(0),
        &len(1),
        &(-7i64).to_le_bytes(),
        &len(1),
        &len(2),
        &2.5f64.to_le_bytes(),
        &len(5),
        &len(3),
        &s(b"abc"),
        &len(9),
        &len(0),
        &s(b"a longer string"),
    ])
}

/// An array saved without an insert index, one element at index 2^40.
pub(super) fn array_value_far() -> Vec<u8> {
    cat(&[&len(1), &len(0), &len(1 << 40), &len(0), &s(b"far")])
}

/// REDIS0014: a string, the stream, both arrays (the second with an expire).
pub(super) fn v14_file() -> Vec<u8> {
    cat(&[
        b"REDIS0014",
        &[0xfe, 0x00],
        &[0],
        &s(b"str"),
        &s(b"x"),
        &[27],
        &s(b"stream"),
        &stream5_value(),
        &[28],
        &s(b"arr"),
        &array_value(),
        &[0xfc],
        &4_102_444_800_000i64.to_le_bytes(),
        &[28],
        &s(b"far"),
        &array_value_far(),
        &[0xff],
        &[0; 8],
    ])
}

#[derive(Default)]
struct Seen {
    pending: Vec<StreamId>,
    owned: Vec<StreamId>,
    nacked: Vec<StreamId>,
}

impl StreamVisitor for Seen {
    fn group_pending(&mut self, id: StreamId, _t: i64, _n: u64) {
        self.pending.push(id);
    }
    fn consumer_pending(&mut self, id: StreamId) {
        self.owned.push(id);
    }
    fn nacked(&mut self, id: StreamId) {
        self.nacked.push(id);
    }
}

#[test]
fn redis88_types_read_back_as_built() {
    let data = v14_file();
    let rdb = Rdb::new(&data).unwrap();
    assert!(!rdb.is_newer_than_known());
    let mut scratch = Scratch::new();
    let mut arrays = Vec::new();
    let mut streams = 0;
    for r in rdb.records() {
        let Record::Entry(e) = r.unwrap() else {
            continue;
        };
        match e.kind() {
            Kind::Stream => {
                streams += 1;
                let mut seen = Seen::default();
                let meta = e.value.walk_stream(&mut scratch, &mut seen).unwrap();
                assert_eq!(meta.length, 2);
                let id = |seq| StreamId { ms: 1, seq };
                assert_eq!(seen.pending, [id(0), id(1)]);
                assert_eq!(seen.owned, [id(0)]);
                assert_eq!(seen.nacked, [id(1)]);
                assert_eq!(e.value.stream_meta().unwrap(), meta);
            }
            Kind::Array => {
                let mut got = Vec::new();
                let h = e
                    .value
                    .walk_array(&mut scratch, |i, item| {
                        let mut b = Vec::new();
                        item.push_to(&mut b);
                        let tag = match item {
                            ArrayItem::Int(_) => 'i',
                            ArrayItem::Float(_) => 'f',
                            ArrayItem::Str(_) => 's',
                        };
                        got.push((i, tag, String::from_utf8(b).unwrap()));
                    })
                    .unwrap();
                assert_eq!(e.value.element_count(&mut scratch).unwrap(), h.count);
                arrays.push((e.expire_at_ms, h.insert_idx, got));
            }
            _ => {}
        }
    }
    assert_eq!(streams, 1);
    let row = |i, t, v: &str| (i, t, v.to_string());
    assert_eq!(
        arrays,
        [
            (
                None,
                Some(9),
                vec![
                    row(0, 'i', "-7"),
                    row(1, 'f', "2.5"),
                    row(5, 's', "abc"),
                    row(9, 's', "a longer string")
                ]
            ),
            (
                Some(4_102_444_800_000),
                None,
                vec![row(1 << 40, 's', "far")]
            ),
        ]
    );
    let w = walk_all(&data).unwrap();
    assert_eq!(w.keys, 4);
    assert!(w.inconsistencies.is_empty(), "{w:?}");
}

/// Under the `VALKEY` magic, 27 and 28 are no Valkey type: unknown.
#[test]
fn redis88_type_bytes_are_unknown_under_valkey() {
    for t in [27u8, 28] {
        let data = cat(&[
            b"VALKEY080",
            &[0xfe, 0x00, t],
            &s(b"k"),
            &array_value(),
            &[0xff],
            &[0; 8],
        ]);
        let e = walk_all(&data).expect_err("VALKEY 27/28");
        assert_eq!(
            (e.kind(), e.offset()),
            (&ErrorKind::UnknownValueType(t), 11),
            "{e}"
        );
    }
}

/// Wrong bytes inside the new types are errors naming what was expected.
#[test]
fn redis88_bad_values_are_named() {
    let cases: [(u8, Vec<u8>, &str); 4] = [
        (28, cat(&[&len(0), &len(0)]), "non-zero array element count"),
        (28, cat(&[&len(1), &len(2), &len(0)]), "insert-index flag"),
        (
            28,
            cat(&[&len(1), &len(0), &len(0), &len(9), &s(b"x")]),
            "element tag",
        ),
        (
            28,
            cat(&[
                &len(1),
                &len(0),
                &[0x81],
                &u64::MAX.to_be_bytes(),
                &len(0),
                &s(b"x"),
            ]),
            "array index below 2^64-1",
        ),
    ];
    for (t, value, want) in cases {
        let data = cat(&[
            b"REDIS0014",
            &[0xfe, 0x00, t],
            &s(b"k"),
            &value,
            &[0xff],
            &[0; 8],
        ]);
        let e = walk_all(&data).expect_err(want);
        assert!(e.to_string().contains(want), "{e} lacks {want:?}");
    }
}

/// 3,000 keys of both new types: read in chunks and speculatively in small
/// segments, they give what one sequential pass gives.
#[test]
fn redis88_file_reads_the_same_in_parallel() {
    let mut records = vec![b"REDIS0014".to_vec(), vec![0xfe, 0x00]];
    for i in 0..3_000u64 {
        let (t, v) = if i % 2 == 0 {
            (27, stream5_value())
        } else {
            (28, array_value())
        };
        records.push(cat(&[&[t], &s(format!("key:{i}").as_bytes()), &v]));
    }
    records.push(cat(&[&[0xff], &[0; 8]]));
    let data = records.concat();
    let rdb = Rdb::new(&data).unwrap();
    fn add(acc: &mut (u64, u64), r: &Record<'_>) -> rdb_parser::Result<()> {
        if let Record::Entry(e) = r {
            acc.0 += 1;
            acc.1 += e.value.element_count(&mut Scratch::new())?;
        }
        Ok(())
    }
    let mut seq = (0, 0);
    for r in rdb.records() {
        add(&mut seq, &r.unwrap()).unwrap();
    }
    assert_eq!(seq, (3_000, 1_500 * 2 + 1_500 * 4));
    let chunks = rdb.chunks(4096).unwrap();
    assert!(chunks.len() > 10, "{} chunks", chunks.len());
    let merge = |a: (u64, u64), b: (u64, u64)| (a.0 + b.0, a.1 + b.1);
    let par = rdb
        .par_fold(&chunks, || (0, 0), |a, r| add(a, &r), merge)
        .unwrap();
    assert_eq!(par, seq, "chunks");
    let fns = rdb_parser::SpeculativeFold {
        init: || (0, 0),
        init_guessed: || (0, 0),
        fold: add,
        merge,
        relabel: |_: &mut (u64, u64), _| {},
    };
    let progress = std::sync::atomic::AtomicU64::new(0);
    let spec = rdb.par_fold_speculative(8192, &progress, fns).unwrap();
    assert_eq!(spec, seq, "speculative");
}
