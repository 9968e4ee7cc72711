//! Streams: the radix trees of node and pending-entry ids, the listpack
//! nodes (the tail one preallocated by XADD), groups and consumers.

use rdb_parser::{Entry, Scalar, Scratch, StreamId, StreamVisitor};

use super::alloc::Allocator;
use super::layouts::{Era, Profile};
use super::measure::Measure;
use crate::server::ObjEncoding;

/// Bytes XADD preallocates for a new stream node.
const STREAM_NODE_PREALLOC: u64 = 4096;

/// One node of a rax built by inserting sorted, distinct 16-byte keys in
/// order (the shape a freshly written stream's trees have).
enum RaxNode {
    /// The (empty) node that marks a key and holds its value pointer.
    Key,
    /// A compressed run of this many bytes leading to one child.
    Run(u64),
    /// A branching node with this many children.
    Branch(u64),
}

/// Visits every node of the rax holding `keys` (sorted, distinct).
fn walk_rax(keys: &[[u8; 16]], visit: &mut impl FnMut(RaxNode)) {
    fn walk(keys: &[[u8; 16]], depth: usize, visit: &mut impl FnMut(RaxNode)) {
        if keys.len() == 1 {
            if depth < 16 {
                visit(RaxNode::Run((16 - depth) as u64));
            }
            visit(RaxNode::Key);
            return;
        }
        let (first, last) = (&keys[0], &keys[keys.len() - 1]);
        let mut lcp = depth;
        while lcp < 16 && first[lcp] == last[lcp] {
            lcp += 1;
        }
        if lcp > depth {
            visit(RaxNode::Run((lcp - depth) as u64));
        }
        let mut children = 0u64;
        let mut start = 0;
        while start < keys.len() {
            let b = keys[start][lcp];
            let mut end = start + 1;
            while end < keys.len() && keys[end][lcp] == b {
                end += 1;
            }
            walk(&keys[start..end], lcp + 1, visit);
            children += 1;
            start = end;
        }
        visit(RaxNode::Branch(children));
    }
    if !keys.is_empty() {
        walk(keys, 0, visit);
    }
}

/// Number of nodes of a rax holding the given sorted, distinct 16-byte keys
/// (an empty rax has its root).
pub fn rax_nodes(keys: &[[u8; 16]]) -> u64 {
    let mut n = 0;
    walk_rax(keys, &mut |_| n += 1);
    n.max(1)
}

/// Allocated bytes of a rax built from sorted 16-byte keys, as Valkey 8.1+
/// tracks them: the rax struct plus each node (key nodes carry a value pointer).
pub fn rax_alloc(keys: &[[u8; 16]], j: &dyn Fn(u64) -> u64) -> u64 {
    let pad = |n: u64| n.div_ceil(8) * 8;
    if keys.is_empty() {
        return j(32) + j(8);
    }
    let mut total = j(32);
    walk_rax(keys, &mut |node| {
        total += match node {
            RaxNode::Key => j(16),
            RaxNode::Run(len) => j(pad(4 + len) + 8),
            RaxNode::Branch(d) => j(pad(4 + d) + 8 * d),
        }
    });
    total
}

fn id_key(id: StreamId) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&id.ms.to_be_bytes());
    k[8..].copy_from_slice(&id.seq.to_be_bytes());
    k
}

/// What a stream's memory depends on, gathered in one walk.
#[derive(Default)]
struct StreamCost {
    allocator: Option<Allocator>,
    prealloc: u64,
    /// The last node seen (the stream's tail, once the walk is done).
    tail: Option<u64>,
    node_keys: Vec<[u8; 16]>,
    /// Listpack nodes, each rounded to its allocation.
    lp_rounded: u64,
    max_len: u64,
    groups: Vec<GroupCost>,
}

/// A consumer group's pending ids, and each consumer's name length and ids.
#[derive(Default)]
struct GroupCost {
    pending: Vec<[u8; 16]>,
    consumers: Vec<(u64, Vec<[u8; 16]>)>,
}

