//! Files in the formats added in 2026, built byte by byte from the servers'
//! definitions: read whole, every prefix fails cleanly at or before the
//! cut, and seeded mutations never panic nor allocate beyond bounds.

use rdb_parser::{ErrorKind, Magic, Rdb, Record, ValueType};

use super::alloc::memory_budget;
use super::craft::{cat, len, s};
use super::guard::{guarded_walk, slow, Outcome};
use super::mutations::{check_mutation, hot_offsets, seed_for};
use super::prefixes::end_of_rdb;
use super::walk::walk_all;

/// A CRC-less (stored as 0) file: `magic`, SELECTDB 0, `records`, EOF.
fn file(magic: &[u8], records: &[u8]) -> Vec<u8> {
    cat(&[magic, &[0xfe, 0x00], records, &[0xff], &[0; 8]])
}

/// Redis Enterprise: `RAM_LRU` (107) and `SLOT_NUM` (121), each an opcode
/// and one RDB length before the key's type byte (redis/librdb
/// `src/lib/defines.h`, `__elementRamLru` / `__elementSlotNum` in
/// `src/lib/parser.c`, v2.2.0), alone, together and after an expire.
pub(super) fn enterprise_file() -> Vec<u8> {
    file(
        b"REDIS0012",
        &cat(&[
            &[107],
            &len(300),
            &[0],
            &s(b"k1"),
            &s(b"v1"),
            &[121],
            &len(16383),
            &[0],
            &s(b"k2"),
            &s(b"v2"),
            &[0xfc],
            &4_102_444_800_000i64.to_le_bytes(),
            &[121],
            &len(7),
            &[107],
            &len(1),
            &[0],
            &s(b"k3"),
            &s(b"v3"),
        ]),
    )
}

/// Every crafted file, named.
pub(super) fn crafted() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("enterprise opcodes 107 and 121", enterprise_file()),
        (
            "Redis 8.8 stream 27 and arrays 28",
            super::redis88::v14_file(),
        ),
    ]
}

#[test]
fn crafted_new_format_files_read_whole() {
    for (what, data) in crafted() {
        let w = walk_all(&data).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(w.keys > 0, "{what}: {w:?}");
        assert!(w.inconsistencies.is_empty(), "{what}: {w:?}");
    }
}

