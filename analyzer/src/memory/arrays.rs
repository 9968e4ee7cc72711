//! Sparse arrays (Redis 8.8): the array header, its directory of slices,
//! the slices (sparse or dense) and the values that do not fit in a tagged
//! word.
//!
//! Layout from redis/redis `src/sparsearray.h` (2026): a `redisArray`
//! header (80 bytes) points to a flat directory of slice pointers, or, for
//! large indices, to a super-directory of 2048-pointer blocks
//! (`AR_SUPER_BLOCK_SLOTS`); a slice covers `AR_SLICE_SIZE_DEFAULT` (4096)
//! indices and is one allocation of its 32-byte `arSlice` plus its payload:
//! sorted `uint16_t` offsets and value words when sparse, a power-of-two
//! window of value words (at least `AR_SLICE_MIN_ALLOC` = 8) when dense.
//! Values are tagged words: integers within 62 bits, doubles and strings of
//! up to 7 bytes live in the word; longer strings are an `arString`
//! allocation. Unmeasured assumptions (the header does not say): a slice
//! is sparse up to `AR_SPARSE_KMAX_DEFAULT` (10) entries with no spare
//! capacity, the flat directory grows to a power of two and is used below
//! 2048 slices, and an `arString` is an 8-byte length plus the bytes.

use std::collections::BTreeMap;

use rdb_parser::{ArrayItem, Entry, Scratch};

use super::layouts::Profile;
use super::measure::Measure;
use crate::server::ObjEncoding;

const ARRAY_STRUCT: u64 = 80;
const SLICE_STRUCT: u64 = 32;
const SLICE_BITS: u32 = 12;
const SUPER_BLOCK_SLOTS: u64 = 2048;
const SPARSE_KMAX: u64 = 10;
const SLICE_MIN_ALLOC: u64 = 8;
const SMALLSTR_MAX: u64 = 7;

#[derive(Clone, Copy)]
struct Slice {
    count: u64,
    min_off: u64,
    max_off: u64,
}

/// Bytes of one slice with `s.count` values.
fn slice_bytes(p: &Profile, s: &Slice) -> u64 {
    if s.count <= SPARSE_KMAX {
        let offsets = (2 * s.count).next_multiple_of(8);
        p.j(SLICE_STRUCT + offsets + 8 * s.count)
    } else {
        let window = (s.max_off - s.min_off + 1)
            .next_power_of_two()
            .max(SLICE_MIN_ALLOC);
        p.j(SLICE_STRUCT + 8 * window)
    }
}

/// Bytes of a value beyond its tagged word.
fn value_bytes(p: &Profile, item: &ArrayItem<'_>) -> (u64, u64) {
    let fits = |i: i64| (-(1i64 << 61)..(1i64 << 61)).contains(&i);
    let len = match item {
        ArrayItem::Int(i) if fits(*i) => return (0, rdb_parser::decimal_len(*i) as u64),
        ArrayItem::Int(i) => rdb_parser::decimal_len(*i) as u64,
        ArrayItem::Float(f) => return (0, rdb_parser::format_float(*f).len() as u64),
        ArrayItem::Str(s) => s.len(),
    };
    if len <= SMALLSTR_MAX {
        (0, len)
    } else {
        (p.j(8 + len), len)
    }
}

/// Estimates a sparse array key's value.
#[inline(never)]
pub(super) fn measure_array(
    p: &Profile,
    e: &Entry<'_>,
    scratch: &mut Scratch,
) -> rdb_parser::Result<Measure> {
    let mut slices: BTreeMap<u64, Slice> = BTreeMap::new();
    let (mut values, mut max_len) = (0u64, 0u64);
    let h = e.value.walk_array(scratch, |idx, item| {
        let (bytes, len) = value_bytes(p, &item);
        values += bytes;
        max_len = max_len.max(len);
        let off = idx & ((1 << SLICE_BITS) - 1);
        let s = slices.entry(idx >> SLICE_BITS).or_insert(Slice {
            count: 0,
            min_off: off,
            max_off: off,
        });
        s.count += 1;
        s.min_off = s.min_off.min(off);
        s.max_off = s.max_off.max(off);
    })?;
    let highest = slices.keys().next_back().copied().unwrap_or(0);
    let directory = if highest < SUPER_BLOCK_SLOTS {
        p.j(8 * (highest + 1).next_power_of_two())
    } else {
        let mut blocks: Vec<u64> = slices.keys().map(|id| id / SUPER_BLOCK_SLOTS).collect();
        blocks.dedup();
        let n = blocks.len() as u64;
        p.j(24 * n) + n * p.j(8 * SUPER_BLOCK_SLOTS)
    };
    let slice_total: u64 = slices.values().map(|s| slice_bytes(p, s)).sum();
    Ok(Measure {
        encoding: ObjEncoding::SlicedArray,
        memory_bytes: 16 + p.j(ARRAY_STRUCT) + directory + slice_total + values,
        elements: h.count,
        max_element_bytes: max_len,
    })
}

#[cfg(test)]
mod tests {
    use super::super::{Allocator, Era};
    use super::*;
    use crate::EncodingLimits;

    #[test]
    fn sparse_and_dense_slices() {
        let p = Profile::new(
            Era::Redis86,
            Allocator::Jemalloc,
            false,
            EncodingLimits::default(),
        );
        let sparse = Slice {
            count: 3,
            min_off: 0,
            max_off: 4000,
        };
        let dense = Slice {
            count: 100,
            min_off: 10,
            max_off: 109,
        };
        assert_eq!(slice_bytes(&p, &sparse), p.j(32 + 8 + 24));
        assert_eq!(slice_bytes(&p, &dense), p.j(32 + 8 * 128));
    }
}
