//! The files that are bad on purpose fail the specific way they are bad.

use rdb_parser::{ChecksumStatus, ErrorKind, Rdb};

use super::files::{corpus_file, summary_of};
use super::walk::walk_all;

#[test]
fn corrupt_ziplist_is_refused() {
    for rel in [
        "redis-redis/corrupt_ziplist.rdb",
        "valkey-valkey/corrupt_ziplist.rdb",
    ] {
        let Some(data) = corpus_file(rel) else { return };
        let e = walk_all(&data).expect_err(rel);
        let msg = e.to_string();
        assert!(
            e.offset() < data.len() as u64,
            "{rel}: offset {} outside the file: {msg}",
            e.offset()
        );
        assert!(
            msg.contains("ziplist"),
            "{rel}: the error does not name the ziplist: {msg}"
        );
        // The hash ziplist of this key is the corrupt value (redis-check-rdb
        // refuses the file at offset 494, inside that record).
        assert_eq!(e.key(), Some(&b"key:000000000091"[..]), "{rel}: {msg}");
        assert!((470..=500).contains(&e.offset()), "{rel}: {msg}");
        // Everything before that record reads fine.
        let rdb = Rdb::new(&data).unwrap();
        let before = rdb
            .entries()
            .take_while(|r| r.as_ref().map(|e| e.record_end <= 470).unwrap_or(false))
            .count();
        assert!(
            before > 10,
            "{rel}: only {before} records before the corrupt one"
        );
    }
}

#[test]
fn pre_ga_module_value_is_refused_naming_the_module() {
    let rel = "redis-replicator/module.rdb";
    let Some(data) = corpus_file(rel) else { return };
    let e = walk_all(&data).expect_err(rel);
    match e.kind() {
        ErrorKind::ModulePreGa { module } => assert_eq!(module, "hellotype", "{e}"),
        other => panic!("{rel}: expected ModulePreGa, got {other:?}: {e}"),
    }
    assert!(e.to_string().contains("hellotype"), "{e}");
    assert_eq!(e.key(), Some(&b"key"[..]), "{e}");
    assert!(e.offset() < data.len() as u64, "{e}");
    assert_eq!(e.version(), Some(8), "{e}");
}

/// `zipmap_big_len.rdb` is `zipmap_that_doesnt_compress.rdb` with the zipmap's
/// count byte set to 0xFF. A zipmap count byte is the entry count below 254,
/// or 254 (ZIPMAP_BIGLEN) for "count unknown"; 255 is the end marker and never
/// a count. Redis refuses the file ("Zipmap integrity check failed"), so the
/// parser should too. (HDT3213/rdb, where the file comes from, reads it.)
#[test]
fn zipmap_count_byte_0xff_is_refused_like_redis() {
    let rel = "hdt3213-rdb/zipmap_big_len.rdb";
    let Some(data) = corpus_file(rel) else { return };
    match walk_all(&data) {
        Ok(s) => panic!(
            "{rel}: accepted a zipmap whose count byte is 0xFF (Redis refuses it); read {} keys, {} elements",
            s.keys, s.elements
        ),
        Err(e) => {
            assert!(e.offset() < data.len() as u64, "{e}");
            assert!(e.to_string().contains("zipmap"), "the error does not name the zipmap: {e}");
            assert_eq!(e.key(), Some(&b"zimap_doesnt_compress"[..]), "{e}");
        }
    }
    // The same bytes with the count byte that Redis wrote read fine.
    let mut fixed = data.clone();
    let at = fixed.iter().position(|&b| b == 0xff).expect("count byte");
    fixed[at] = 2;
    let s = walk_all(&fixed).expect("the original zipmap");
    assert_eq!((s.keys, s.elements), (1, 2));
}

#[test]
fn corrupt_empty_keys_parses_with_nine_empty_collections() {
    for rel in [
        "redis-redis/corrupt_empty_keys.rdb",
        "valkey-valkey/corrupt_empty_keys.rdb",
    ] {
        let Some(s) = summary_of(rel) else { return };
        assert_eq!(s.keys, 9, "{rel}: {s:?}");
        assert_eq!(s.empty_collections, 9, "{rel}: {s:?}");
        assert_eq!(s.elements, 0, "{rel}");
        assert!(
            matches!(s.checksum, ChecksumStatus::Verified(_)),
            "{rel}: {:?}",
            s.checksum
        );
    }
}
