//! Sets: `intset`, `listpack` (7.2+) or `hashtable`.

use rdb_parser::{Entry, Scratch, ValueType};

use super::compact::blob_len;
use super::layouts::{Era, Profile};
use super::measure::Measure;
use super::tables::{
    dict_buckets, dict_buckets_after_conversion, dict_grown, valkey_hashtable,
    valkey_hashtable_after_conversion,
};
use super::walk::{compact_sizes_later, walk_members, Walk};
use crate::server::ObjEncoding;

/// A set's value (an arm of `measure_value`).
#[inline(never)]
pub(super) fn measure_set(
    p: &Profile,
    e: &Entry<'_>,
    scratch: &mut Scratch,
) -> rdb_parser::Result<Measure> {
    let vt = e.value_type();
    let v = &e.value;
    let l = &p.limits;
    let era = p.era;
    let robj = 16;
    let lazy = compact_sizes_later(vt);
    let limit = l.set_max_listpack_entries;
    let w = walk_members(p, v, scratch, if lazy { 0 } else { limit })?;
    let blob = blob_len(e)?;
    let n = w.count;
    let ht = |w: &Walk| {
        if era >= Era::Valkey9 {
            // Built by SADD: grown from the intset's or listpack's limit.
            // (A long member made it a table early: grown from small, and
            // possibly still rehashing at any size.)
            let table = match (p.fresh_load, w.all_int) {
                (false, true) if n > l.set_max_intset_entries => {
                    valkey_hashtable_after_conversion(l.set_max_intset_entries, n)
                }
                (false, false) if w.max_len > l.set_max_listpack_value => {
                    valkey_hashtable_after_conversion(1, n)
                }
                (false, false) if n > l.set_max_listpack_entries => {
                    valkey_hashtable_after_conversion(l.set_max_listpack_entries, n)
                }
                _ => valkey_hashtable(n),
            };
            return robj + table + w.sds_a;
        }
        // Built by SADD on Redis <= 7.0, a table grows one member at
        // a time (from the intset when every member is an integer)
        // and may still be rehashing. On 7.2+ a set too big to be compact
        // leaves its intset at the 513th integer (a table presized for
        // 513) or its listpack at the 129th member (presized for 129),
        // then grows member by member; one with a member longer than the
        // listpack limit became a table at that member and grew from
        // small, whatever its size (and may be rehashing).
        let buckets = if !p.fresh_load && era <= Era::Redis70 {
            let start = if w.all_int {
                l.set_max_intset_entries.min(n)
            } else {
                0
            };
            dict_buckets_after_conversion(start, n)
        } else if !p.fresh_load && w.all_int && n > l.set_max_intset_entries {
            let at = l.set_max_intset_entries + 1;
            dict_grown(at, at, n, 1)
        } else if !p.fresh_load
            && !w.all_int
            && (n > l.set_max_listpack_entries || w.max_len > l.set_max_listpack_value)
        {
            // (A long member made it a table earlier, at any size: grown
            // from small.)
            let at = if w.max_len > l.set_max_listpack_value {
                0
            } else {
                l.set_max_listpack_entries
            };
            dict_grown(at + 1, at, n, 1)
        } else {
            dict_buckets(n)
        };
        robj + p.dict_struct() + 8 * buckets + 24 * n + w.sds_a
    };
    let (encoding, bytes) = match vt {
        ValueType::SetIntset if n <= l.set_max_intset_entries => (
            ObjEncoding::Intset,
            robj + if era == Era::Redis6 {
                blob
            } else {
                p.compact(blob)
            },
        ),
        ValueType::SetListpack
            if n <= l.set_max_listpack_entries && w.max_len <= l.set_max_listpack_value =>
        {
            (ObjEncoding::Listpack, robj + p.compact(blob))
        }
        ValueType::Set if n <= l.set_max_intset_entries && w.all_int => {
            let raw = 8 + w.int_width * n;
            (
                ObjEncoding::Intset,
                robj + if era == Era::Redis6 {
                    raw
                } else {
                    p.compact(raw)
                },
            )
        }
        ValueType::Set
            if era >= Era::Redis72
                && n <= l.set_max_listpack_entries
                && w.max_len <= l.set_max_listpack_value =>
        {
            let lp_bytes = if lazy {
                walk_members(p, v, scratch, limit)?.lp_bytes
            } else {
                w.lp_bytes
            };
            (ObjEncoding::Listpack, robj + p.compact(lp_bytes))
        }
        _ => (ObjEncoding::Hashtable, ht(&w)),
    };
    Ok(Measure {
        encoding,
        memory_bytes: bytes,
        elements: n,
        max_element_bytes: w.max_len,
    })
}
