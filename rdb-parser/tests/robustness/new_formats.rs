//! Files in the formats added in 2026, built byte by byte from the servers'
//! definitions: read whole, every prefix fails cleanly at or before the
//! cut, and seeded mutations never panic nor allocate beyond bounds.

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
    vec![("enterprise opcodes 107 and 121", enterprise_file())]
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
