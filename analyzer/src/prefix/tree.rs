//! The prefix tree: every pattern counted at each of its depths, and the
//! orders the report and the `prefixes` table read it in.

use super::config::PrefixConfig;
use super::stat::PrefixStat;

/// One node of the prefix tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrefixRow {
    /// The first `depth` segments of patterns (lossy UTF-8 on output).
    pub pattern: Vec<u8>,
    /// Segments.
    pub depth: usize,
    /// Totals of the keys whose pattern is this one or lies under it.
    pub stat: PrefixStat,
    /// A `*` of the pattern was learned from the data (a position with
    /// many distinct values), not set by the identifier rules.
    pub learned: bool,
    /// The two smallest keys under it (fewer when it has fewer).
    pub examples: Vec<Vec<u8>>,
}

/// The prefix tree, rows sorted by pattern.
#[derive(Clone, Debug)]
pub struct PrefixTree {
    /// Every node.
    pub rows: Vec<PrefixRow>,
    pub(super) cfg: PrefixConfig,
}

impl PrefixTree {
    /// Rows by (depth, memory descending, pattern): the order of `prefixes.parquet`.
    pub fn by_depth_and_memory(&self) -> Vec<&PrefixRow> {
        let mut v: Vec<&PrefixRow> = self.rows.iter().collect();
        v.sort_by(|a, b| {
            a.depth
                .cmp(&b.depth)
                .then(b.stat.memory_bytes.cmp(&a.stat.memory_bytes))
                .then_with(|| a.pattern.cmp(&b.pattern))
        });
        v
    }

    /// The `n` rows of depth `1..=max_depth` with the most memory (then
    /// shallower, then by pattern).
    pub fn top_by_memory(&self, max_depth: usize, n: usize) -> Vec<&PrefixRow> {
        let mut v: Vec<&PrefixRow> = self.rows.iter().filter(|r| r.depth <= max_depth).collect();
        v.sort_by(|a, b| {
            b.stat
                .memory_bytes
                .cmp(&a.stat.memory_bytes)
                .then(a.depth.cmp(&b.depth))
                .then_with(|| a.pattern.cmp(&b.pattern))
        });
        v.truncate(n);
        v
    }

    /// The children of `parent` (`None`: the depth-1 nodes), by memory
    /// descending then pattern.
    pub fn children(&self, parent: Option<&PrefixRow>) -> Vec<&PrefixRow> {
        let mut v: Vec<&PrefixRow> = match parent {
            None => self.rows.iter().filter(|r| r.depth == 1).collect(),
            Some(p) => self
                .rows
                .iter()
                .filter(|r| {
                    r.depth == p.depth + 1
                        && r.pattern.len() > p.pattern.len()
                        && r.pattern.starts_with(&p.pattern)
                        && self.cfg.is_sep(r.pattern[p.pattern.len()])
                })
                .collect(),
        };
        v.sort_by(|a, b| {
            b.stat
                .memory_bytes
                .cmp(&a.stat.memory_bytes)
                .then_with(|| a.pattern.cmp(&b.pattern))
        });
        v
    }
}
