//! The corpus file with Redis Enterprise's per-key opcode 107 (`RAM_LRU`)
//! reads to the end, each key carrying the value the opcode gave it.

use rdb_parser::{ChecksumStatus, Rdb, Record};

use super::files::corpus_file;
use super::walk::walk_all;

/// `redis_ent_opcode_ram_lru.rdb` (redis/librdb `test/dumps/`, read by its
/// `test_redis_ent_opcode_ram_lru`): three string keys in db 0, each after
/// a `RAM_LRU` opcode and one RDB length.
#[test]
fn redis_enterprise_ram_lru_file_reads_with_each_keys_value() {
    let rel = "redis-librdb/redis_ent_opcode_ram_lru.rdb";
    let Some(data) = corpus_file(rel) else { return };
    let s = walk_all(&data).unwrap_or_else(|e| panic!("{rel}: {e}"));
    assert!(
        matches!(s.checksum, ChecksumStatus::Verified(_)),
        "{rel}: {:?}",
        s.checksum
    );
    assert_eq!(s.keys, 3, "{rel}: {s:?}");

    let rdb = Rdb::new(&data).unwrap();
    let mut got = Vec::new();
    let mut buf = Vec::new();
    for r in rdb.records() {
        if let Record::Entry(e) = r.unwrap_or_else(|e| panic!("{rel}: {e}")) {
            let key = e.key.bytes(&mut buf).unwrap().to_vec();
            // The record starts at the opcode, before the type byte.
            assert_eq!(data[e.record_start as usize], 107, "{rel}: {key:?}");
            assert_eq!(e.enterprise.slot_num, None, "{rel}: {key:?}");
            got.push((key, e.enterprise.ram_lru));
        }
    }
    // Each value is the length right after its 0x6b byte in the file:
    // 14-bit lengths `40 43` and `40 5c`, then the 6-bit `32`.
    assert_eq!(
        got,
        vec![
            (b"a".to_vec(), Some(0x43)),
            (b"e".to_vec(), Some(0x5c)),
            (b"c".to_vec(), Some(0x32)),
        ],
        "{rel}"
    );
}
