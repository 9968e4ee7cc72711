//! Learned wildcards: within one parent pattern, a position whose literal
//! values are many (more than [`WIDE_CHILDREN`] distinct, or more than
//! [`WIDE_BESIDE_IDS`] beside identifiers the rules made `*`) becomes `*`
//! (`user:alice`, `user:bob`, … → `user:*`; `sess:<token>` where the
//! rules missed a few random tokens → `sess:*`); the nodes that did, and
//! the count of distinct literal children per node held.
//!
//! Deterministic whatever the threads and the order of keys: a node's
//! distinct literal children only grow as keys are added (and as nodes
//! merge when an ancestor becomes `*`), and so does whether it has a `*`
//! child, so a node a worker found wide is wide in the whole file;
//! workers' wide nodes are united when merged, the patterns refolded and
//! the children counted again. The result is the one top-down definition:
//! going from the root, a node is wide when the keys under it (their
//! patterns folded above it) have more than [`WIDE_CHILDREN`] distinct
//! literal segments after it, or a `*` and more than [`WIDE_BESIDE_IDS`].

use super::config::PrefixConfig;
use super::hasher::FastMap;

/// More distinct literal children than this make a node's next segment `*`.
pub const WIDE_CHILDREN: u32 = 64;

/// More distinct literal children than this, beside a `*` child (ids the
/// rules recognised), make a node's next segment `*`: the literals are
/// then mostly ids the rules missed (a random base64url token without
/// digits), a few dozen among thousands.
pub const WIDE_BESIDE_IDS: u32 = 16;

/// A node's count: its distinct literal children, and this bit when it
/// has a `*` child.
const HAS_STAR: u32 = 1 << 31;

/// Whether a node with `count` ([`HAS_STAR`] and literal children) is due
/// to be wide.
fn due(count: u32) -> bool {
    let literals = count & !HAS_STAR;
    literals > WIDE_CHILDREN || (count & HAS_STAR != 0 && literals > WIDE_BESIDE_IDS)
}

/// The wide nodes, and the nodes of the patterns held with their number of
/// distinct literal children. A node is a pattern's first segments,
/// without the separator after them.
#[derive(Clone, Debug, Default)]
pub(super) struct Learned {
    wide: FastMap<Box<[u8]>, ()>,
    nodes: FastMap<Box<[u8]>, u32>,
}

/// The end of each segment of `p` (the index of the separator after it, or
/// `p.len()`).
fn segment_ends<'a>(cfg: &'a PrefixConfig, p: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
    p.iter()
        .enumerate()
        .filter(|&(_, &b)| cfg.is_sep(b))
        .map(|(i, _)| i)
        .chain(std::iter::once(p.len()))
}

impl Learned {
    /// No node is wide.
    #[inline]
    pub(super) fn none_wide(&self) -> bool {
        self.wide.is_empty()
    }

    /// `p` with the segment after every wide node as `*` (top-down), into
    /// `out`; false (and `out` unspecified) when nothing changes.
    pub(super) fn fold(&self, cfg: &PrefixConfig, p: &[u8], out: &mut Vec<u8>) -> bool {
        if self.wide.is_empty() {
            return false;
        }
        out.clear();
        let mut changed = false;
        let mut start = 0;
        for end in segment_ends(cfg, p) {
            let seg = &p[start..end];
            if start > 0 && seg != b"*" && self.wide.contains_key(&out[..out.len() - 1]) {
                out.push(b'*');
                changed = true;
            } else {
                out.extend_from_slice(seg);
            }
            if end < p.len() {
                out.push(p[end]);
            }
            start = end + 1;
        }
        changed
    }

