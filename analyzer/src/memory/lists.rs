//! Lists: quicklists of listpack (or ziplist) nodes, and 7.2+'s single
//! listpack.

use rdb_parser::{Element, Entry, QuicklistNode, Scratch, ValueType};

use super::compact::{lp_entry, zl_entry};
use super::layouts::{Era, Profile};
use super::measure::Measure;
use crate::server::ObjEncoding;

#[inline(never)]
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
    let cost = |bytes: u64| {
        node_struct
            + if era == Era::Redis6 || tracked {
                bytes
            } else {
                j(bytes)
            }
    };
    // With `list-compress-depth` d, every node but the first and last d is
    // kept LZF-compressed where that pays (`compressed_node`): each node's
    // cost either way, summed once the count is known.
    let depth = p.limits.list_compress_depth;
    let mut both: Vec<(u64, u64)> = Vec::new();
    let mut add_node = |bytes: u64, plain: bool, stored_lzf: Option<u64>| {
        nodes += 1;
        nodes_cost += cost(bytes);
        if depth > 0 {
            let compressed =
                compressed_node(p, bytes, stored_lzf).map_or(cost(bytes), |c| node_struct + c);
            both.push((cost(bytes), compressed));
        }
        single = (nodes == 1).then_some((bytes, plain));
    };
    let mut count = 0u64;
    let mut max_len = 0u64;
    match e.value_type() {
        ValueType::ListQuicklist2 | ValueType::ListQuicklist => {
            let v2 = e.value_type() == ValueType::ListQuicklist2;
            e.value
                .for_each_quicklist_node_stored(scratch, |node, stored_lzf| {
                    let blob = match node {
                        QuicklistNode::Plain(b) => {
                            count += 1;
                            max_len = max_len.max(b.len() as u64);
                            add_node(b.len() as u64, true, stored_lzf);
                            return Ok(());
                        }
                        QuicklistNode::Packed(b) => b,
                    };
                    if v2 {
                        // The listpack is kept as it is: only lengths matter.
                        count += rdb_parser::Listpack::for_each_len(blob, |len| {
                            max_len = max_len.max(len);
                        })?;
                        add_node(blob.len() as u64, false, stored_lzf);
                    } else {
                        let mut lp = 7u64;
                        for it in rdb_parser::Ziplist::new(blob)? {
                            let s = it?;
                            count += 1;
                            max_len = max_len.max(s.len());
                            lp += lp_entry(s);
                        }
                        // 7.x converts each ziplist node to a listpack (whose
                        // compressed size the file does not hold); 6.x keeps it.
                        if era == Era::Redis6 {
                            add_node(blob.len() as u64, false, stored_lzf);
                        } else {
                            add_node(lp, false, None);
                        }
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
                        add_node(cur_bytes, false, None);
                        cur_bytes = empty;
                    }
                    cur_bytes += add;
                    prev = add;
                }
            })?;
            if cur_bytes > empty {
                add_node(cur_bytes, false, None);
            }
        }
    }
    if depth > 0 && nodes > 2 * depth {
        let inner = &both[depth as usize..both.len() - depth as usize];
        nodes_cost -= inner.iter().map(|&(raw, c)| raw - c).sum::<u64>();
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

/// What a quicklist node of `bytes` costs compressed (its `quicklistLZF`:
/// an 8-byte size field and the LZF bytes, which 6.x counts alone;
/// `quicklist.c` `__quicklistCompressNode`), or `None` when the server keeps
/// it raw: under 48 bytes, or saving under 8. The LZF size is the one the
/// file stored the node at (the same `lzf_compress` on the same bytes); a
/// node the file stored raw did not compress (or the file was saved with
/// `rdbcompression no`, which the model cannot tell apart).
fn compressed_node(p: &Profile, bytes: u64, stored_lzf: Option<u64>) -> Option<u64> {
    let c = stored_lzf?;
    if bytes < 48 || c + 8 >= bytes {
        return None;
    }
    Some(match p.era {
        // 6.x reads the LZF size field as if it were a ziplist's byte count.
        Era::Redis6 => c,
        _ if p.tracked_sizes() => 8 + c,
        _ => p.allocator.usable(8 + c),
    })
}
