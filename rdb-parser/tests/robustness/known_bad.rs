//! Known bad inputs found by these tests, kept so that a fix shows up green.

use std::panic::catch_unwind;

use super::craft::{cat, file_with, len, long_length, rdb11, s};
use super::guard::{guarded_walk, install_panic_hook, Outcome, LAST_PANIC, QUIET};

/// HASH_METADATA (type 24) stores each field's expire time as `ttl` relative to
/// the hash's minimum (`min + ttl - 1`). A ttl of 2^63 made `ttl as i64 - 1`
/// overflow: a panic in builds with overflow checks (debug, `cargo test`
/// without --release); release builds wrap instead.
#[test]
fn hash_metadata_field_ttl_of_2_pow_63_is_an_error_not_an_overflow() {
    for (min, ttl) in [
        (1000i64, 1u64 << 63),
        (0, 1 << 63),
        (-5, 1 << 63),
        (i64::MAX, u64::MAX),
        (i64::MIN, 1 << 63),
    ] {
        let value = cat(&[
            &min.to_le_bytes(),
            &len(1),
            &long_length(ttl, true),
            &s(b"f"),
            &s(b"v"),
        ]);
        let input = file_with(b"REDIS0012", 24, &value);
        let (outcome, _, _) = guarded_walk(&input);
        match outcome {
            Outcome::Panic(p) => panic!("min {min}, ttl {ttl:#x}: {p}"),
            Outcome::Ok(_) | Outcome::Err(_) => {}
        }
    }
}

/// An LZF string's compressed length is checked against what LZF can expand
/// to (`len > clen * 89 + 64` is refused). With `clen` near 2^64 the
/// saturating multiply gives u64::MAX and the `+ 64` overflows: a panic in
/// builds with overflow checks (string.rs, `RdbString::read`; reached through
/// keys, aux fields and every decoded string). Release builds wrap to 63 and
/// then fail on the missing bytes.
#[test]
fn lzf_compressed_length_near_u64_max_is_an_error_not_an_overflow() {
    for clen in [u64::MAX, u64::MAX / 89 + 1, 1 << 62] {
        // As a key.
        let key = cat(&[
            b"REDIS0011\xfe\x00\x00",
            &[0xc3],
            &long_length(clen, true),
            &len(10),
            b"abc",
            &s(b"v"),
            &[0xff],
            &[0; 8],
        ]);
        // As a list element, an aux value and a stream node key.
        let element = rdb11(
            1,
            &cat(&[&len(1), &[0xc3], &long_length(clen, true), &len(10), b"abc"]),
        );
        let aux = cat(&[
            b"REDIS0011\xfa",
            &s(b"name"),
            &[0xc3],
            &long_length(clen, true),
            &len(10),
            b"abc",
            &[0xff],
            &[0; 8],
        ]);
        for (what, input) in [("key", key), ("list element", element), ("aux value", aux)] {
            match guarded_walk(&input).0 {
                Outcome::Err(_) => {}
                Outcome::Ok(w) => panic!("{what} with LZF clen {clen:#x}: accepted ({w:?})"),
                Outcome::Panic(p) => panic!("{what} with LZF clen {clen:#x}: {p}"),
            }
        }
    }
}

/// `rdb_parser::lzf_decompress` is public; an absurd `expected_len` must be an
/// error, not a "capacity overflow" panic from reserving it up front.
#[test]
fn lzf_decompress_with_absurd_expected_len_is_an_error() {
    install_panic_hook();
    for expected in [usize::MAX, usize::MAX / 2 + 1] {
        QUIET.with(|q| q.set(true));
        let r = catch_unwind(|| rdb_parser::lzf_decompress(&[0, b'a'], expected, &mut Vec::new()));
        QUIET.with(|q| q.set(false));
        match r {
            Ok(Ok(())) => panic!("expected_len {expected:#x}: accepted one byte"),
            Ok(Err(_)) => {}
            Err(_) => panic!(
                "lzf_decompress(expected_len = {expected:#x}) panicked: {}",
                LAST_PANIC
                    .with(|p| p.borrow_mut().take())
                    .unwrap_or_default()
            ),
        }
    }
}
