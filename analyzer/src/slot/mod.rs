//! Redis Cluster key slots: CRC16 (XMODEM: polynomial 0x1021, initial value
//! 0, no reflection) of the key, or of its hash tag, modulo 16384.

#[cfg(target_arch = "x86_64")]
mod clmul;
mod pass;
mod tables;

pub use tables::crc16;
use tables::crc16_word;

/// Number of slots in a Redis Cluster.
pub const SLOTS: usize = 16384;

/// The cluster slot of `key` and its hashed part ([`hash_tag`]), in one
/// pass over a key without `{` (most keys): the CRC and the search for
/// `{` read the same words ([`pass::short_key_crc`]).
pub fn slot_and_tag(key: &[u8]) -> (u16, &[u8]) {
    #[cfg(target_arch = "x86_64")]
    let crc = if std::arch::is_x86_feature_detected!("pclmulqdq") {
        #[allow(unsafe_code)]
        // SAFETY: the CPU has PCLMULQDQ, the one feature the function
        // enables (checked just above; `std` caches the check).
        unsafe {
            clmul::short_key_crc(key)
        }
    } else {
        pass::short_key_crc(key, crc16_word)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let crc = pass::short_key_crc(key, crc16_word);
    match crc {
        Some(crc) => (crc & (SLOTS as u16 - 1), key),
        None => {
            let tag = hash_tag(key);
            (tag_slot(tag), tag)
        }
    }
}

/// The part of a key that is hashed: the bytes between the first `{` and
/// the first `}` after it, when that is not empty; otherwise the whole key
/// (`keyHashSlot` in cluster.c).
pub fn hash_tag(key: &[u8]) -> &[u8] {
    if let Some(open) = find_byte(key, b'{') {
        let rest = &key[open + 1..];
        if let Some(close) = find_byte(rest, b'}') {
            if close > 0 {
                return &rest[..close];
            }
        }
    }
    key
}

/// Where the first `b` (not 0) is in `hay`. Keys are short: eight bytes
/// per step in plain integer arithmetic beats setting up a `memchr` call
/// (which still takes the long ones).
#[inline(always)]
fn find_byte(hay: &[u8], b: u8) -> Option<usize> {
    debug_assert_ne!(b, 0);
    if hay.len() > 64 {
        return memchr::memchr(b, hay);
    }
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let pattern = ONES * u64::from(b);
    // The lowest flagged byte of a word is its first `b`: a borrow only
    // flags bytes above a real match.
    let first = |word: u64| {
        let x = word ^ pattern;
        let flags = x.wrapping_sub(ONES) & !x & HIGHS;
        (flags != 0).then(|| (flags.trailing_zeros() / 8) as usize)
    };
    let mut words = hay.chunks_exact(8);
    let mut at = 0;
    for w in &mut words {
        if let Some(p) = first(u64::from_le_bytes(w.try_into().expect("eight bytes"))) {
            return Some(at + p);
        }
        at += 8;
    }
    // The zero padding of the tail never equals `b`.
    first(crate::words::tail_word(words.remainder())).map(|p| at + p)
}

/// The cluster slot of `key` (0..16384).
pub fn key_slot(key: &[u8]) -> u16 {
    tag_slot(hash_tag(key))
}

/// The cluster slot of a key whose hashed part ([`hash_tag`]) is `tag`.
pub fn tag_slot(tag: &[u8]) -> u16 {
    crc16(tag) & (SLOTS as u16 - 1)
}

#[cfg(test)]
mod tests {
    use super::tables::TABLE;
    use super::*;

    #[test]
    fn slot_and_tag_equal_the_two_steps() {
        let mut x = 0x9e37_79b9u32;
        let mut next = || {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (x >> 16) as u8
        };
        let mut checked = [0usize; 2];
        for len in 0..100 {
            for round in 0..40 {
                let mut key: Vec<u8> = (0..len).map(|_| next()).collect();
                // Braces at random places in some keys; bytes next to
                // `{` (0x7a, 0x7c) in others.
                for _ in 0..round % 4 {
                    if len > 0 {
                        let at = usize::from(next()) % len;
                        key[at] = [b'{', b'}', 0x7a, 0x7c][usize::from(next()) % 4];
                    }
                }
                let tag = hash_tag(&key);
                assert_eq!(slot_and_tag(&key), (tag_slot(tag), tag), "{key:?}");
                let by_tables = pass::short_key_crc(&key, crc16_word);
                if let Some(crc) = by_tables {
                    assert_eq!((crc & (SLOTS as u16 - 1), &key[..]), (tag_slot(tag), tag));
                }
                checked[usize::from(key.contains(&b'{'))] += 1;
            }
        }
        assert_eq!(slot_and_tag(b"123456789").0, 0x31C3 & 0x3fff);
        assert_eq!(
            slot_and_tag(b"{user1000}.following"),
            (3443, &b"user1000"[..])
        );
        assert!(checked[0] > 1000 && checked[1] > 1000, "{checked:?}");
    }

    #[test]
    fn crc16_check_value() {
        assert_eq!(crc16(b"123456789"), 0x31C3);
        assert_eq!(crc16(b""), 0);
    }

    #[test]
    fn crc16_by_words_equals_byte_by_byte() {
        let one_by_one = |d: &[u8]| {
            d.iter().fold(0u16, |crc, &b| {
                (crc << 8) ^ TABLE[usize::from(((crc >> 8) as u8) ^ b)]
            })
        };
        let mut data = Vec::new();
        let mut x = 0x1234_5678u32;
        for len in 0..300 {
            assert_eq!(crc16(&data), one_by_one(&data), "length {len}");
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            data.push((x >> 16) as u8);
        }
    }

    #[test]
    fn find_byte_equals_a_plain_search() {
        let mut x = 0x9e37_79b9u32;
        let mut hay = Vec::new();
        for len in 0..100 {
            for round in 0..40 {
                hay.clear();
                for _ in 0..len {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    // Bytes near the searched ones, their high-bit twins, zeros.
                    hay.push(
                        [b'{', b'}', b'z', b'|', 0xfb, 0xfd, 0, 0x7a, 0x80, 0xff]
                            [(x % 10) as usize],
                    );
                }
                if round % 4 == 0 {
                    // Some haystacks without the byte at all.
                    hay.retain(|&c| c != b'{');
                }
                for b in [b'{', b'}'] {
                    assert_eq!(
                        find_byte(&hay, b),
                        hay.iter().position(|&c| c == b),
                        "{b} in {hay:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn known_slots() {
        // Values from CLUSTER KEYSLOT.
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"bar"), 5061);
        assert_eq!(key_slot(b"somekey"), 11058);
        assert_eq!(key_slot(b""), 0);
    }

    #[test]
    fn hash_tags() {
        assert_eq!(
            key_slot(b"{user1000}.following"),
            key_slot(b"{user1000}.followers")
        );
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        // Empty tag: the whole key is hashed.
        assert_eq!(hash_tag(b"foo{}{bar}"), b"foo{}{bar}");
        // Only the first '{' counts; the tag ends at the first '}' after it.
        assert_eq!(hash_tag(b"foo{{bar}}zap"), b"{bar");
        assert_eq!(hash_tag(b"foo{bar}{zap}"), b"bar");
        // No closing brace.
        assert_eq!(hash_tag(b"foo{bar"), b"foo{bar");
    }
}
