//! Integer encodings of the pages: bit packing, the RLE/bit-packing
//! hybrid, `DELTA_BINARY_PACKED`, and the min/max statistics.

use super::page::{varint, zigzag};

/// Packs `values` (each below `2^width`) LSB first, as Parquet's
/// bit-packed runs and delta miniblocks store them. `values.len() *
/// width` must be a multiple of 8.
#[inline(always)]
fn bitpack<T: Copy + Into<u64>>(out: &mut Vec<u8>, values: &[T], width: u32) {
    if width == 0 {
        return;
    }
    let total = (values.len() * width as usize).div_ceil(8);
    let start = out.len();
    // Sixteen bytes of slack: whole words are stored, then cut back.
    out.resize(start + total + 16, 0);
    let buf = &mut out[start..];
    if width <= 16 && values.len().is_multiple_of(8) {
        // Eight values fill exactly `width` bytes: pack them in one word
        // (dictionary ids, definition levels and most miniblocks are this
        // narrow).
        let width = width as usize;
        for (group, at) in values.chunks_exact(8).zip((0..).step_by(width)) {
            if width <= 8 {
                let mut word = 0u64;
                for (k, &v) in group.iter().enumerate() {
                    word |= v.into() << (k * width);
                }
                buf[at..at + 8].copy_from_slice(&word.to_le_bytes());
            } else {
                let mut word = 0u128;
                for (k, &v) in group.iter().enumerate() {
                    word |= u128::from(v.into()) << (k * width);
                }
                buf[at..at + 16].copy_from_slice(&word.to_le_bytes());
            }
        }
        out.truncate(start + total);
        return;
    }
    let mut acc = 0u64;
    let mut bits = 0u32;
    let mut pos = 0;
    for &v in values {
        let v: u64 = v.into();
        acc |= v << bits;
        if bits + width >= 64 {
            buf[pos..pos + 8].copy_from_slice(&acc.to_le_bytes());
            pos += 8;
            acc = if bits == 0 { 0 } else { v >> (64 - bits) };
            bits = bits + width - 64;
        } else {
            bits += width;
        }
    }
    buf[pos..pos + 8].copy_from_slice(&acc.to_le_bytes());
    out.truncate(start + total);
}

pub(super) fn bit_width(max: u64) -> u32 {
    64 - max.leading_zeros()
}

/// The RLE/bit-packing hybrid (definition levels, dictionary indices):
/// one RLE run when every value is the same, else bit-packed runs of at
/// most 63 groups of eight.
pub(super) fn hybrid<T: Copy + Default + PartialEq + Into<u64>>(
    out: &mut Vec<u8>,
    values: &[T],
    width: u32,
) {
    let Some(&first) = values.first() else {
        return;
    };
    // Compared a chunk at a time without an early exit inside it: the
    // compiler can then vectorize the compares.
    if values
        .chunks(256)
        .all(|c| c.iter().fold(true, |same, &v| same & (v == first)))
    {
        varint(out, (values.len() as u64) << 1);
        out.extend_from_slice(&first.into().to_le_bytes()[..width.div_ceil(8) as usize]);
        return;
    }
    for run in values.chunks(63 * 8) {
        let groups = run.len().div_ceil(8);
        varint(out, (groups as u64) << 1 | 1);
        let full = run.len() / 8 * 8;
        bitpack(out, &run[..full], width);
        if full < run.len() {
            let mut last = [T::default(); 8];
            last[..run.len() - full].copy_from_slice(&run[full..]);
            bitpack(out, &last, width);
        }
    }
}

/// One page of an integer column: its values `DELTA_BINARY_PACKED` into
/// `out` (as 32-bit integers with `int32`), their least and greatest
/// added to `stats` (compared unsigned with `unsigned`).
///
/// Where the CPU has AVX2 the same code runs compiled for it: the
/// per-value loops (deltas, their minimum, the packing, the statistics)
/// then work on four 64-bit lanes where baseline x86-64 has no 64-bit
/// compare to vectorize them with.
pub(super) fn encode_ints(
    out: &mut Vec<u8>,
    values: &[i64],
    int32: bool,
    unsigned: bool,
    stats: &mut MinMax,
) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        #[allow(unsafe_code)]
        // SAFETY: the CPU has AVX2, the one feature the function enables
        // (checked just above; `std` caches the check).
        unsafe {
            encode_ints_avx2(out, values, int32, unsigned, stats)
        };
        return;
    }
    encode_ints_inline(out, values, int32, unsigned, stats);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn encode_ints_avx2(
    out: &mut Vec<u8>,
    values: &[i64],
    int32: bool,
    unsigned: bool,
    stats: &mut MinMax,
) {
    encode_ints_inline(out, values, int32, unsigned, stats);
}

