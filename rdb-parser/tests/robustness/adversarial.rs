//! (c) Hand-made adversarial inputs are errors, and the same shapes with
//! sane numbers parse.

use std::panic::{catch_unwind, AssertUnwindSafe};

use rdb_parser::Rdb;

use super::craft::{cat, file_with, len, listpack, listpack_ok, long_length, rdb11, s};
use super::guard::{guarded_walk, slow, Outcome};
use super::harness::report;
use super::walk::walk_all;

pub(super) fn adversarial_inputs() -> Vec<(&'static str, Vec<u8>)> {
    let huge = 1u64 << 60;
    let mut v: Vec<(&'static str, Vec<u8>)> = Vec::new();
    // LZF
    v.push((
        "LZF string claiming u64::MAX bytes",
        rdb11(
            0,
            &cat(&[&[0xc3], &len(5), &long_length(u64::MAX, true), b"abcde"]),
        ),
    ));
    v.push((
        "LZF string claiming 4 GB from 5 bytes",
        rdb11(
            0,
            &cat(&[
                &[0xc3],
                &len(5),
                &long_length(u64::from(u32::MAX), false),
                b"abcde",
            ]),
        ),
    ));
    v.push((
        "LZF compressed length 2^62",
        rdb11(
            0,
            &cat(&[&[0xc3], &long_length(1 << 62, true), &len(10), b"abc"]),
        ),
    ));
    v.push((
        "LZF length at the ratio limit, lying",
        rdb11(
            0,
            &cat(&[&[0xc3], &len(3), &len(3 * 89 + 64), &[0xe0, 0xff, 0x00]]),
        ),
    ));
    v.push((
        "LZF back reference before the start",
        rdb11(0, &cat(&[&[0xc3], &len(3), &len(20), &[0x20, 0x05, 0x61]])),
    ));
    v.push((
        "LZF compressed length 0",
        rdb11(0, &cat(&[&[0xc3], &len(0), &len(10)])),
    ));
    v.push(("LZF key claiming 2^40 bytes", {
        let mut f = b"REDIS0011\xfe\x00\x00".to_vec();
        f.extend(cat(&[
            &[0xc3],
            &len(2),
            &long_length(1 << 40, true),
            &[0x00, b'k'],
        ]));
        f.extend(s(b"v"));
        f.extend_from_slice(&[0xff, 0, 0, 0, 0, 0, 0, 0, 0]);
        f
    }));
    v.push((
        "list element LZF claiming 2^50 bytes",
        rdb11(
            1,
            &cat(&[
                &len(1),
                &[0xc3],
                &len(4),
                &long_length(1 << 50, true),
                &[3, b'a', b'b', b'c', b'd'],
            ]),
        ),
    ));
    v.push((
        "quicklist node LZF claiming 2^33 bytes",
        rdb11(
            14,
            &cat(&[
                &len(1),
                &[0xc3],
                &len(4),
                &long_length(1 << 33, true),
                &[3, 1, 2, 3, 4],
            ]),
        ),
    ));
    // Listpacks
    v.push((
        "listpack header claiming 4 GB",
        rdb11(
            16,
            &s(&listpack(u32::MAX, 2, &[0x81, b'a', 2, 0x81, b'b', 2])),
        ),
    ));
    v.push((
        "listpack entry of 4 GB",
        rdb11(
            16,
            &s(&listpack_ok(2, &[0xf0, 0xff, 0xff, 0xff, 0xff, b'x', 6])),
        ),
    ));
    v.push((
        "listpack 12-bit string past the end",
        rdb11(20, &s(&listpack_ok(1, &[0xef, 0xff, b'x', 3]))),
    ));
    v.push((
        "listpack count 65534 with one entry",
        rdb11(20, &s(&listpack_ok(65534, &[0x01, 1]))),
    ));
    v.push((
        "listpack with junk after the terminator",
        rdb11(20, &s(&cat(&[&listpack_ok(1, &[0x01, 1]), &[0xff, 0xff]]))),
    ));
    v.push((
        "quicklist 2 with 2^62 nodes",
        rdb11(
            18,
            &cat(&[
                &long_length(1 << 62, true),
                &len(2),
                &s(&listpack_ok(1, &[1, 1])),
            ]),
        ),
    ));
    v.push((
        "quicklist 2 node container 7",
        rdb11(18, &cat(&[&len(1), &len(7), &s(&listpack_ok(1, &[1, 1]))])),
    ));
    // Ziplists and intsets
    v.push((
        "ziplist header claiming 4 GB",
        rdb11(
            10,
            &s(&cat(&[
                &u32::MAX.to_le_bytes(),
                &10u32.to_le_bytes(),
                &[1, 0],
                &[0, 0xf2],
                &[0xff],
            ])),
        ),
    ));
    v.push(("ziplist entry of 4 GB", {
        let body = [0u8, 0x80, 0xff, 0xff, 0xff, 0xff, b'x'];
        let total = (10 + body.len() + 1) as u32;
        rdb11(
            10,
            &s(&cat(&[
                &total.to_le_bytes(),
                &10u32.to_le_bytes(),
                &[1, 0],
                &body,
                &[0xff],
            ])),
        )
    }));
    v.push((
        "intset of 2^32-1 64-bit members",
        rdb11(
            11,
            &s(&cat(&[
                &8u32.to_le_bytes(),
                &u32::MAX.to_le_bytes(),
                &[0; 16],
            ])),
        ),
    ));
    v.push((
        "zipmap key of 4 GB",
        rdb11(9, &s(&[1, 254, 0xff, 0xff, 0xff, 0xff, b'a', 0xff])),
    ));
    // Collections with huge counts
    v.push((
        "set of 2^40 members",
        rdb11(2, &cat(&[&long_length(1 << 40, true), &s(b"a")])),
    ));
    v.push((
        "hash of u64::MAX fields",
        rdb11(4, &cat(&[&long_length(u64::MAX, true), &s(b"a"), &s(b"b")])),
    ));
    v.push((
        "zset of 2^58 members",
        rdb11(5, &cat(&[&long_length(1 << 58, true), &s(b"a"), &[0; 8]])),
    ));
    v.push((
        "text zset of 2^58 members",
        rdb11(
            3,
            &cat(&[&long_length(1 << 58, true), &s(b"a"), &[1, b'1']]),
        ),
    ));
    v.push((
        "quicklist of 2^62 nodes",
        rdb11(14, &long_length(1 << 62, true)),
    ));
    v.push((
        "hash with field expiry, 2^60 fields",
        file_with(
            b"REDIS0012",
            24,
            &cat(&[
                &[0; 8],
                &long_length(huge, true),
                &len(0),
                &s(b"f"),
                &s(b"v"),
            ]),
        ),
    ));
    v.push((
        "Valkey hash 2 with 2^60 fields",
        file_with(
            b"VALKEY080",
            22,
            &cat(&[&long_length(huge, true), &s(b"f"), &s(b"v"), &[0xff; 8]]),
        ),
    ));
    v.push((
        "module string of 2^60 bytes",
        rdb11(
            7,
            &cat(&[
                &long_length(0x1234_5678_9abc_def0, true),
                &[5],
                &long_length(huge, true),
                b"x",
            ]),
        ),
    ));
    v.push((
        "module with an unknown opcode",
        rdb11(7, &cat(&[&len(1), &[9, 0]])),
    ));
    // Streams
    let stream_v1_tail = |groups: &[u8]| cat(&[&len(0), &len(0), &len(0), &len(0), groups]);
    v.push((
        "stream with 2^60 consumer groups",
        rdb11(15, &stream_v1_tail(&long_length(huge, true))),
    ));
    v.push((
        "stream v3 with 2^60 consumer groups",
        rdb11(
            21,
            &cat(&[
                &len(0),
                &len(0),
                &len(0),
                &len(0),
                &len(0),
                &len(0),
                &len(0),
                &len(0),
                &len(0),
                &long_length(huge, true),
            ]),
        ),
    ));
    v.push((
        "stream group with 2^50 pending entries",
        rdb11(
            15,
            &stream_v1_tail(&cat(&[
                &len(1),
                &s(b"g"),
                &len(0),
                &len(0),
                &long_length(1 << 50, true),
            ])),
        ),
    ));
    v.push((
        "stream group with 2^50 consumers",
        rdb11(
            15,
            &stream_v1_tail(&cat(&[
                &len(1),
                &s(b"g"),
                &len(0),
                &len(0),
                &len(0),
                &long_length(1 << 50, true),
            ])),
        ),
    ));
    v.push((
        "stream consumer with 2^50 pending ids",
        rdb11(
            15,
            &stream_v1_tail(&cat(&[
                &len(1),
                &s(b"g"),
                &len(0),
                &len(0),
                &len(0),
                &len(1),
                &s(b"c"),
                &[0; 8],
                &long_length(1 << 50, true),
            ])),
        ),
    ));
    v.push((
        "stream with 2^61 nodes",
        rdb11(
            15,
            &cat(&[
                &long_length(1 << 61, true),
                &s(&[0; 16]),
                &s(&listpack_ok(0, &[])),
            ]),
        ),
    ));
    let node = |lp: Vec<u8>| {
        rdb11(
            15,
            &cat(&[
                &len(1),
                &s(&[0; 16]),
                &s(&lp),
                &len(0),
                &len(0),
                &len(0),
                &len(0),
            ]),
        )
    };
    // Master entry: count, deleted, field count (i64 2^62), ...
    let mut big_fields = vec![0x01, 1, 0x00, 1, 0xf4];
    big_fields.extend_from_slice(&(1i64 << 62).to_le_bytes());
    big_fields.push(9);
    v.push((
        "stream node with 2^62 master fields",
        node(listpack_ok(3, &big_fields)),
    ));
    let mut neg_fields = vec![0x01, 1, 0x00, 1, 0xf4];
    neg_fields.extend_from_slice(&(-5i64).to_le_bytes());
    neg_fields.push(9);
    v.push((
        "stream node with -5 master fields",
        node(listpack_ok(3, &neg_fields)),
    ));
    v.push((
        "stream node key of 15 bytes",
        rdb11(
            15,
            &cat(&[
                &len(1),
                &s(&[0; 15]),
                &s(&listpack_ok(0, &[])),
                &len(0),
                &len(0),
                &len(0),
                &len(0),
            ]),
        ),
    ));
    // Nested: a listpack entry count inside a stream entry claiming 2^62 fields.
    let mut nested = vec![0x01, 1, 0x00, 1, 0x01, 1, 0x81, b'f', 2, 0x00, 1]; // master: 1 entry, 0 deleted, 1 field "f", 0
    nested.extend_from_slice(&[0x00, 1, 0x00, 1, 0x00, 1]); // flags 0, ms delta 0, seq delta 0
    nested.push(0xf4);
    nested.extend_from_slice(&(1i64 << 62).to_le_bytes());
    nested.push(9);
    v.push((
        "stream entry with 2^62 fields",
        node(listpack_ok(9, &nested)),
    ));
    // Opcodes
    v.push((
        "SELECTDB with a 4 GB string encoding",
        b"REDIS0011\xfe\xc3\xff".to_vec(),
    ));
    v.push((
        "AUX name of 2^62 bytes",
        cat(&[b"REDIS0011\xfa", &long_length(1 << 62, true), b"x"]),
    ));
    v.push((
        "slot import with 2^60 ranges",
        cat(&[
            b"VALKEY080\xf3",
            &s(b"job"),
            &long_length(huge, true),
            &[0xff; 9],
        ]),
    ));
    v.push((
        "metadata opcodes then EOF",
        cat(&[b"REDIS0011\xfc", &[0; 8], &[0xf9, 5, 0xff], &[0; 8]]),
    ));
    v.push(("unknown type byte", rdb11(100, &s(b"v"))));
    v.push(("empty after the header", b"REDIS0011".to_vec()));
    v
}

#[test]
fn adversarial_inputs_are_errors() {
    let mut failures = Vec::new();
    let inputs = adversarial_inputs();
    for (what, input) in &inputs {
        let (outcome, elapsed, peak) = guarded_walk(input);
        match outcome {
            Outcome::Err(e) => {
                if e.offset() > input.len() as u64 {
                    failures.push(format!(
                        "{what}: error offset {} past the end: {e}",
                        e.offset()
                    ));
                }
            }
            Outcome::Ok(w) => failures.push(format!("{what}: accepted ({w:?})")),
            Outcome::Panic(p) => failures.push(format!("{what}: {p}")),
        }
        if peak > 1 << 20 {
            failures.push(format!("{what}: took {peak} bytes of memory"));
        }
        if elapsed > slow() {
            failures.push(format!("{what}: took {elapsed:?}"));
        }
        // The chunk scan sees the same bytes.
        let chunked = catch_unwind(AssertUnwindSafe(|| {
            Rdb::new(input).map(|r| r.chunks(1).map(|c| c.len()))
        }));
        if chunked.is_err() {
            failures.push(format!("{what}: chunks() panicked"));
        }
    }
    eprintln!("{} adversarial inputs", inputs.len());
    report("adversarial inputs", failures);
}

/// Sanity check for the builders above: the same shapes with sane numbers parse.
#[test]
fn adversarial_builders_make_valid_files_when_sane() {
    let ok = [
        rdb11(0, &s(b"v")),
        rdb11(16, &s(&listpack_ok(2, &[0x81, b'a', 2, 0x81, b'b', 2]))),
        rdb11(2, &cat(&[&len(1), &s(b"a")])),
        rdb11(
            15,
            &cat(&[
                &len(0),
                &len(0),
                &len(0),
                &len(0),
                &len(1),
                &s(b"g"),
                &len(0),
                &len(0),
                &len(0),
                &len(0),
            ]),
        ),
        file_with(
            b"REDIS0012",
            24,
            &cat(&[&[0; 8], &len(1), &len(0), &s(b"f"), &s(b"v")]),
        ),
    ];
    for (i, f) in ok.iter().enumerate() {
        if let Err(e) = walk_all(f) {
            panic!("builder case {i} does not parse: {e}");
        }
    }
}
