//! HyperLogLogs grown by PFADD: the sparse representation's spare room.
//!
//! PFADD creates a sparse HLL of 18 bytes with no spare room; each time an
//! update finds fewer than 3 spare bytes, the sds is resized: on 7.2+ to
//! `len + 3`, plus as much again up to 300 bytes, capped at
//! `hll-sparse-max-bytes` (3000); before, to twice `len + 3` (sds greedy
//! growth). The allocator's size class is kept as spare room. A sparse HLL
//! of length L therefore sits on a fixed ladder of allocations (7.2+ with
//! jemalloc: 48, 96, 192, 448, 768, 1280, 1792, 2560, 3072 bytes, where
//! the fourth rung is 384 when the resizing update found 2 spare bytes
//! rather than 1 or 0, and the sparse string can shrink a little as
//! registers merge: measured on Redis 8.2, most but not all keys sit on the
//! rung their length gives); the server that loads the file holds it at
//! its exact size. Dense HLLs (12,304
//! bytes) are allocated exactly either way.

use rdb_parser::RdbString;

use super::layouts::{Era, Profile};

/// The `hll-sparse-max-bytes` default.
const SPARSE_MAX: u64 = 3000;

/// Whether `s` is a sparse HyperLogLog (`HYLL` magic, encoding byte 1),
/// looking at its first bytes only (an LZF-compressed value starts with a
/// literal run that holds them).
pub(super) fn is_sparse_hll(s: RdbString<'_>) -> bool {
    let head: &[u8] = match s {
        RdbString::Raw(b) => b,
        RdbString::Lzf { compressed, .. } => match compressed.split_first() {
            Some((&ctrl, rest)) if ctrl < 32 && usize::from(ctrl) + 1 >= 5 => rest,
            _ => return false,
        },
        RdbString::Int(_) => return false,
    };
    s.len() >= 16 && head.len() >= 5 && &head[..4] == b"HYLL" && head[4] == 1
}

/// Usable size of the sds of a sparse HLL of `len` bytes that PFADD grew.
pub(super) fn sparse_hll_alloc(p: &Profile, len: u64) -> u64 {
    let ladder = p.era >= Era::Redis72;
    // createHLLObject: an sdshdr5 of 18 bytes, no spare room.
    let (mut alloc, mut usable, mut at) = (18u64, p.j(1 + 18 + 1), 18u64);
    while len > at && (!ladder || alloc < SPARSE_MAX) {
        let newlen = if ladder {
            let n = at + 3;
            (n + n.min(300)).min(SPARSE_MAX)
        } else {
            2 * (at + 3)
        };
        let hdr = p.sds_hdr(newlen).max(3);
        usable = p.j(hdr + newlen + 1);
        alloc = usable - hdr - 1;
        // The next resize comes once fewer than 3 bytes are spare: taken
        // as the update that finds 1 (it may find 2 or 0: an update grows
        // the string by 1 to 3 bytes).
        at = alloc - 1;
    }
    usable
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::{Allocator, Era};
    use crate::EncodingLimits;

    #[test]
    fn sparse_ladder() {
        let p = Profile::new(
            Era::Redis74,
            Allocator::Jemalloc,
            false,
            EncodingLimits::default(),
        );
        let got: Vec<u64> = [18, 19, 40, 44, 100, 200, 500, 1000, 2000, 2900]
            .iter()
            .map(|&l| sparse_hll_alloc(&p, l))
            .collect();
        assert_eq!(got, [24, 48, 48, 96, 192, 448, 768, 1280, 2560, 3072]);
        let mut v = b"HYLL\x01\0\0\0".to_vec();
        v.resize(30, 0);
        assert!(is_sparse_hll(RdbString::Raw(&v)));
        v[4] = 0;
        assert!(!is_sparse_hll(RdbString::Raw(&v)));
    }
}
