//! The files that are bad on purpose fail the specific way they are bad.

use rdb_parser::{crc64, ChecksumStatus, Error, ErrorKind, Magic, Rdb};

use super::files::{corpus_file, summary_of};
use super::walk::{walk_all, walk_unverified};

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

/// Asserts that `e` is a CRC64 mismatch reported where the checksum is (the
/// last 8 bytes), with the stored and computed values of `data`.
fn assert_checksum_mismatch_at_the_end(rel: &str, data: &[u8], e: &Error) {
    let checksum_at = data.len() - 8;
    let ErrorKind::ChecksumMismatch { stored, computed } = *e.kind() else {
        panic!("{rel}: expected ChecksumMismatch, got {:?}: {e}", e.kind());
    };
    assert_eq!(e.offset(), checksum_at as u64, "{rel}: {e}");
    let in_file = u64::from_le_bytes(data[checksum_at..].try_into().unwrap());
    assert_eq!(stored, in_file, "{rel}: {e}");
    assert_eq!(
        computed,
        crc64::checksum(&data[..checksum_at]),
        "{rel}: {e}"
    );
    assert_ne!(stored, computed, "{rel}: {e}");
    assert!(e.to_string().contains("CRC64 mismatch"), "{rel}: {e}");
}

/// `invalid_chksum_v8.rdb` has a deliberately wrong CRC64 (librdb's
/// `test_checksum` expects a checksum failure, and a clean parse when told to
/// ignore the checksum): the walk reads every record and fails at the checksum.
#[test]
fn wrong_checksum_is_refused_at_the_checksum() {
    let rel = "redis-librdb/invalid_chksum_v8.rdb";
    let Some(data) = corpus_file(rel) else { return };
    assert_eq!(Rdb::new(&data).unwrap().version(), 8, "{rel}");
    let e = walk_all(&data).expect_err(rel);
    assert_checksum_mismatch_at_the_end(rel, &data, &e);
    // Every record before the checksum reads and decodes completely.
    let s = walk_unverified(&data).unwrap_or_else(|e| panic!("{rel}: {e}"));
    assert_eq!(s.checksum, ChecksumStatus::Skipped, "{rel}");
    assert_eq!(s.eof_offset + 1 + 8, data.len() as u64, "{rel}");
    assert_eq!(s.keys, 3, "{rel}: {s:?}");
    assert!(
        s.aux_fields > 0 && s.inconsistencies.is_empty(),
        "{rel}: {s:?}"
    );
}

/// `future_v19.rdb` says `REDIS0099` in its header (despite its name): a
/// version newer than any server writes. Its CRC64 does not match (the
/// MANIFEST says to read it with checksum verification off). The parser reads
/// newer versions as far as it understands them: here, to the end.
#[test]
fn future_version_reads_to_the_end_without_checksum_verification() {
    let rel = "redis-librdb/future_v19.rdb";
    let Some(data) = corpus_file(rel) else { return };
    let rdb = Rdb::new(&data).unwrap_or_else(|e| panic!("{rel}: {e}"));
    assert_eq!(&data[..9], b"REDIS0099", "{rel}");
    assert_eq!((rdb.magic(), rdb.version()), (Magic::Redis, 99), "{rel}");
    assert!(rdb.is_newer_than_known(), "{rel}");
    assert!(rdb.has_checksum(), "{rel}");

    let s = walk_unverified(&data).unwrap_or_else(|e| panic!("{rel}: {e}"));
    assert_eq!(s.version, 99, "{rel}");
    assert_eq!(s.checksum, ChecksumStatus::Skipped, "{rel}");
    assert_eq!(s.eof_offset + 1 + 8, data.len() as u64, "{rel}");
    assert_eq!(s.trailing_bytes, 0, "{rel}");
    assert_eq!(
        (s.keys, s.keys_per_db.get(&0)),
        (1, Some(&1)),
        "{rel}: {s:?}"
    );
    assert!(
        s.aux_fields > 0 && s.inconsistencies.is_empty(),
        "{rel}: {s:?}"
    );

    // Verified, the checksum is the one thing wrong.
    let e = walk_all(&data).expect_err(rel);
    assert_checksum_mismatch_at_the_end(rel, &data, &e);
}
