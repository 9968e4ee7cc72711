//! CRC-64 as Redis computes it (Jones polynomial, reflected, init 0, no
//! final xor), by the `crc` crate, and the combination of two CRCs so that
//! pieces of a file can be checked on several threads.

use crc::{Crc, Table, CRC_64_REDIS};

/// The `crc` crate's slice-by-16 tables for Redis's CRC-64: measured 10 %
/// faster than this crate's own slice-by-8 loop (1.90 against 1.73 GiB/s on
/// one core, `cargo bench --bench parse -- crc64`, 2026-12-06), so the crate
/// computes the CRC and this module adds only what it lacks: combining the
/// CRCs of pieces checked on different threads.
static CRC64: Crc<u64, Table<16>> = Crc::<u64, Table<16>>::new(&CRC_64_REDIS);

/// Continues a CRC over `data`.
pub fn update(crc: u64, data: &[u8]) -> u64 {
    // The crate takes an initial value as the algorithm states it and
    // reflects it into its register; a running CRC of this reflected
    // algorithm is already the register, so it is reflected back first.
    let mut digest = CRC64.digest_with_initial(crc.reverse_bits());
    digest.update(data);
    digest.finalize()
}

/// The Jones polynomial 0xad93d23594c935a9, bit-reversed (for [`combine`]).
const POLY: u64 = 0x95ac_9329_ac4b_c9b5;

/// CRC of `data` from scratch.
pub fn checksum(data: &[u8]) -> u64 {
    update(0, data)
}

fn gf2_times(mat: &[u64; 64], mut vec: u64) -> u64 {
    let mut sum = 0;
    let mut i = 0;
    while vec != 0 {
        if vec & 1 == 1 {
            sum ^= mat[i];
        }
        vec >>= 1;
        i += 1;
    }
    sum
}

fn gf2_square(square: &mut [u64; 64], mat: &[u64; 64]) {
    for n in 0..64 {
        square[n] = gf2_times(mat, mat[n]);
    }
}

/// CRC of `A || B` from `crc(A)`, `crc(B)` and the length of `B`.
pub fn combine(mut crc_a: u64, crc_b: u64, mut len_b: u64) -> u64 {
    if len_b == 0 {
        return crc_a;
    }
    let mut odd = [0u64; 64];
    let mut even = [0u64; 64];
    odd[0] = POLY;
    let mut row = 1u64;
    for slot in odd.iter_mut().skip(1) {
        *slot = row;
        row <<= 1;
    }
    gf2_square(&mut even, &odd);
    gf2_square(&mut odd, &even);
    loop {
        gf2_square(&mut even, &odd);
        if len_b & 1 == 1 {
            crc_a = gf2_times(&even, crc_a);
        }
        len_b >>= 1;
        if len_b == 0 {
            break;
        }
        gf2_square(&mut odd, &even);
        if len_b & 1 == 1 {
            crc_a = gf2_times(&odd, crc_a);
        }
        len_b >>= 1;
        if len_b == 0 {
            break;
        }
    }
    crc_a ^ crc_b
}

/// CRC of `data`, split across the rayon pool in pieces of at least `piece` bytes.
pub fn par_checksum(data: &[u8], piece: usize) -> u64 {
    use rayon::prelude::*;
    let piece = piece.max(1 << 16);
    if data.len() <= piece {
        return checksum(data);
    }
    let parts: Vec<(u64, u64)> = data
        .par_chunks(piece)
        .map(|c| (checksum(c), c.len() as u64))
        .collect();
    parts
        .into_iter()
        .fold(0u64, |acc, (crc, len)| combine(acc, crc, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_value() {
        assert_eq!(checksum(b"123456789"), 0xe9c6d914c4b8d9ca);
    }

    #[test]
    fn combination_equals_whole() {
        let data: Vec<u8> = (0..100_000u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        let whole = checksum(&data);
        for cut in [0, 1, 7, 8, 9, 4096, 99_999, 100_000] {
            let (a, b) = data.split_at(cut);
            assert_eq!(
                combine(checksum(a), checksum(b), b.len() as u64),
                whole,
                "cut {cut}"
            );
        }
        assert_eq!(par_checksum(&data, 1 << 16), whole);
        assert_eq!(update(checksum(&data[..10]), &data[10..]), whole);
    }
}
