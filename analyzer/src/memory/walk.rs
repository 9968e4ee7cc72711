//! One walk over a collection's elements: the running totals (count,
//! longest element, compact sizes, allocation sums) every type's estimate
//! is made from.

use rdb_parser::{Element, Kind, Scalar, Scratch, Value, ValueType};

use super::compact::{as_canonical_int, lp_entry_of, zl_entry};
use super::layouts::{add_embedded_skiplist_node, embeds_members, Era, Profile};
use super::scores::{format_g17, format_shortest};

/// Running totals over the elements of a collection.
#[derive(Default)]
pub(super) struct Walk {
    pub(super) count: u64,
    pub(super) max_len: u64,
    /// Listpack bytes if the elements were appended to one listpack.
    pub(super) lp_bytes: u64,
    /// Ziplist bytes likewise (Redis 6).
    pub(super) zl_bytes: u64,
    zl_prev: u64,
    pub(super) all_int: bool,
    pub(super) int_width: u64,
    /// Sum of standalone sds sizes of the members / fields.
    pub(super) sds_a: u64,
    /// Sum of standalone sds sizes of values (hashes).
    pub(super) sds_b: u64,
    /// Hash fields carrying a TTL, and the sum of their mstr sizes.
    pub(super) mstr: u64,
    pub(super) any_ttl: bool,
    /// Hash fields with their own expire time.
    pub(super) ttl_fields: u64,
    /// Valkey 8.1+ and Redis 8.6 hash entries (field and value in one
    /// allocation when small).
    pub(super) vk_entries: u64,
    /// Valkey 9.1 and Redis 8.6 skip-list nodes with the member embedded
    /// (expected size).
    pub(super) vk_nodes: f64,
    /// Whether to add up Valkey 9.1 skip-list nodes (sorted-set members only).
    want_nodes: bool,
    /// Index of the first hash entry whose field or value is longer than
    /// the listpack limit (where a load converts to a hash table).
    pub(super) first_long: Option<u64>,
    /// Past this many elements the value cannot be compact after load, so
    /// the listpack and ziplist sizes stop being added up.
    pub(super) compact_limit: u64,
    /// Whether to track if every member is an integer (sets only).
    track_ints: bool,
}

impl Walk {
    fn new() -> Walk {
        Walk {
            lp_bytes: 7,
            zl_bytes: 11,
            all_int: true,
            int_width: 2,
            compact_limit: u64::MAX,
            ..Walk::default()
        }
    }

    /// A walk whose compact sizes stop after `compact_limit` elements.
    pub(super) fn limited(compact_limit: u64) -> Walk {
        Walk {
            compact_limit,
            ..Walk::new()
        }
    }

    /// Adds one member, field or value (the caller has counted it).
    #[inline(always)]
    pub(super) fn scalar(&mut self, p: &Profile, s: Scalar<'_>, value_side: bool) {
        let len = s.len();
        self.max_len = self.max_len.max(len);
        self.shape(p, s, len, value_side);
    }

    /// The per-element arithmetic that does not depend on the longest
    /// element: compact sizes, integer shape and allocation sums.
    #[inline(always)]
    fn shape(&mut self, p: &Profile, s: Scalar<'_>, len: u64, value_side: bool) {
        let compact = self.count <= self.compact_limit;
        let track_int = self.track_ints && !value_side && self.all_int;
        if compact || track_int {
            let int = as_canonical_int(s);
            if compact {
                self.add_compact(p, s, int, len);
            }
            if track_int {
                match int {
                    Some(v) => {
                        let w = if i16::try_from(v).is_ok() {
                            2
                        } else if i32::try_from(v).is_ok() {
                            4
                        } else {
                            8
                        };
                        self.int_width = self.int_width.max(w);
                    }
                    _ => self.all_int = false,
                }
            }
        }
        if value_side {
            self.sds_b += p.sds(len);
        } else {
            self.sds_a += p.sds(len);
            if self.want_nodes && embeds_members(p) {
                add_embedded_skiplist_node(p, len, &mut self.vk_nodes);
            }
        }
    }

