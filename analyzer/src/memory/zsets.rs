//! Sorted sets: `listpack` (`ziplist` on 6.x) or `skiplist`, and Valkey
//! 9.1's skip list that embeds its members.

use rdb_parser::{Entry, Scratch, ValueType};

use super::compact::blob_len;
use super::layouts::{Era, Profile};
use super::measure::Measure;
use super::tables::{dict_buckets, valkey_hashtable};
use super::walk::{compact_sizes_later, walk_members};
use crate::server::ObjEncoding;

/// A sorted set's value (an arm of `measure_value`).
#[inline]
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
        ValueType::ZsetListpack if compact_ok => (ObjEncoding::Listpack, robj + p.j(blob)),
        _ if compact_ok => {
            let c = if lazy {
                &walk_members(p, v, scratch, limit)?
            } else {
                &w
            };
            if era == Era::Redis6 {
                (ObjEncoding::Ziplist, robj + c.zl_bytes)
            } else {
                (ObjEncoding::Listpack, robj + p.j(c.lp_bytes))
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
            let nodes = (n as f64 * p.skiplist_node).round() as u64;
            let per_member = if era >= Era::Valkey9 { 0 } else { 24 };
            (
                ObjEncoding::Skiplist,
                robj + 16
                    + 32
                    + p.dict_struct()
                    + 8 * dict_buckets(n)
                    + p.skiplist_header
                    + w.sds_a
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