#[test]
fn crafted_new_format_prefixes_fail_at_or_before_the_cut() {
    let mut bad = Vec::new();
    for (what, data) in crafted() {
        let end = end_of_rdb(&data).unwrap_or_else(|| panic!("{what}: no EOF"));
        for cut in 0..data.len() {
            let (outcome, elapsed, peak) = guarded_walk(&data[..cut]);
            let at = format!("{what} cut at {cut} of {}", data.len());
            if peak > memory_budget(cut) || elapsed > slow() {
                bad.push(format!("{at}: {peak} bytes, {elapsed:?}"));
            }
            match outcome {
                Outcome::Panic(p) => bad.push(format!("{at}: {p}")),
                Outcome::Ok(_) if (cut as u64) < end => bad.push(format!("{at}: accepted")),
                Outcome::Err(e) if e.offset() > cut as u64 => {
                    bad.push(format!("{at}: error past the cut: {e}"))
                }
                _ => {}
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn crafted_new_format_mutations_never_panic() {
    let mut bad = Vec::new();
    let mut n = 0;
    for (what, data) in crafted() {
        let hot = hot_offsets(&data);
        for i in 0..2_000 {
            n += 1;
            if let Some(b) = check_mutation(what, &data, &hot, seed_for(what, i)) {
                bad.push(b);
            }
        }
    }
    eprintln!("new formats: {n} mutated walks");
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// `magic`, SELECTDB 0, a string key "before", then `tail` (and EOF).
fn after_a_key(magic: &[u8], tail: &[u8]) -> (Vec<u8>, u64) {
    let head = cat(&[magic, &[0xfe, 0x00, 0x00], &s(b"before"), &s(b"v")]);
    let at = head.len() as u64;
    (file(magic, &cat(&[&head[magic.len() + 2..], tail])), at)
}

/// Types and opcodes of formats this parser does not read yet: RDB 15's
/// hash templates 29-32, their template section (opcode 242) and GCRA 33,
/// and Valkey 9.2's `VALKEY081` type 23
/// (`RDB_TYPE_PATH_HASH`) and opcode 242 (`RDB_OPCODE_UPDATE`). Their final
/// layouts are not in the server sources this project could read, so they
/// are read as far as understood: the keys before them, then an error
/// naming the byte, its offset and the version.
#[test]
fn unknown_2026_types_are_named_with_offset_and_version() {
    let cases: [(&[u8], u8, ErrorKind, u32); 9] = [
        (b"REDIS0015", 33, ErrorKind::UnknownValueType(33), 15),
        // RDB 15's template section opcode shares 242 with Valkey's UPDATE.
        (b"REDIS0015", 242, ErrorKind::UnknownOpcode(242), 15),
        (b"REDIS0016", 29, ErrorKind::UnknownValueType(29), 16),
        (b"REDIS0015", 29, ErrorKind::UnknownValueType(29), 15),
        (b"REDIS0015", 30, ErrorKind::UnknownValueType(30), 15),
        (b"REDIS0015", 31, ErrorKind::UnknownValueType(31), 15),
        (b"REDIS0015", 32, ErrorKind::UnknownValueType(32), 15),
        (b"VALKEY081", 23, ErrorKind::UnknownValueType(23), 81),
        (b"VALKEY081", 242, ErrorKind::UnknownOpcode(242), 81),
    ];
    for (magic, byte, kind, version) in cases {
        let what = format!("{} byte {byte}", String::from_utf8_lossy(magic));
        let (data, at) = after_a_key(magic, &cat(&[&[byte], &s(b"k"), &s(b"v")]));
        let rdb = Rdb::new(&data).unwrap();
        assert!(rdb.is_newer_than_known(), "{what}");
        let mut keys = 0;
        let err = rdb
            .records()
            .find_map(|r| match r {
                Ok(Record::Entry(_)) => {
                    keys += 1;
                    None
                }
                Ok(_) => None,
                Err(e) => Some(e),
            })
            .unwrap_or_else(|| panic!("{what}: read whole"));
        assert_eq!(keys, 1, "{what}: the key before is read");
        assert_eq!(err.kind(), &kind, "{what}: {err}");
        assert_eq!(
            (err.offset(), err.version()),
            (at, Some(version)),
            "{what}: {err}"
        );
        let msg = err.to_string();
        for part in [
            format!("byte offset {at}"),
            format!("{byte} (0x{byte:02x})"),
            format!("RDB version {version}"),
        ] {
            assert!(msg.contains(&part), "{what}: {msg:?} lacks {part:?}");
        }
    }
}

/// Bytes that mean different things under the `REDIS` and `VALKEY` magics
/// are read by the file's magic: 22 and 23 (Redis 7.4 release candidates'
/// field-expiry hashes; Valkey 9's hash with field expiry is 22, and 23 is
/// Valkey 9.2's), 243 (Redis 8.6 KEY_META; Valkey 9 SLOT_IMPORT), and the
/// Redis Enterprise opcodes 107 and 121 (unknown under `VALKEY`).
#[test]
fn shared_bytes_are_read_by_the_files_magic() {
    assert_eq!(
        ValueType::from_byte(22, Magic::Redis),
        Some(ValueType::HashMetadataPreGa)
    );
    assert_eq!(
        ValueType::from_byte(22, Magic::Valkey),
        Some(ValueType::ValkeyHash2)
    );
    assert_eq!(
        ValueType::from_byte(23, Magic::Redis),
        Some(ValueType::HashListpackExPreGa)
    );
    assert_eq!(ValueType::from_byte(23, Magic::Valkey), None);

    // 243 under REDIS: key metadata with no classes, then the key.
    let redis = file(b"REDIS0013", &cat(&[&[0xf3, 0], &[0], &s(b"k"), &s(b"v")]));
    let w = walk_all(&redis).unwrap_or_else(|e| panic!("REDIS 243: {e}"));
    assert_eq!(w.keys, 1, "REDIS 243: {w:?}");
    // 243 under VALKEY: a slot import (job name, one range).
    let valkey = file(
        b"VALKEY080",
        &cat(&[&[0xf3], &s(b"job"), &len(1), &len(0), &len(100)]),
    );
    let rdb = Rdb::new(&valkey).unwrap();
    let imports = rdb
        .records()
        .filter(|r| matches!(r, Ok(Record::SlotImport { ranges: 1, .. })))
        .count();
    assert_eq!(imports, 1, "VALKEY 243");
    assert_eq!(
        walk_all(&valkey).map(|w| w.keys).ok(),
        Some(0),
        "VALKEY 243"
    );

    for op in [107u8, 121] {
        let data = file(b"VALKEY080", &cat(&[&[op, 1, 0], &s(b"k"), &s(b"v")]));
        let e = walk_all(&data).expect_err("VALKEY enterprise opcode");
        assert_eq!(e.kind(), &ErrorKind::UnknownValueType(op), "{e}");
        assert_eq!(e.offset(), 11, "{e}");
    }
}

/// A whole file compressed as an LZ4 frame is named as such, at offset 0,
/// and so is each of its prefixes that holds the frame magic.
#[test]
fn lz4_frame_is_named_before_the_magic() {
    let mut framed = vec![0x04, 0x22, 0x4d, 0x18, 0x64, 0x40, 0xa7];
    framed.extend_from_slice(&enterprise_file());
    for cut in 4..=framed.len() {
        let e = Rdb::new(&framed[..cut]).expect_err("LZ4 frame");
        assert_eq!((e.kind(), e.offset()), (&ErrorKind::Lz4Frame, 0), "{e}");
        assert!(e.to_string().contains("LZ4"), "{e}");
    }
    let e = Rdb::new(&framed[..3]).expect_err("3 bytes");
    assert_eq!(e.kind(), &ErrorKind::BadMagic, "{e}");
}

/// `data` as one LZ4 frame of stored (uncompressed) blocks, byte by byte
/// from the LZ4 frame format (lz4/lz4 `doc/lz4_Frame_format.md`): magic
/// 0x184D2204; FLG 0x60 (version 01, independent blocks, no checksums); BD
/// 0x40 (64 KB blocks); header checksum 0x82 (second byte of the XXH32 of
/// FLG and BD); blocks with the high bit of their size set (stored); an
/// end mark of four zeros.
pub(super) fn lz4_stored(data: &[u8]) -> Vec<u8> {
    let mut f = vec![0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0x82];
    for block in data.chunks(64 << 10) {
        f.extend_from_slice(&(block.len() as u32 | 0x8000_0000).to_le_bytes());
        f.extend_from_slice(block);
    }
    f.extend_from_slice(&[0; 4]);
    f
}

/// Decompresses and walks: what a command does with an LZ4-framed file.
fn walk_lz4(input: &[u8]) -> Result<super::walk::Walked, rdb_parser::Error> {
    let mut out = Vec::new();
    rdb_parser::lz4frame::decompress_to(input, &mut out)?;
    walk_all(&out)
}

#[test]
fn lz4_framed_file_decompresses_to_the_same_records() {
    let plain = enterprise_file();
    let framed = lz4_stored(&plain);
    let w = walk_lz4(&framed).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(Some(w.keys), walk_all(&plain).ok().map(|p| p.keys));
    let mut bad = Vec::new();
    for cut in 0..framed.len() {
        let input = &framed[..cut];
        let (r, peak) =
            super::alloc::peak_memory(|| std::panic::catch_unwind(|| walk_lz4(input).is_ok()));
        match r {
            Err(_) => bad.push(format!("cut {cut}: panic")),
            // Cut inside the end mark: the RDB inside is whole.
            Ok(true) if cut < framed.len() - 4 => bad.push(format!("cut {cut}: accepted")),
            _ => {}
        }
        if peak > memory_budget(cut) + (4 << 20) {
            bad.push(format!("cut {cut}: {peak} bytes"));
        }
    }
    let hot = hot_offsets(&framed);
    for i in 0..1_000 {
        let m = super::mutations::make_mutation(&framed, &hot, seed_for("lz4", i));
        let input = super::mutations::apply(&framed, &m);
        let (r, peak) =
            super::alloc::peak_memory(|| std::panic::catch_unwind(|| walk_lz4(&input).is_ok()));
        if r.is_err() {
            bad.push(format!("mutation {m:?}: panic"));
        }
        if peak > memory_budget(input.len()) + (4 << 20) {
            bad.push(format!("mutation {m:?}: {peak} bytes"));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// A file of 20,000 keys behind Enterprise opcodes: read in chunks and
/// speculatively in small segments, it gives what one sequential pass
/// gives (the records' starts are found with the opcodes in front).
#[test]
fn enterprise_file_reads_the_same_in_parallel() {
    let mut records = Vec::new();
    for i in 0..20_000u64 {
        match i % 3 {
            0 => records.extend(cat(&[&[107], &len(i)])),
            1 => records.extend(cat(&[&[121], &len(i % 16384), &[107], &len(i)])),
            _ => {}
        }
        records.extend(cat(&[
            &[0],
            &s(format!("key:{i}").as_bytes()),
            &s(b"value"),
        ]));
    }
    let data = file(b"REDIS0012", &records);
    let rdb = Rdb::new(&data).unwrap();
    // (keys, sum of RAM_LRU values, keys with SLOT_NUM)
    fn add(acc: &mut (u64, u64, u64), r: &Record<'_>) -> rdb_parser::Result<()> {
        if let Record::Entry(e) = r {
            acc.0 += 1;
            acc.1 += e.enterprise.ram_lru.unwrap_or(0);
            acc.2 += u64::from(e.enterprise.slot_num.is_some());
        }
        Ok(())
    }
    let mut seq = (0, 0, 0);
    for r in rdb.records() {
        add(&mut seq, &r.unwrap()).unwrap();
    }
    let want_lru: u64 = (0..20_000u64).filter(|i| i % 3 != 2).sum();
    assert_eq!(seq, (20_000, want_lru, 6_667));
    let chunks = rdb.chunks(4096).unwrap();
    assert!(chunks.len() > 10, "{} chunks", chunks.len());
    let merge = |a: (u64, u64, u64), b: (u64, u64, u64)| (a.0 + b.0, a.1 + b.1, a.2 + b.2);
    let par = rdb
        .par_fold(&chunks, || (0, 0, 0), |a, r| add(a, &r), merge)
        .unwrap();
    assert_eq!(par, seq, "chunks");
    let fns = rdb_parser::SpeculativeFold {
        init: || (0, 0, 0),
        init_guessed: || (0, 0, 0),
        fold: add,
        merge,
        relabel: |_: &mut (u64, u64, u64), _| {},
    };
    let progress = std::sync::atomic::AtomicU64::new(0);
    let spec = rdb.par_fold_speculative(8192, &progress, fns).unwrap();
    assert_eq!(spec, seq, "speculative");
}
