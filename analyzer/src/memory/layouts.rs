//! Per server version: which families of servers share `MEMORY USAGE`
//! arithmetic ([`Era`]), and the [`Profile`] of the server a file is
//! loaded into (sds headers, dict structs, the per-key cost, the Redis
//! 8.2+ and Valkey 8.1+ objects that embed their key, skip-list nodes).
//! A new server's layouts start here.

use super::alloc::Allocator;
use crate::server::{EncodingLimits, RedisVersion};

/// Families of servers whose `MEMORY USAGE` arithmetic is the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Era {
    /// Redis 6.x: ziplists, raw byte counts for embstr, ziplist and intset.
    Redis6,
    /// Redis 7.0: listpacks everywhere; allocations rounded.
    Redis70,
    /// Redis 7.2: listpack sets, single-node lists as listpacks.
    Redis72,
    /// Redis 7.4 to 8.0: hash field expiry.
    Redis74,
    /// Redis 8.2 (as 8.2.2+ reports it): the key embedded in the value
    /// object (`kvobj`), counted by its allocation; new sds header limits.
    Redis82,
    /// Redis 8.4: tracked sizes (object header and listpacks unrounded).
    Redis84,
    /// Redis 8.6 and newer: key metadata before the object, members
    /// embedded in skip-list nodes, hash fields and values in one entry.
    Redis86,
    /// Valkey 8.0 (key embedded in the dict entry).
    Valkey80,
    /// Valkey 8.1 and 9.x (key embedded in the object, own hash table).
    Valkey9,
}

/// Everything the model needs to know about the server.
#[derive(Clone, Copy, Debug)]
pub struct Profile {
    /// Arithmetic family (private: `sds_small` is made from it).
    pub(super) era: Era,
    /// Allocator rounding (private, likewise).
    pub(super) allocator: Allocator,
    /// Cluster mode (adds per-key metadata in Redis 7.0 and 7.2).
    pub cluster: bool,
    /// Encoding thresholds.
    pub limits: EncodingLimits,
    /// Model a server that has just loaded this file (exact-size stream
    /// nodes, presized tables) rather than one that built its data with
    /// commands (the default: a stream's tail node preallocated to 4 KB,
    /// sets grown member by member on Redis <= 7.0).
    pub fresh_load: bool,
    /// Expected usable size of one skip-list node (depends on the allocator).
    pub(super) skiplist_node: f64,
    /// Usable size of the 32-level skip-list header node.
    pub(super) skiplist_header: u64,
    /// [`Profile::sds`] of lengths below 256 (every short element and
    /// key): one load instead of the header and size-class arithmetic.
    sds_small: [u16; 256],
}

impl Profile {
    /// A profile for `era` and `allocator` with the given thresholds.
    pub fn new(era: Era, allocator: Allocator, cluster: bool, limits: EncodingLimits) -> Profile {
        // Levels: P(L = l) = 0.75 * 0.25^(l-1), capped at 32.
        let mut expected = 0.0;
        let mut p = 0.75;
        for level in 1..=32u64 {
            let prob = if level == 32 { p / 0.75 } else { p };
            expected += prob * allocator.usable(24 + 16 * level) as f64;
            p *= 0.25;
        }
        let mut p = Profile {
            era,
            allocator,
            cluster,
            limits,
            fresh_load: false,
            skiplist_node: expected,
            skiplist_header: allocator.usable(24 + 16 * 32),
            sds_small: [0; 256],
        };
        let mut table = [0u16; 256];
        for (len, v) in (0u64..).zip(table.iter_mut()) {
            *v = u16::try_from(p.sds_computed(len)).expect("a short sds is under 64 KB");
        }
        p.sds_small = table;
        p
    }

    /// The arithmetic family.
    pub fn era(&self) -> Era {
        self.era
    }

    /// The allocator.
    pub fn allocator(&self) -> Allocator {
        self.allocator
    }