    /// Counts the nodes of a pattern newly held; true when a node is now
    /// [`due`] to be wide (it may be wide already).
    pub(super) fn note(&mut self, cfg: &PrefixConfig, p: &[u8]) -> bool {
        let mut any_due = false;
        let mut parent: Option<usize> = None;
        for end in segment_ends(cfg, p) {
            if !self.nodes.contains_key(&p[..end]) {
                self.nodes.insert(p[..end].into(), 0);
                if let Some(pe) = parent {
                    let c = self.nodes.get_mut(&p[..pe]).expect("parent noted first");
                    if &p[pe + 1..end] == b"*" {
                        *c |= HAS_STAR;
                    } else {
                        *c += 1;
                    }
                    any_due |= due(*c);
                }
            }
            parent = Some(end);
        }
        any_due
    }

    /// Forgets the node counts (the patterns are about to be noted again).
    pub(super) fn clear_nodes(&mut self) {
        self.nodes.clear();
    }

    /// Marks the nodes [`due`] to be wide wide, and writes every wide node
    /// in its folded form (through the wide nodes above it). False when no
    /// node was marked.
    pub(super) fn widen(&mut self, cfg: &PrefixConfig) -> bool {
        let mut marked: Vec<Box<[u8]>> = self
            .nodes
            .iter()
            .filter(|(n, &c)| due(c) && !self.wide.contains_key(&n[..]))
            .map(|(n, _)| n.clone())
            .collect();
        if marked.is_empty() {
            return false;
        }
        // Sorted, so that the map is filled the same way every time.
        marked.sort();
        for n in marked {
            self.wide.insert(n, ());
        }
        self.canonical(cfg);
        true
    }

    /// Unites `o`'s wide nodes with these (then [`Learned::canonical`]).
    pub(super) fn unite(&mut self, cfg: &PrefixConfig, o: &Learned) {
        if o.wide.is_empty() {
            return;
        }
        for n in o.wide.keys() {
            self.wide.insert(n.clone(), ());
        }
        self.canonical(cfg);
    }

    /// Writes every wide node through the wide nodes above it (`a:x` wide
    /// and `a` wide: `a:*` wide), until nothing changes.
    fn canonical(&mut self, cfg: &PrefixConfig) {
        let mut buf = Vec::new();
        loop {
            let mut keys: Vec<Box<[u8]>> = self.wide.keys().cloned().collect();
            keys.sort();
            let mut next: FastMap<Box<[u8]>, ()> = FastMap::default();
            let mut changed = false;
            for n in keys {
                if self.fold(cfg, &n, &mut buf) {
                    changed = true;
                    next.insert(buf[..].into(), ());
                } else {
                    next.insert(n, ());
                }
            }
            self.wide = next;
            if !changed {
                return;
            }
        }
    }

    /// Whether a `*` of `pattern` was learned: it follows a wide node.
    pub(super) fn learned_in(&self, cfg: &PrefixConfig, pattern: &[u8]) -> bool {
        if self.wide.is_empty() {
            return false;
        }
        let mut prev: Option<usize> = None;
        for end in segment_ends(cfg, pattern) {
            if let Some(pe) = prev {
                if &pattern[pe + 1..end] == b"*" && self.wide.contains_key(&pattern[..pe]) {
                    return true;
                }
            }
            prev = Some(end);
        }
        false
    }

    /// Nodes held (for the memory bound: at most `MAX_DEPTH` per pattern).
    pub(super) fn nodes(&self) -> usize {
        self.nodes.len()
    }

    /// Wide nodes held.
    pub(super) fn wide_len(&self) -> usize {
        self.wide.len()
    }

    /// Forgets the wide nodes that patterns cut to `level` segments
    /// (`level` ≤ 0: to their first segment or less) no longer reach:
    /// those of `level` segments or more fold a segment the cut drops.
    /// So every wide node left has a pattern held under it, and there are
    /// at most [`crate::prefix::MAX_DEPTH`] per pattern.
    pub(super) fn prune(&mut self, cfg: &PrefixConfig, level: i32) {
        let keep = usize::try_from(level).unwrap_or(0);
        self.wide
            .retain(|n, _| n.iter().filter(|&&b| cfg.is_sep(b)).count() + 1 < keep);
    }
}
