//! The CRC16 of cluster slots by tables: eight lookups for eight bytes.

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

pub(super) static TABLE: [u16; 256] = make_table();

/// `SHIFTED[k][x]`: the CRC of byte `x` followed by `k` zero bytes. The
/// CRC is linear, so eight message bytes (with the running CRC folded into
/// the first two) are eight lookups (`crc16`).
const fn make_shifted_tables() -> [[u16; 256]; 8] {
    let t = make_table();
    let mut out = [[0u16; 256]; 8];
    out[0] = t;
    let mut k = 1;
    while k < 8 {
        let mut i = 0;
        while i < 256 {
            // One more zero byte after the CRC so far.
            let c = out[k - 1][i];
            out[k][i] = (c << 8) ^ t[(c >> 8) as usize];
            i += 1;
        }
        k += 1;
    }
    out
}

pub(super) static SHIFTED: [[u16; 256]; 8] = make_shifted_tables();

/// One step of [`crc16`]: the CRC so far, then the eight bytes of `word`
/// (big-endian: its first byte on top).
#[inline(always)]
pub(super) fn crc16_word(crc: u16, word: u64) -> u16 {
    let x = word ^ (u64::from(crc) << 48);
    SHIFTED[7][(x >> 56) as usize]
        ^ SHIFTED[6][(x >> 48) as usize & 0xff]
        ^ SHIFTED[5][(x >> 40) as usize & 0xff]
        ^ SHIFTED[4][(x >> 32) as usize & 0xff]
        ^ SHIFTED[3][(x >> 24) as usize & 0xff]
        ^ SHIFTED[2][(x >> 16) as usize & 0xff]
        ^ SHIFTED[1][(x >> 8) as usize & 0xff]
        ^ SHIFTED[0][x as usize & 0xff]
}

/// CRC16-XMODEM, the checksum Redis Cluster hashes keys with; eight bytes
/// per step.
pub fn crc16(data: &[u8]) -> u16 {
    let mut crc = 0u16;
    let mut words = data.chunks_exact(8);
    for w in &mut words {
        crc = crc16_word(crc, u64::from_be_bytes(w.try_into().expect("eight bytes")));
    }
    // The rest two bytes per step, then maybe one.
    let mut pairs = words.remainder().chunks_exact(2);
    for p in &mut pairs {
        let t = crc ^ u16::from_be_bytes([p[0], p[1]]);
        crc = SHIFTED[1][usize::from(t >> 8)] ^ SHIFTED[0][usize::from(t & 0xff)];
    }
    pairs.remainder().iter().fold(crc, |crc, &b| {
        (crc << 8) ^ TABLE[usize::from(((crc >> 8) as u8) ^ b)]
    })
}
