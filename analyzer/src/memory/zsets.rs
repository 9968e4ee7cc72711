//! Sorted sets: `listpack` (`ziplist` on 6.x) or `skiplist`, and Valkey
//! 9.1's skip list that embeds its members.

use rdb_parser::{Entry, Scratch, ValueType};

use super::compact::blob_len;
use super::layouts::{Era, Profile};
use super::measure::Measure;
use super::tables::{dict_buckets, dict_grown, valkey_hashtable};
use super::walk::{compact_sizes_later, walk_members};
use crate::server::ObjEncoding;

/// A sorted set's value (an arm of `measure_value`).
#[inline(never)]
pub(super) fn measure_zset(
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
    let limit = l.zset_max_listpack_entries;
    let w = walk_members(p, v, scratch, if lazy { 0 } else { limit })?;
    let n = w.count;
    let compact_ok = n <= l.zset_max_listpack_entries && w.max_len <= l.zset_max_listpack_value;
    let blob = blob_len(e)?;
    let (encoding, bytes) = match vt {
        ValueType::ZsetZiplist if era == Era::Redis6 && compact_ok => {
            (ObjEncoding::Ziplist, robj + blob)
        }
        ValueType::ZsetListpack if compact_ok => (ObjEncoding::Listpack, robj + p.compact(blob)),
        _ if compact_ok => {
            let c = if lazy {
                &walk_members(p, v, scratch, limit)?
            } else {
                &w
            };
            if era == Era::Redis6 {
                (ObjEncoding::Ziplist, robj + c.zl_bytes)
            } else {
                (ObjEncoding::Listpack, robj + p.compact(c.lp_bytes))
            }
        }
        _ if era >= Era::Valkey9 => {
            // 9.1: members live inside the skip-list nodes; the
            // zset's hash table points at the nodes.
            let nodes = w.vk_nodes.round() as u64;
            (
                ObjEncoding::Skiplist,
                robj + 16 + 32 + valkey_hashtable(n) + p.skiplist_header + nodes,
            )
        }
        _ => {
            // 8.6 embeds each member in its node (no separate sds), and
            // its header node has no member pointer (528 bytes).
            let (nodes, members, header) = if era == Era::Redis86 {
                (w.vk_nodes.round() as u64, 0, p.j(16 + 16 * 32))
            } else {
                (
                    (n as f64 * p.skiplist_node).round() as u64,
                    w.sds_a,
                    p.skiplist_header,
                )
            };
            // Built by ZADD: a listpack until its 129th member, then a
            // table presized for 129 that grows member by member, each
            // add moving two buckets (a lookup, then the add; one on 8.6).
            // (A long member made it a skip list early, at any size:
            // grown from small.)
            let steps = if era >= Era::Redis86 { 1 } else { 2 };
            let buckets = if p.fresh_load {
                dict_buckets(n)
            } else if w.max_len > l.zset_max_listpack_value {
                dict_grown(1, 0, n, steps)
            } else if n <= l.zset_max_listpack_entries {
                dict_buckets(n)
            } else {
                let at = l.zset_max_listpack_entries;
                dict_grown(at + 1, at, n, steps)
            };
            // 8.2 charges 16 bytes a member for the dict entry (which is
            // 24), 8.4+ 24 again; 8.4's skip list struct grew to 40 bytes.
            let per_member = if era == Era::Redis82 { 16 } else { 24 };
            let zskiplist = if era >= Era::Redis84 { 40 } else { 32 };
            (
                ObjEncoding::Skiplist,
                robj + 16
                    + zskiplist
                    + p.dict_struct()
                    + 8 * buckets
                    + header
                    + members
                    + per_member * n
                    + nodes,
            )
        }
    };
    Ok(Measure {
        encoding,
        memory_bytes: bytes,
        elements: n,
        max_element_bytes: w.max_len,
    })
}
