//! `--allocator auto`: picks the allocator whose modelled total, plus the
//! server's fixed overhead, comes closest to the file's `used-mem`.
//!
//! The file does not say how the server was built, and the allocator's
//! size classes move most estimates by a few percent. `used-mem` (the
//! server's `used_memory` when it saved) is every key's memory plus what
//! no key is charged for: the empty server (about 0.7–1 MB), the keyspace's
//! own tables, client and replication buffers. The first two are
//! estimated here; the buffers are not known, which is why a candidate is
//! only as good as its distance (reported, per candidate, in
//! `summary.json`).

use rdb_parser::{Rdb, Record, Scratch};

use crate::memory::{measure, Allocator, Era, Profile};
use crate::model::{AllocatorCandidate, AllocatorChoice, FileMeta};

use super::options::Options;

/// Measures every key of `rdb` under each allocator and picks the one
/// whose total plus overhead is closest to `used-mem`; jemalloc (or the
/// `allocator` of `opts`) when the file has no `used-mem`.
pub fn choose_allocator(
    rdb: &Rdb<'_>,
    meta: &FileMeta,
    opts: &Options,
) -> rdb_parser::Result<AllocatorChoice> {
    let Some(used) = meta.used_mem.filter(|&u| u > 0) else {
        return Ok(AllocatorChoice {
            chosen: opts.allocator,
            reason: "no used-mem",
            candidates: Vec::new(),
        });
    };
    let profiles: Vec<Profile> = Allocator::ALL
        .iter()
        .map(|&a| {
            let p = Profile::for_target(meta.target_version, meta.target_valkey, a, opts.limits);
            if opts.fresh_load {
                p.freshly_loaded()
            } else {
                p
            }
        })
        .collect();
    let mut totals = [0u64; 3];
    let (mut keys, mut ttl_keys) = (0u64, 0u64);
    let mut scratch = Scratch::new();
    let mut key_buf = Vec::new();
    for r in rdb.records() {
        let Record::Entry(e) = r? else { continue };
        let key_len = e.key.bytes(&mut key_buf)?.len() as u64;
        keys += 1;
        ttl_keys += u64::from(e.expire_at_ms.is_some());
        for (p, t) in profiles.iter().zip(totals.iter_mut()) {
            *t += measure(p, &e, key_len, &mut scratch)?.memory_bytes;
        }
    }
    let overhead = fixed_overhead(profiles[0].era(), keys, ttl_keys);
    let candidates: Vec<AllocatorCandidate> = Allocator::ALL
        .iter()
        .zip(totals)
        .map(|(&allocator, modelled)| AllocatorCandidate {
            allocator,
            modelled_bytes: modelled,
            overhead_bytes: overhead,
            distance: Some((modelled + overhead) as f64 / used as f64 - 1.0),
        })
        .collect();
    let best = candidates
        .iter()
        .min_by(|a, b| {
            let d = |c: &AllocatorCandidate| c.distance.unwrap_or(f64::INFINITY).abs();
            d(a).total_cmp(&d(b))
        })
        .map_or(opts.allocator, |c| c.allocator);
    Ok(AllocatorChoice {
        chosen: best,
        reason: "used-mem",
        candidates,
    })
}

/// What `used_memory` holds besides the keys' `MEMORY USAGE`: the empty
/// server (measured on the test servers: Redis 6.2–7.4 0.91–0.99 MB,
/// Redis 8.2 0.69 MB, Valkey 9.1 1.02 MB) and the keyspace's tables (the
/// main dict's buckets; the expires dict's buckets and, before Redis 8.2,
/// its 24-byte entries; Valkey's 64-byte buckets of 7 entries).
fn fixed_overhead(era: Era, keys: u64, ttl_keys: u64) -> u64 {
    let pow2 = |n: u64| n.max(4).next_power_of_two();
    match era {
        Era::Valkey80 | Era::Valkey9 => 1_016_000 + 12 * (keys + ttl_keys),
        Era::Redis82 | Era::Redis84 | Era::Redis86 => {
            692_000 + 8 * pow2(keys) + if ttl_keys > 0 { 8 * pow2(ttl_keys) } else { 0 }
        }
        _ => {
            940_000
                + 8 * pow2(keys)
                + if ttl_keys > 0 {
                    8 * pow2(ttl_keys) + 24 * ttl_keys
                } else {
                    0
                }
        }
    }
}