    /// The profile of the server that loads the file: a Redis version, or
    /// a Valkey version when `valkey` is given.
    pub fn for_target(
        redis: RedisVersion,
        valkey: Option<RedisVersion>,
        allocator: Allocator,
        limits: EncodingLimits,
    ) -> Profile {
        let era = match valkey {
            Some(v) if v >= RedisVersion::new(8, 1) => Era::Valkey9,
            Some(v) if v >= RedisVersion::new(8, 0) => Era::Valkey80,
            Some(_) => Era::Redis72,
            None if redis < RedisVersion::new(7, 0) => Era::Redis6,
            None if redis < RedisVersion::new(7, 2) => Era::Redis70,
            None if redis < RedisVersion::new(7, 4) => Era::Redis72,
            None if redis < RedisVersion::new(8, 2) => Era::Redis74,
            None if redis < RedisVersion::new(8, 4) => Era::Redis82,
            None if redis < RedisVersion::new(8, 6) => Era::Redis84,
            None => Era::Redis86,
        };
        Profile::new(era, allocator, false, limits)
    }

    /// The same server, just restarted from this file (see `fresh_load`).
    pub fn freshly_loaded(self) -> Profile {
        Profile {
            fresh_load: true,
            ..self
        }
    }

    #[inline]
    pub(super) fn j(&self, n: u64) -> u64 {
        self.allocator.usable(n)
    }

    /// sds header size for a string of `len` bytes.
    #[inline]
    pub(super) fn sds_hdr(&self, len: u64) -> u64 {
        // Redis 8.2+ and Valkey 8+ moved the type-8 and type-16 limits.
        let regime_b = self.era >= Era::Redis82;
        if len < 32 {
            1
        } else if len < 256 && !(regime_b && len > 252) {
            3
        } else if len < 65536 && !(regime_b && len > 65530) {
            5
        } else if len < (1 << 32) {
            9
        } else {
            17
        }
    }

    /// Usable size of a standalone sds of `len` bytes (never type 5 when empty).
    #[inline]
    pub(super) fn sds(&self, len: u64) -> u64 {
        match self.sds_small.get(len as usize) {
            Some(&v) => u64::from(v),
            None => self.sds_computed(len),
        }
    }

    fn sds_computed(&self, len: u64) -> u64 {
        let hdr = if len == 0 { 3 } else { self.sds_hdr(len) };
        self.j(hdr + len + 1)
    }

    /// What `MEMORY USAGE` charges for a listpack or intset of `n` bytes:
    /// its allocation, except on Redis 8.4+ (tracked sizes: the bytes).
    #[inline]
    pub(super) fn compact(&self, n: u64) -> u64 {
        if self.tracked_sizes() {
            n
        } else {
            self.j(n)
        }
    }

    /// Redis 8.4+: `MEMORY USAGE` adds up sizes the server tracks (listpacks
    /// by their bytes, the object header as requested).
    pub(super) fn tracked_sizes(&self) -> bool {
        matches!(self.era, Era::Redis84 | Era::Redis86)
    }

    pub(super) fn dict_struct(&self) -> u64 {
        if self.era == Era::Redis6 {
            96
        } else {
            56
        }
    }

    /// Whether the key lives inside the value object (Redis 8.2+,
    /// Valkey 8.1+): then [`Profile::key_cost`] is 0 and the object
    /// header replaces the value's 16-byte robj.
    pub(super) fn embeds_key(&self) -> bool {
        matches!(
            self.era,
            Era::Redis82 | Era::Redis84 | Era::Redis86 | Era::Valkey9
        )
    }

    /// Bytes charged for the key itself (its sds and the dict entry).
    /// (Redis 8.2+ and Valkey 8.1+ embed the key in the object: see
    /// `kvobj_header`.)
    #[inline(always)]
    pub(super) fn key_cost(&self, klen: u64) -> u64 {
        match self.era {
            Era::Redis6 | Era::Redis74 => self.sds(klen) + 24,
            Era::Redis82 | Era::Redis84 | Era::Redis86 => 0,
            Era::Redis70 => self.sds(klen) + 24 + if self.cluster { 16 } else { 0 },
            Era::Redis72 => self.sds(klen) + 24 + if self.cluster { 8 } else { 0 },
            Era::Valkey80 => self.j(17 + self.sds_hdr(klen) + klen + 1),
            Era::Valkey9 => 0,
        }
    }
}