#[inline(always)]
fn encode_ints_inline(
    out: &mut Vec<u8>,
    values: &[i64],
    int32: bool,
    unsigned: bool,
    stats: &mut MinMax,
) {
    stats.add(values, unsigned);
    if int32 {
        delta_binary_packed::<true>(out, values);
    } else {
        delta_binary_packed::<false>(out, values);
    }
}

/// `DELTA_BINARY_PACKED` of `values` (128-value blocks of four
/// miniblocks). With `INT32`, deltas wrap in 32 bits as readers of an
/// `INT32` column compute them.
#[inline(always)]
pub(super) fn delta_binary_packed<const INT32: bool>(out: &mut Vec<u8>, values: &[i64]) {
    const BLOCK: usize = 128;
    const MINI: usize = 32;
    let delta = |v: i64, prev: i64| -> i64 {
        if INT32 {
            i64::from((v as i32).wrapping_sub(prev as i32))
        } else {
            v.wrapping_sub(prev)
        }
    };
    let first = values.first().copied().unwrap_or(0);
    varint(out, BLOCK as u64);
    varint(out, (BLOCK / MINI) as u64);
    varint(out, values.len() as u64);
    varint(out, zigzag(first));
    let mut deltas = [0i64; BLOCK];
    let mut packed = [0u64; BLOCK];
    let mut prev = first;
    for block in values.get(1..).unwrap_or_default().chunks(BLOCK) {
        let n = block.len();
        deltas[0] = delta(block[0], prev);
        for (d, pair) in deltas[1..].iter_mut().zip(block.windows(2)) {
            *d = delta(pair[1], pair[0]);
        }
        prev = block[n - 1];
        let min = deltas[..n].iter().copied().fold(i64::MAX, i64::min);
        varint(out, zigzag(min));
        for (p, &d) in packed.iter_mut().zip(&deltas[..n]) {
            *p = if INT32 {
                u64::from((d as i32).wrapping_sub(min as i32) as u32)
            } else {
                d.wrapping_sub(min) as u64
            };
        }
        // Padding of the last miniblock: zeros.
        let used = n.next_multiple_of(MINI);
        packed[n..used].fill(0);
        let widths_at = out.len();
        out.extend_from_slice(&[0; BLOCK / MINI]);
        for (m, mini) in packed[..used].chunks_exact(MINI).enumerate() {
            let width = bit_width(mini.iter().fold(0, |a, &b| a | b));
            out[widths_at + m] = width as u8;
            bitpack(out, mini, width);
        }
    }
}

/// Min and max of an integer column chunk.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct MinMax {
    pub(super) min: i64,
    pub(super) max: i64,
    /// Any value seen.
    pub(super) any: bool,
}

impl MinMax {
    #[inline(always)]
    pub(super) fn add(&mut self, values: &[i64], unsigned: bool) {
        let Some(&first) = values.first() else {
            return;
        };
        if !self.any {
            *self = MinMax {
                min: first,
                max: first,
                any: true,
            };
        }
        // Unsigned values compare as signed ones with the top bit flipped.
        let flip = if unsigned { i64::MIN } else { 0 };
        let (lo, hi) = min_max(values, flip);
        let (min, max) = (self.min ^ flip, self.max ^ flip);
        self.min = min.min(lo) ^ flip;
        self.max = max.max(hi) ^ flip;
    }
}

