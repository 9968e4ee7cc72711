//! Short byte tails read as one little-endian word: shared by the pattern
//! hashers, the `keys.parquet` dictionary and the cluster-slot scan.

/// The last bytes of a hashed slice (fewer than eight) as a little-endian
/// word, zero-extended: equal to copying them into a zeroed `[u8; 8]`, but
/// with two overlapping loads instead of a `memcpy` call, which cost more
/// than the hashing on short patterns.
#[inline(always)]
pub(crate) fn tail_word(rest: &[u8]) -> u64 {
    let n = rest.len();
    debug_assert!(n < 8);
    match rest {
        [] => 0,
        [a, ..] if n < 4 => {
            u64::from(*a)
                | u64::from(rest[n / 2]) << (n / 2 * 8)
                | u64::from(rest[n - 1]) << ((n - 1) * 8)
        }
        _ => {
            let lo = rest
                .first_chunk::<4>()
                .map_or(0, |c| u32::from_le_bytes(*c));
            let hi = rest.last_chunk::<4>().map_or(0, |c| u32::from_le_bytes(*c));
            u64::from(lo) | u64::from(hi) << ((n - 4) * 8)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_word_equals_a_zero_extended_copy() {
        let bytes = [0x81u8, 0x02, 0xf3, 0x04, 0x95, 0x06, 0xa7];
        for start in 0..bytes.len() {
            for end in start..bytes.len() {
                let rest = &bytes[start..end];
                if rest.len() >= 8 {
                    continue;
                }
                let mut w = [0u8; 8];
                w[..rest.len()].copy_from_slice(rest);
                assert_eq!(tail_word(rest), u64::from_le_bytes(w), "{rest:?}");
            }
        }
    }
}
