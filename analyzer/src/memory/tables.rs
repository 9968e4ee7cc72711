//! Hash-table sizes: Redis dicts and Valkey hashtables, presized on load
//! or grown by adds (with incremental rehashing).

/// Valkey 8.1+ `hashtable` (64-byte buckets of 7 slots; a full bucket chains
/// a child bucket) presized for `n` entries on load. Child buckets depend on
/// the hash seed: their expected number is used.
pub(super) fn valkey_hashtable(n: u64) -> u64 {
    if n == 0 {
        return 72;
    }
    let buckets = next_pow2((5 * n).div_ceil(32)).max(1);
    let lambda = n as f64 / buckets as f64;
    // E[children per bucket] for a Poisson(lambda) load.
    let mut expected = 0.0;
    let mut pm = (-lambda).exp();
    for m in 1..200u64 {
        pm *= lambda / m as f64;
        if m > 7 {
            expected += pm * (m - 7).div_ceil(6) as f64;
        }
    }
    72 + (64.0 * buckets as f64 * (1.0 + expected)).round() as u64
}

/// A hash table presized for `start` entries (`size_for`), then grown by
/// adds to `n` entries with incremental rehashing, one bucket moved per add:
/// it expands to `size_for(used + 1)` when `full(used, size)`, and the old
/// table stays until `steps(old)` adds have moved its buckets. Returns the
/// final table's buckets and the old table's (0 when rehashing finished).
fn grow_table(
    start: u64,
    n: u64,
    size_for: impl Fn(u64) -> u64,
    full: impl Fn(u64, u64) -> bool,
    steps: impl Fn(u64) -> u64,
) -> (u64, u64) {
    let mut size = size_for(start);
    let (mut old, mut steps_left) = (0u64, 0u64);
    for used in start..n {
        if steps_left > 0 {
            steps_left -= 1;
            if steps_left == 0 {
                old = 0;
            }
        } else if full(used, size) {
            old = size;
            size = size_for(used + 1);
            steps_left = steps(old);
        }
    }
    (size, old)
}

/// Buckets of a Redis dict grown from `start` to `n` entries (it expands at
/// load factor 1; about 63 % of the old buckets hold entries then). While it
/// is still rehashing, both tables count.
pub(super) fn dict_buckets_after_conversion(start: u64, n: u64) -> u64 {
    let (size, old) = grow_table(
        start,
        n,
        dict_buckets,
        |used, size| used >= size,
        |old| (old * 632).div_ceil(1000),
    );
    size + old
}

/// Valkey's hash table grown from `start` to `n` entries (it expands when
/// full at 7 entries a bucket, and every old bucket holds entries).
pub(super) fn valkey_hashtable_after_conversion(start: u64, n: u64) -> u64 {
    let presized = |m: u64| next_pow2((5 * m).div_ceil(32)).max(1);
    let (size, old) = grow_table(
        start,
        n,
        presized,
        |used, size| used + 1 > 7 * size,
        |old| old,
    );
    // Same child-bucket expectation as a presized table, plus the extra
    // top-level and old buckets.
    valkey_hashtable(n) + 64 * (size.saturating_sub(presized(n)) + old)
}

/// Buckets (both tables while rehashing) of a Redis dict created for
/// `presize` entries holding `start`, then grown to `n` entries one add at
/// a time, each add moving `steps_per_add` buckets of the old table (SADD
/// and HSET 1; ZADD 2 on Redis 7.x to 8.4, which looks a member up before
/// adding it). A table that doubles at load factor 1 has about 63 % of its
/// old buckets to move, so it stays mid-rehash for the next
/// 0.632·old/`steps_per_add` adds: a set of N members grown past a power
/// of two s is still rehashing (charged 3s buckets, not 2s) while
/// N ≤ about 1.63·s. Collection dicts are rehashed only by their own
/// commands, never by the server's cron, so that state is what the server
/// holds until the key is touched again.
pub(super) fn dict_grown(presize: u64, start: u64, n: u64, steps_per_add: u64) -> u64 {
    let mut size = dict_buckets(presize.max(start));
    let (mut old, mut moves_left) = (0u64, 0u64);
    for used in start..n {
        if moves_left > 0 {
            moves_left -= 1;
            if moves_left == 0 {
                old = 0;
            }
        } else if used >= size {
            old = size;
            size = dict_buckets(used + 1);
            moves_left = (old * 632).div_ceil(1000 * steps_per_add.max(1));
        }
    }
    size + old
}

fn next_pow2(n: u64) -> u64 {
    n.max(1).next_power_of_two()
}

pub(super) fn dict_buckets(n: u64) -> u64 {
    next_pow2(n).max(4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grown_dicts_rehash_for_a_while() {
        // A set converted at its 129th member (presized 256) and grown:
        // past 256 it doubles to 512 and keeps the old 256 for ~162 adds.
        assert_eq!(dict_grown(129, 128, 200, 1), 256);
        assert_eq!(dict_grown(129, 128, 257, 1), 256 + 512);
        assert_eq!(dict_grown(129, 128, 400, 1), 256 + 512);
        assert_eq!(dict_grown(129, 128, 450, 1), 512);
        // Two steps an add (ZADD) finish twice as fast.
        assert_eq!(dict_grown(129, 128, 350, 2), 512);
        // 100,000 members: s = 65,536, 100,000 < 1.632·s: still rehashing.
        assert_eq!(dict_grown(129, 128, 100_000, 1), 65_536 + 131_072);
        assert_eq!(dict_grown(129, 128, 120_000, 1), 131_072);
        // Presized for everything: no growth.
        assert_eq!(dict_grown(1500, 0, 1500, 1), 2048);
    }
}
