//! The CRC16 of cluster slots by carry-less multiplication (x86-64's
//! `PCLMULQDQ`): eight bytes a step with one multiplication where the
//! tables take eight lookups.
//!
//! The CRC of a message `M` is `M·x¹⁶ mod P` (`P = x¹⁶ + 0x1021`). A step
//! takes the CRC so far into the top of the next eight bytes, `v`, and
//! leaves `v·x¹⁶ mod P`. Barrett reduction finds it: with
//! `μ = ⌊x⁸⁰ / P⌋ = x⁶⁴ + μ'`, the quotient is `q = v ⊕ hi64(v·μ')` (exact
//! for polynomials: nothing carries), and the remainder the low 16 bits of
//! `q·P`, that is of `q·0x1021` (`q·x¹⁶` has none there): two shifts and
//! two XORs of `q`'s low 16 bits. Written for the per-key loop, where it
//! saves about 30 instructions a key on the whole-file benchmark's file
//! (`benches/RESULTS.md`, "The slot's CRC by carry-less multiplication").

use std::arch::x86_64::{
    __m128i, _mm_clmulepi64_si128, _mm_cvtsi128_si64, _mm_cvtsi64_si128, _mm_unpackhi_epi64,
};

/// `μ'`: the low 64 bits of `⌊x⁸⁰ / P⌋` (its bit 64 is set).
const MU: u64 = {
    let p: u128 = 0x1_1021;
    let mut r: u128 = 1 << 80;
    let mut q: u128 = 0;
    let mut i = 80;
    while i >= 16 {
        if r & (1 << i) != 0 {
            r ^= p << (i - 16);
            q |= 1 << (i - 16);
        }
        i -= 1;
    }
    q as u64
};

/// The CRC so far, then the eight bytes of `word` (big-endian: its first
/// byte on top).
#[inline]
#[target_feature(enable = "pclmulqdq")]
fn step(crc: u16, word: u64) -> u16 {
    let v = word ^ (u64::from(crc) << 48);
    let prod: __m128i = _mm_clmulepi64_si128(
        _mm_cvtsi64_si128(v as i64),
        _mm_cvtsi64_si128(MU as i64),
        0x00,
    );
    let hi = _mm_cvtsi128_si64(_mm_unpackhi_epi64(prod, prod)) as u64;
    let q = (v ^ hi) & 0xffff;
    ((q << 12) ^ (q << 5) ^ q) as u16
}

/// [`super::pass::short_key_crc`] with [`step`].
#[target_feature(enable = "pclmulqdq")]
pub(super) fn short_key_crc(key: &[u8]) -> Option<u16> {
    super::pass::short_key_crc(key, |crc, w| step(crc, w))
}

#[cfg(test)]
mod tests {
    #[test]
    fn steps_equal_the_tables() {
        if !std::arch::is_x86_feature_detected!("pclmulqdq") {
            eprintln!("SKIP: this CPU has no PCLMULQDQ");
            return;
        }
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for crc in [0u16, 1, 0x8000, 0xffff, 0x1021, 0x31c3] {
            for _ in 0..2000 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                #[allow(unsafe_code)]
                // SAFETY: the CPU has PCLMULQDQ (checked above).
                let got = unsafe { super::step(crc, x) };
                assert_eq!(
                    got,
                    super::super::tables::crc16_word(crc, x),
                    "{crc:#x} {x:#x}"
                );
            }
        }
    }
}
