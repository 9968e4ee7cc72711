//! Redis Cluster key slots: CRC16 (XMODEM: polynomial 0x1021, initial value
//! 0, no reflection) of the key, or of its hash tag, modulo 16384.

/// Number of slots in a Redis Cluster.
pub const SLOTS: usize = 16384;

const fn make_table() -> [u16; 256] {
    let mut table = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = (i as u16) << 8;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

static TABLE: [u16; 256] = make_table();

/// The CRC of a byte `x` followed by a zero byte: with it, two bytes are
/// folded in at once, since the CRC is linear (`crc16_pairs`).
const fn make_pair_table() -> [u16; 256] {
    let t = make_table();
    let mut pair = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        pair[i] = (t[i] << 8) ^ t[(t[i] >> 8) as usize];
        i += 1;
    }
    pair
}

static PAIR_TABLE: [u16; 256] = make_pair_table();

/// CRC16-XMODEM, the checksum Redis Cluster hashes keys with; two bytes
/// per step.
pub fn crc16(data: &[u8]) -> u16 {
    let mut crc = 0u16;
    let mut pairs = data.chunks_exact(2);
    for p in &mut pairs {
        let t = crc ^ u16::from_be_bytes([p[0], p[1]]);
        crc = PAIR_TABLE[usize::from(t >> 8)] ^ TABLE[usize::from(t & 0xff)];
    }
    pairs.remainder().iter().fold(crc, |crc, &b| {
        (crc << 8) ^ TABLE[usize::from(((crc >> 8) as u8) ^ b)]
    })
}

/// The part of a key that is hashed: the bytes between the first `{` and
/// the first `}` after it, when that is not empty; otherwise the whole key
/// (`keyHashSlot` in cluster.c).
pub fn hash_tag(key: &[u8]) -> &[u8] {
    if let Some(open) = memchr::memchr(b'{', key) {
        let rest = &key[open + 1..];
        if let Some(close) = memchr::memchr(b'}', rest) {
            if close > 0 {
                return &rest[..close];
            }
        }
    }
    key
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
    use super::*;

    #[test]
    fn crc16_check_value() {
        assert_eq!(crc16(b"123456789"), 0x31C3);
        assert_eq!(crc16(b""), 0);
    }

    #[test]
    fn crc16_by_pairs_equals_byte_by_byte() {
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