/// Fixed part of a Valkey 9.1 skip-list node before its levels: score,
/// backward pointer and the header-size byte of the embedded member
/// (fitted to measurements: 17 bytes).
const VK_NODE_BASE: u64 = 17;

/// Fixed part of a Redis 8.6 skip-list node before its levels: score and
/// backward pointer (`8.6:src/t_zset.c`, the member's sds follows the
/// levels).
const R86_NODE_BASE: u64 = 16;

/// Adds to `total` the expected allocation of a skip-list node that embeds
/// its member of `len` bytes (Valkey 9.1, Redis 8.6), over the node's
/// random level (1 to 32, each a quarter as likely as the one before). Out
/// of line: the per-element walk stays small where it is inlined.
#[inline(never)]
pub(super) fn add_embedded_skiplist_node(p: &Profile, len: u64, total: &mut f64) {
    let base = if p.era == Era::Redis86 {
        R86_NODE_BASE
    } else {
        VK_NODE_BASE
    };
    let tail = p.sds_hdr(len) + len + 1;
    let mut prob = 0.75;
    for level in 1..=32u64 {
        let pl = if level == 32 { prob / 0.75 } else { prob };
        *total += pl * p.j(base + 16 * level + tail) as f64;
        prob *= 0.25;
    }
}

/// Whether skip-list nodes embed their member (Valkey 9.1, Redis 8.6).
pub(super) fn embeds_members(p: &Profile) -> bool {
    matches!(p.era, Era::Redis86 | Era::Valkey9)
}

/// Redis 8.2+ `kvobj`: what `MEMORY USAGE` charges for the object that
/// holds the key (robj, the expire slot, the key's header-size byte and
/// sds), before any value it embeds. An expire slot is there for a key
/// with a TTL and for every key of 128 bytes or more; 8.4 counts the
/// requested size (with the slot it marks free when the size class has
/// room for it), 8.2 and 8.6 the allocation.
pub(super) fn kvobj_header(p: &Profile, key_len: u64, ttl: bool) -> u64 {
    let expire = ttl || key_len >= 128;
    let key = 1 + p.sds_hdr(key_len) + key_len + 1;
    let min = 16 + if expire { 8 } else { 0 } + key;
    match p.era {
        Era::Redis84 => {
            // The free-slot trick: an object without an expire whose
            // size class has 8 spare bytes is marked expirable.
            if !expire && p.j(min) >= min + 8 {
                min + 8
            } else {
                min
            }
        }
        _ => p.j(min),
    }
}

/// Bytes of the key (and expire time) embedded in a Valkey 8.1+ object.
pub(super) fn valkey_key_part(p: &Profile, key_len: u64, ttl: bool) -> u64 {
    1 + p.sds_hdr(key_len) + key_len + 1 + if ttl { 8 } else { 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_sds_table_equals_the_arithmetic() {
        let eras = [
            Era::Redis6,
            Era::Redis70,
            Era::Redis72,
            Era::Redis74,
            Era::Redis82,
            Era::Redis84,
            Era::Redis86,
            Era::Valkey80,
            Era::Valkey9,
        ];
        for era in eras {
            for a in [Allocator::Jemalloc, Allocator::Jemalloc16, Allocator::Libc] {
                let p = Profile::new(era, a, false, EncodingLimits::default());
                for len in 0..400 {
                    assert_eq!(p.sds(len), p.sds_computed(len), "{era:?} {a:?} {len}");
                }
                // The table is not a copy of one size class: it grows.
                assert!(p.sds(255) > p.sds(31) && p.sds(31) > p.sds(0));
            }
        }
    }
}