    /// Adds a score's listpack (or ziplist) entry; a score is not an
    /// element, so it counts toward neither the longest element nor the
    /// allocation sums.
    fn score(&mut self, p: &Profile, score: f64) {
        if self.count > self.compact_limit {
            return; // a skip list: the listpack size no longer matters
        }
        // Integral scores that fit are stored as integers (7.2+ takes any
        // that fits a long long); others as text.
        let int_below = if p.era <= Era::Redis70 {
            9.007_199_254_740_992e15
        } else {
            9.223_372_036_854_775e18
        };
        if score.fract() == 0.0 && score.abs() < int_below {
            self.compact_entry(p, Scalar::Int(score as i64));
        } else if score.is_infinite() {
            let text: &[u8] = if score > 0.0 { b"inf" } else { b"-inf" };
            self.compact_entry(p, Scalar::Bytes(text));
        } else {
            let mut buf = [0u8; 32];
            let len = if p.era <= Era::Redis70 {
                // Redis <= 7.0 writes scores with "%.17g".
                format_g17(score, &mut buf)
            } else {
                // 7.2+ (and Valkey) write the shortest text (fpconv).
                format_shortest(score, &mut buf)
            };
            self.compact_entry(p, Scalar::Bytes(&buf[..len]));
        }
    }

    /// Adds an entry to the compact sizes only.
    fn compact_entry(&mut self, p: &Profile, s: Scalar<'_>) {
        self.add_compact(p, s, as_canonical_int(s), s.len());
    }

    /// Adds `s` (whose integer reading is `int`) to the listpack and, for
    /// Redis 6, ziplist sizes.
    fn add_compact(&mut self, p: &Profile, s: Scalar<'_>, int: Option<i64>, len: u64) {
        self.lp_bytes += lp_entry_of(int, len);
        if p.era == Era::Redis6 {
            let z = zl_entry(s, self.zl_prev);
            self.zl_bytes += z;
            self.zl_prev = z;
        }
    }

    pub(super) fn mstr_field(&mut self, p: &Profile, len: u64, ttl: bool) {
        self.any_ttl |= ttl;
        self.ttl_fields += u64::from(ttl);
        if !(p.era >= Era::Redis74 && p.era < Era::Valkey80) {
            return; // only Redis 7.4+ tables of fields with TTLs use mstrs
        }
        let hdr = if len < 32 {
            1
        } else if len < 65536 {
            3
        } else {
            9
        };
        self.mstr += p.j(if ttl { 18 } else { 0 } + hdr + len + 1);
    }
}

/// Whether a value of type `vt` has its listpack (or ziplist) size added up
/// only once it is known to stay compact: types the file stores as hash
/// tables or skip lists, which are almost never small enough for that, so
/// the first walk leaves out the per-element compact arithmetic (and a
/// second walk does it in the rare case it is needed).
pub(super) fn compact_sizes_later(vt: ValueType) -> bool {
    matches!(
        vt,
        ValueType::Set | ValueType::Zset | ValueType::Zset2 | ValueType::Hash
    )
}

/// A set's members, or a sorted set's members and scores; compact sizes
/// for the first `compact_limit` only.
pub(super) fn walk_members(
    p: &Profile,
    v: &Value<'_>,
    scratch: &mut Scratch,
    compact_limit: u64,
) -> rdb_parser::Result<Walk> {
    let sorted = v.kind() == Kind::Zset;
    let mut w = Walk {
        track_ints: !sorted,
        want_nodes: sorted,
        ..Walk::limited(compact_limit)
    };
    v.for_each_element(scratch, |el| match el {
        Element::Member(s) => {
            w.count += 1;
            w.scalar(p, s, false);
        }
        Element::Scored { member, score } => {
            w.count += 1;
            w.scalar(p, member, false);
            w.score(p, score);
        }
        _ => {}
    })?;
    Ok(w)
}
