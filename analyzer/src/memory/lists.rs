//! Lists: quicklists of listpack (or ziplist) nodes, and 7.2+'s single
//! listpack.

use rdb_parser::{Element, Entry, QuicklistNode, Scratch, ValueType};

use super::compact::{lp_entry, zl_entry};
use super::layouts::{Era, Profile};
use super::measure::Measure;
use crate::server::ObjEncoding;

pub(super) fn measure_list(
    p: &Profile,
    e: &Entry<'_>,
    scratch: &mut Scratch,
) -> rdb_parser::Result<Measure> {
    let era = p.era;
    let node_struct = if era == Era::Redis6 { 32 } else { 40 };
    let robj = 16;
    let j = |n| p.allocator.usable(n);
    // Redis 8.4+ tracks the quicklist's size: its 48-byte struct and its
    // nodes by their allocation, the listpacks by their bytes.
    let tracked = p.tracked_sizes();
    let quicklist = if tracked { j(48) } else { 40 };
    // Nodes after load: how many, their summed cost, and the only node's
    // size and kind while there is just one (7.2+ makes that a listpack).
    let mut nodes = 0u64;
    let mut nodes_cost = 0u64;
    let mut single: Option<(u64, bool)> = None;
    let mut add_node = |bytes: u64, plain: bool| {
        nodes += 1;
        nodes_cost += node_struct
            + if era == Era::Redis6 || tracked {
                bytes
            } else {
                j(bytes)
            };
        single = (nodes == 1).then_some((bytes, plain));
    };
    let mut count = 0u64;
    let mut max_len = 0u64;
    match e.value_type() {
        ValueType::ListQuicklist2 | ValueType::ListQuicklist => {
            let v2 = e.value_type() == ValueType::ListQuicklist2;
            e.value.for_each_quicklist_node(scratch, |node| {
                let blob = match node {
                    QuicklistNode::Plain(b) => {
                        count += 1;
                        max_len = max_len.max(b.len() as u64);
                        add_node(b.len() as u64, true);
                        return Ok(());
                    }
                    QuicklistNode::Packed(b) => b,
                };
                if v2 {
                    // The listpack is kept as it is: only lengths matter.
                    count += rdb_parser::Listpack::for_each_len(blob, |len| {
                        max_len = max_len.max(len);
                    })?;
                    add_node(blob.len() as u64, false);
                } else {
                    let mut lp = 7u64;
                    for it in rdb_parser::Ziplist::new(blob)? {
                        let s = it?;
                        count += 1;
                        max_len = max_len.max(s.len());
                        lp += lp_entry(s);
                    }
                    // 7.x converts each ziplist node to a listpack; 6.x keeps it.
                    add_node(
                        if era == Era::Redis6 {
                            blob.len() as u64
                        } else {
                            lp
                        },
                        false,
                    );
                }
                Ok(())
            })?;
        }
        _ => {
            // Rebuilt by pushes into nodes of at most `list_max_listpack_bytes`.
            let limit = p.limits.list_max_listpack_bytes;
            let empty = if era == Era::Redis6 { 11 } else { 7 };
            let mut cur_bytes = empty;
            let mut prev = 0;
            e.value.for_each_element(scratch, |el| {
                if let Element::Member(s) = el {
                    count += 1;
                    max_len = max_len.max(s.len());
                    let add = if era == Era::Redis6 {
                        zl_entry(s, prev)
                    } else {
                        lp_entry(s)
                    };
                    if cur_bytes + add > limit && cur_bytes > empty {
                        add_node(cur_bytes, false);
                        cur_bytes = empty;
                    }
                    cur_bytes += add;
                    prev = add;
                }
            })?;
            if cur_bytes > empty {
                add_node(cur_bytes, false);
            }
        }
    }
    let (encoding, bytes) = match single {
        Some((b, false))
            if era >= Era::Redis72 && nodes == 1 && b <= p.limits.list_max_listpack_bytes =>
        {
            (ObjEncoding::Listpack, robj + p.compact(b))
        }
        _ => (ObjEncoding::Quicklist, robj + quicklist + nodes_cost),
    };
    Ok(Measure {
        encoding,
        memory_bytes: bytes,
        elements: count,
        max_element_bytes: max_len,
    })
}
