//! CRC-64 as Redis computes it (Jones polynomial, reflected, init 0, no
//! final xor), table-driven eight bytes at a time, and the combination of
//! two CRCs so that pieces of a file can be checked on several threads.

/// The Jones polynomial 0xad93d23594c935a9, bit-reversed.
const POLY: u64 = 0x95ac_9329_ac4b_c9b5;

const fn make_tables() -> [[u64; 256]; 8] {
    let mut t = [[0u64; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u64;
        let mut k = 0;
        while k < 8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ POLY
            } else {
                crc >> 1
            };
            k += 1;
        }
        t[0][i] = crc;
        i += 1;
    }
    let mut s = 1;
    while s < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = t[s - 1][i];
            t[s][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            i += 1;
        }
        s += 1;
    }
    t
}

static TABLES: [[u64; 256]; 8] = make_tables();

/// Continues a CRC over `data`.
pub fn update(mut crc: u64, data: &[u8]) -> u64 {
    let t = &TABLES;
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let v = crc ^ u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        crc = t[7][(v & 0xff) as usize]
            ^ t[6][((v >> 8) & 0xff) as usize]
            ^ t[5][((v >> 16) & 0xff) as usize]
            ^ t[4][((v >> 24) & 0xff) as usize]
            ^ t[3][((v >> 32) & 0xff) as usize]
            ^ t[2][((v >> 40) & 0xff) as usize]
            ^ t[1][((v >> 48) & 0xff) as usize]
            ^ t[0][(v >> 56) as usize];
    }
    for &b in chunks.remainder() {
        crc = t[0][((crc ^ u64::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    crc
}

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