impl StreamVisitor for StreamCost {
    fn node(&mut self, master: StreamId, listpack_bytes: u64) {
        self.node_keys.push(id_key(master));
        // The previous node was shrunk when this one started.
        if let Some(prev) = self.tail.replace(listpack_bytes) {
            self.lp_rounded += self.allocator.map_or(prev, |a| a.usable(prev));
        }
    }
    fn entry(&mut self, _id: StreamId, fields: &[(Scalar<'_>, Scalar<'_>)]) {
        for (f, v) in fields {
            self.max_len = self.max_len.max(f.len()).max(v.len());
        }
    }
    fn group(&mut self, _name: &[u8], _last: StreamId, _read: Option<i64>, _pending: u64) {
        self.groups.push(GroupCost::default());
    }
    fn group_pending(&mut self, id: StreamId, _t: i64, _c: u64) {
        if let Some(g) = self.groups.last_mut() {
            g.pending.push(id_key(id));
        }
    }
    fn consumer(&mut self, name: &[u8], _seen: i64, _active: Option<i64>, _pending: u64) {
        if let Some(g) = self.groups.last_mut() {
            g.consumers.push((name.len() as u64, Vec::new()));
        }
    }
    fn consumer_pending(&mut self, id: StreamId) {
        if let Some(c) = self.groups.last_mut().and_then(|g| g.consumers.last_mut()) {
            c.1.push(id_key(id));
        }
    }
}

#[inline(never)]
pub(super) fn measure_stream(
    p: &Profile,
    e: &Entry<'_>,
    scratch: &mut Scratch,
) -> rdb_parser::Result<Measure> {
    // XADD creates a node with 4 KB preallocated and shrinks it only when
    // the next node starts; a load allocates nodes at their exact size.
    let prealloc = if p.fresh_load {
        0
    } else {
        STREAM_NODE_PREALLOC
    };
    let mut c = StreamCost {
        allocator: Some(p.allocator),
        prealloc,
        ..StreamCost::default()
    };
    let meta = e.value.walk_stream(scratch, &mut c)?;
    let j = |n: u64| p.allocator.usable(n);
    // Only the tail node keeps XADD's preallocation.
    if let Some(tail) = c.tail.take() {
        c.lp_rounded += j(tail.max(c.prealloc));
    }
    let rax = |keys: &mut Vec<[u8; 16]>| -> u64 {
        keys.sort_unstable();
        keys.dedup();
        if p.era >= Era::Valkey9 {
            rax_alloc(keys, &j)
        } else {
            16 * keys.len() as u64 + 244 * rax_nodes(keys)
        }
    };
    let (stream_struct, cg_struct, consumer_struct) = match p.era {
        Era::Redis6 => (40, 32, 24),
        Era::Redis70 => (80, 40, 24),
        // 8.2 added the consumer groups' reference rax, their minimum last
        // id and a flag; 8.4 the tracked size; 8.6 the IDMP fields.
        Era::Redis82 => (112, 40, 32),
        Era::Redis84 => (120, 40, 32),
        Era::Redis86 => (160, 40, 32),
        _ => (80, 40, 32),
    };
    let mut bytes = 16 + stream_struct + rax(&mut c.node_keys) + c.lp_rounded;
    for g in &mut c.groups {
        bytes += cg_struct + 24 * g.pending.len() as u64 + rax(&mut g.pending);
        for (name_len, cpel) in g.consumers.iter_mut() {
            bytes += consumer_struct + *name_len + rax(cpel);
        }
    }
    Ok(Measure {
        encoding: ObjEncoding::Stream,
        memory_bytes: bytes,
        elements: meta.length,
        max_element_bytes: c.max_len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rax_shapes() {
        assert_eq!(rax_nodes(&[]), 1);
        assert_eq!(rax_nodes(&[[0; 16]]), 2);
        let mut a = [0u8; 16];
        let mut b = [0u8; 16];
        a[15] = 1;
        b[15] = 2;
        // compressed 0..15, branch at 15, two key nodes.
        assert_eq!(rax_nodes(&[a, b]), 4);
    }
}