/// The least and greatest of `values` (not empty), each XORed with
/// `flip`. Four lanes: one running minimum would be a chain of dependent
/// compares, one per value.
#[inline(always)]
fn min_max(values: &[i64], flip: i64) -> (i64, i64) {
    let first = values[0] ^ flip;
    let mut lo = [first; 4];
    let mut hi = [first; 4];
    let mut quads = values.chunks_exact(4);
    for q in &mut quads {
        for k in 0..4 {
            let v = q[k] ^ flip;
            lo[k] = lo[k].min(v);
            hi[k] = hi[k].max(v);
        }
    }
    for &v in quads.remainder() {
        lo[0] = lo[0].min(v ^ flip);
        hi[0] = hi[0].max(v ^ flip);
    }
    (
        lo[0].min(lo[1]).min(lo[2].min(lo[3])),
        hi[0].max(hi[1]).max(hi[2].max(hi[3])),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::Lcg;

    /// Reads a bit-packed stream back, LSB first, one bit at a time.
    fn unpack(bytes: &[u8], width: u32, n: usize) -> Vec<u64> {
        (0..n)
            .map(|i| {
                let mut v = 0u64;
                for b in 0..width as usize {
                    let bit = i * width as usize + b;
                    if bytes[bit / 8] >> (bit % 8) & 1 == 1 {
                        v |= 1 << b;
                    }
                }
                v
            })
            .collect()
    }

    #[test]
    fn bitpack_matches_a_bit_by_bit_reader() {
        let mut rng = Lcg(7);
        for width in 0..=64u32 {
            // 12 values: not whole groups of eight (the general loop).
            for n in [8usize, 32, 64, 200, 12] {
                if !(n * width as usize).is_multiple_of(8) {
                    continue;
                }
                let values: Vec<u64> = (0..n)
                    .map(|_| match width {
                        64 => rng.next(),
                        w => rng.next() & ((1u64 << w) - 1),
                    })
                    .collect();
                let mut out = vec![0xAA]; // appends after what is there
                bitpack(&mut out, &values, width);
                assert_eq!(out.len(), 1 + n * width as usize / 8, "width {width}");
                assert_eq!(out[0], 0xAA);
                assert_eq!(unpack(&out[1..], width, n), values, "width {width}");
            }
        }
    }

    #[test]
    fn encode_ints_is_the_same_with_and_without_avx2() {
        // `encode_ints` takes the AVX2 build where the CPU has it; the
        // portable one must write the same bytes and statistics.
        let mut rng = Lcg(5);
        for n in [1usize, 2, 31, 129, 4096] {
            for spread in [0u32, 3, 31, 63] {
                let values: Vec<i64> = (0..n)
                    .map(|_| match spread {
                        0 => -7,
                        s => (rng.next() >> (64 - s)) as i64 - (1 << (s - 1)),
                    })
                    .collect();
                for (int32, unsigned) in
                    [(true, false), (true, true), (false, false), (false, true)]
                {
                    let (mut a, mut b) = (vec![1u8], vec![1u8]);
                    let (mut sa, mut sb) = (MinMax::default(), MinMax::default());
                    encode_ints(&mut a, &values, int32, unsigned, &mut sa);
                    encode_ints_inline(&mut b, &values, int32, unsigned, &mut sb);
                    assert_eq!(a, b, "n {n} spread {spread} int32 {int32}");
                    assert_eq!((sa.min, sa.max, sa.any), (sb.min, sb.max, sb.any));
                    assert!(sa.any && a.len() > 1);
                }
            }
        }
    }

    #[test]
    fn min_max_equals_a_plain_scan_signed_and_unsigned() {
        let mut rng = Lcg(11);
        for n in [1usize, 3, 4, 5, 8, 127, 4096] {
            for spread in [0u32, 8, 40, 64] {
                let draw = |rng: &mut Lcg| match spread {
                    0 => 42,
                    64 => rng.next() as i64,
                    s => (rng.next() >> (64 - s)) as i64 - (1 << (s - 1)),
                };
                // Two pages into one chunk, as the column adds them.
                let a: Vec<i64> = (0..n).map(|_| draw(&mut rng)).collect();
                let b: Vec<i64> = (0..n / 2 + 1).map(|_| draw(&mut rng)).collect();
                let all: Vec<i64> = a.iter().chain(&b).copied().collect();
                let mut signed = MinMax::default();
                signed.add(&a, false);
                signed.add(&b, false);
                assert_eq!(
                    signed.min,
                    *all.iter().min().unwrap(),
                    "n {n} spread {spread}"
                );
                assert_eq!(
                    signed.max,
                    *all.iter().max().unwrap(),
                    "n {n} spread {spread}"
                );
                let mut unsigned = MinMax::default();
                unsigned.add(&a, true);
                unsigned.add(&b, true);
                let u = |v: &i64| *v as u64;
                assert_eq!(unsigned.min as u64, all.iter().map(u).min().unwrap());
                assert_eq!(unsigned.max as u64, all.iter().map(u).max().unwrap());
            }
        }
    }
}
