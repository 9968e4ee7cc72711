//! One pass over a short key: the CRC16 of its bytes (with a given
//! eight-byte step) and whether it holds a `{`, from the same words.

/// The CRC16 of `key` with `step` for eight bytes at a time (`crc16_word`
/// of the tables, or its equal by carry-less multiplication), when the key
/// has at most 64 bytes and no `{` (most keys); else `None`, and the caller
/// finds the hash tag. The pass starts with the key's first `len % 8` bytes
/// as a word led by zero bytes, which leave a CRC that starts at 0
/// unchanged, then takes whole words.
#[inline(always)]
pub(super) fn short_key_crc(key: &[u8], step: impl Fn(u16, u64) -> u16) -> Option<u16> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    const BRACES: u64 = ONES * b'{' as u64;
    // Flags the bytes of a little-endian word that are `{` (and maybe
    // bytes after one; any flag is enough here).
    let braces = |word: u64| {
        let x = word ^ BRACES;
        x.wrapping_sub(ONES) & !x & HIGHS
    };
    if key.len() > 64 {
        return None;
    }
    let (head, words) = key.split_at(key.len() % 8);
    let mut crc = 0u16;
    let mut seen = 0u64;
    if !head.is_empty() {
        // Zero padding is never `{`.
        let le = crate::words::tail_word(head);
        seen |= braces(le);
        crc = step(crc, le.swap_bytes() >> (64 - 8 * head.len()));
    }
    for w in words.chunks_exact(8) {
        let w: [u8; 8] = w.try_into().expect("eight bytes");
        seen |= braces(u64::from_le_bytes(w));
        crc = step(crc, u64::from_be_bytes(w));
    }
    (seen == 0).then_some(crc)
}
