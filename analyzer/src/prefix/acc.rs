//! The pattern accumulator: keys counted per pattern, at most `cap`
//! patterns per worker (coarsened when over), merged into one tree.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use super::config::{PrefixConfig, MAX_DEPTH};
use super::hasher::FastMap;
use super::stat::{KeyStat, PrefixStat};
use super::tree::{PrefixRow, PrefixTree};

/// Coarsening levels: `1..=MAX_DEPTH` keep that many segments; `0` cuts the
/// first segment to 2 bytes (+ `*`; kept whole if 2 bytes or less); `-1` is `*` alone.
const FINEST: i32 = MAX_DEPTH as i32;

/// `pattern` (at the finest level) cut to `level`, appended to `out`.
fn coarsen(cfg: &PrefixConfig, pattern: &[u8], level: i32, out: &mut Vec<u8>) {
    out.clear();
    if level < 0 {
        out.push(b'*');
        return;
    }
    let first_end = pattern
        .iter()
        .position(|&b| cfg.is_sep(b))
        .unwrap_or(pattern.len());
    if level == 0 {
        let first = &pattern[..first_end];
        if first.len() <= 2 {
            out.extend_from_slice(first);
        } else {
            out.extend_from_slice(&first[..first.len().min(2)]);
            out.push(b'*');
        }
        return;
    }
    let mut segs = 0;
    for (i, &b) in pattern.iter().enumerate() {
        if cfg.is_sep(b) {
            segs += 1;
            if segs == level {
                out.extend_from_slice(&pattern[..i]);
                return;
            }
        }
    }
    out.extend_from_slice(pattern);
}

/// `pattern` as an accumulator at `level` holds it: itself at the finest
/// level, else cut (into `buf`).
#[inline]
fn held_as<'a>(
    cfg: &PrefixConfig,
    level: i32,
    pattern: &'a [u8],
    buf: &'a mut Vec<u8>,
) -> &'a [u8] {
    if level == FINEST {
        pattern
    } else {
        coarsen(cfg, pattern, level, buf);
        buf
    }
}

/// One worker's pattern counts: at most `cap` patterns.
#[derive(Debug)]
pub struct PrefixAcc {
    cfg: PrefixConfig,
    level: i32,
    map: FastMap<Box<[u8]>, Counted>,
    buf: Vec<u8>,
    /// Names this accumulator's numbering of patterns ([`PatternSlot`]);
    /// a new one whenever that numbering may change.
    epoch: u64,
}

impl Clone for PrefixAcc {
    fn clone(&self) -> PrefixAcc {
        PrefixAcc {
            cfg: self.cfg,
            level: self.level,
            map: self.map.clone(),
            buf: Vec::new(),
            // The copy numbers its new patterns on its own.
            epoch: new_epoch(),
        }
    }
}

/// A pattern's totals and its number in its accumulator.
#[derive(Clone, Copy, Debug)]
struct Counted {
    stat: PrefixStat,
    slot: u32,
}

/// A full pattern's number in one [`PrefixAcc`], while that accumulator's
/// `epoch` lasts: it lets `keys.parquet`'s prefix column find the
/// pattern's dictionary entry without hashing it again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PatternSlot {
    /// Which numbering (unique in the process).
    pub epoch: u64,
    /// The pattern's number in it (dense from 0).
    pub index: u32,
}

fn new_epoch() -> u64 {
    static EPOCHS: AtomicU64 = AtomicU64::new(0);
    EPOCHS.fetch_add(1, Ordering::Relaxed)
}

impl PrefixAcc {
    /// Empty, at the finest level.
    pub fn new(cfg: PrefixConfig) -> PrefixAcc {
        PrefixAcc {
            cfg,
            level: FINEST,
            map: FastMap::default(),
            buf: Vec::new(),
            epoch: new_epoch(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &PrefixConfig {
        &self.cfg
    }

    /// The coarsening level (see the module docs): `MAX_DEPTH` when no
    /// pattern was cut.
    pub fn level(&self) -> i32 {
        self.level
    }

    /// Distinct patterns held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when no key was added.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Counts one key whose full pattern ([`PrefixConfig::template`]) is
    /// `pattern`; returns the pattern's number while patterns are held
    /// uncut (none once coarsened).
    #[inline]
    pub fn add(&mut self, pattern: &[u8], k: &KeyStat) -> Option<PatternSlot> {
        let finest = self.level == FINEST;
        let p = held_as(&self.cfg, self.level, pattern, &mut self.buf);
        if let Some(s) = self.map.get_mut(p) {
            s.stat.add(k);
            return finest.then_some(PatternSlot {
                epoch: self.epoch,
                index: s.slot,
            });
        }
        self.add_new(pattern, k)
    }

    #[cold]
    fn add_new(&mut self, pattern: &[u8], k: &KeyStat) -> Option<PatternSlot> {
        if self.map.len() >= self.cfg.cap {
            self.coarsen_until_fits(Some(pattern));
            return self.add(pattern, k);
        }
        let finest = self.level == FINEST;
        let p = held_as(&self.cfg, self.level, pattern, &mut self.buf);
        let slot = self.map.len() as u32;
        let mut stat = PrefixStat::default();
        stat.add(k);
        self.map.insert(p.into(), Counted { stat, slot });
        finest.then_some(PatternSlot {
            epoch: self.epoch,
            index: slot,
        })
    }

    /// Puts `stat` (of pattern `p`) in, merged with what `p` already has.
    fn put(&mut self, p: &[u8], stat: &PrefixStat) {
        match self.map.get_mut(p) {
            Some(t) => t.stat.merge(stat),
            None => {
                let slot = self.map.len() as u32;
                self.map.insert(p.into(), Counted { stat: *stat, slot });
            }
        }
    }

    /// Coarsens while the patterns held (plus `pending`, a pattern about
    /// to be added) are more than the cap.
    fn coarsen_until_fits(&mut self, pending: Option<&[u8]>) {
        let mut buf = Vec::new();
        loop {
            let pending_new = pending.is_some_and(|p| {
                coarsen(&self.cfg, p, self.level, &mut buf);
                !self.map.contains_key(&buf[..])
            });
            if self.map.len() + usize::from(pending_new) <= self.cfg.cap || self.level < 0 {
                return;
            }
            self.level -= 1;
            self.epoch = new_epoch();
            let old = std::mem::take(&mut self.map);
            for (p, s) in old {
                coarsen(&self.cfg, &p, self.level, &mut buf);
                self.put(&buf, &s.stat);
            }
        }
    }

    /// Re-cuts every pattern to `level` (coarser than the current one).
    fn coarsen_to(&mut self, level: i32) {
        if level >= self.level {
            return;
        }
        let mut buf = Vec::new();
        let old = std::mem::take(&mut self.map);
        // Coarsening the finer patterns straight to `level` equals going
        // level by level (each level is a function of the previous one)
        // as long as patterns were cut from the full pattern: cutting an
        // already-cut pattern gives the same result by construction.
        self.level = level;
        self.epoch = new_epoch();
        for (p, s) in old {
            coarsen(&self.cfg, &p, level, &mut buf);
            self.put(&buf, &s.stat);
        }
    }

    /// Folds `o` in: the coarser level of the two, then coarser while over the cap.
    pub fn merge(&mut self, mut o: PrefixAcc) {
        let level = self.level.min(o.level);
        self.coarsen_to(level);
        o.coarsen_to(level);
        // The numbering changes (the maps may swap).
        self.epoch = new_epoch();
        if self.map.len() < o.map.len() {
            std::mem::swap(&mut self.map, &mut o.map);
        }
        for (p, s) in o.map {
            self.put(&p, &s.stat);
        }
        self.coarsen_until_fits(None);
    }

    /// The patterns held and their totals, sorted by pattern.
    pub fn patterns(&self) -> Vec<(&[u8], &PrefixStat)> {
        let mut v: Vec<(&[u8], &PrefixStat)> =
            self.map.iter().map(|(p, s)| (&**p, &s.stat)).collect();
        v.sort_by(|a, b| a.0.cmp(b.0));
        v
    }

    /// The tree: every pattern counted at each of its depths.
    pub fn tree(&self) -> PrefixTree {
        let mut nodes: BTreeMap<Vec<u8>, (usize, PrefixStat)> = BTreeMap::new();
        for (p, s) in &self.map {
            let s = &s.stat;
            let mut depth = 0;
            let mut add = |end: usize, depth: usize| match nodes.get_mut(&p[..end]) {
                Some(n) => n.1.merge(s),
                None => {
                    nodes.insert(p[..end].to_vec(), (depth, *s));
                }
            };
            for (i, &b) in p.iter().enumerate() {
                if self.cfg.is_sep(b) {
                    depth += 1;
                    add(i, depth);
                }
            }
            add(p.len(), depth + 1);
        }
        let rows = nodes
            .into_iter()
            .map(|(pattern, (depth, stat))| PrefixRow {
                pattern,
                depth,
                stat,
            })
            .collect();
        PrefixTree {
            rows,
            cfg: self.cfg,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ExpiryBucket;
    use crate::prefix::config::Separators;
    use rdb_parser::Kind;

    fn stat(mem: u64) -> KeyStat {
        KeyStat {
            kind: Kind::String,
            memory_bytes: mem,
            rdb_bytes: 1,
            has_ttl: false,
            bucket: ExpiryBucket::NoTtl,
        }
    }

    fn keys() -> Vec<String> {
        let mut v = Vec::new();
        for i in 0..50 {
            v.push(format!("user:{i}:profile"));
            v.push(format!("user:{i}:settings"));
            v.push(format!("word{}:x", (b'a' + (i % 26) as u8) as char));
        }
        v.push("config".into());
        v
    }

    fn run(keys: &[String], cap: usize, parts: usize) -> PrefixAcc {
        let cfg = PrefixConfig::new(&Separators::Auto, cap, 3);
        let mut buf = Vec::new();
        let mut accs: Vec<PrefixAcc> = (0..parts).map(|_| PrefixAcc::new(cfg)).collect();
        for (i, k) in keys.iter().enumerate() {
            let p = cfg.template(k.as_bytes(), &mut buf).to_vec();
            accs[i % parts].add(&p, &stat(i as u64));
        }
        // Merge in an uneven order.
        let mut it = accs.into_iter().rev();
        let mut a = it.next().unwrap();
        for b in it {
            a.merge(b);
        }
        a
    }

    fn flat(a: &PrefixAcc) -> Vec<(String, usize, u64, u64)> {
        a.tree()
            .rows
            .iter()
            .map(|r| {
                (
                    String::from_utf8_lossy(&r.pattern).into_owned(),
                    r.depth,
                    r.stat.keys,
                    r.stat.memory_bytes,
                )
            })
            .collect()
    }

    #[test]
    fn tree_rows() {
        let a = run(&keys(), 1000, 1);
        assert_eq!(a.level(), MAX_DEPTH as i32);
        let rows = flat(&a);
        let get = |p: &str| rows.iter().find(|r| r.0 == p).cloned();
        assert_eq!(get("user").map(|r| (r.1, r.2)), Some((1, 100)));
        assert_eq!(get("user:*").map(|r| (r.1, r.2)), Some((2, 100)));
        assert_eq!(get("user:*:profile").map(|r| (r.1, r.2)), Some((3, 50)));
        assert_eq!(get("config").map(|r| (r.1, r.2)), Some((1, 1)));
        let total: u64 = rows.iter().filter(|r| r.1 == 1).map(|r| r.2).sum();
        assert_eq!(total, 151);
        let tree = a.tree();
        let top = tree.children(None);
        assert_eq!(top[0].pattern, b"user");
        let kids = tree.children(Some(top[0]));
        assert_eq!(kids.len(), 1);
        assert_eq!(tree.children(Some(kids[0])).len(), 2);
    }

    #[test]
    fn folding_under_a_tiny_cap() {
        let ks = keys();
        // 2 user patterns + 26 word patterns + config = 29 at full depth.
        assert_eq!(run(&ks, 29, 1).level(), MAX_DEPTH as i32);
        // Over the cap: one level coarser (depth 2: user:*, 26 words, config).
        let a = run(&ks, 28, 1);
        assert_eq!(a.level(), 2);
        assert_eq!(a.len(), 28);
        // Depth 1 has 28 patterns too: under 28, the first segment is cut
        // to 2 bytes: us*, wo*, co*.
        let a = run(&ks, 27, 1);
        assert_eq!(a.level(), 0);
        let pats: Vec<&[u8]> = a.patterns().into_iter().map(|(p, _)| p).collect();
        assert_eq!(pats, [&b"co*"[..], b"us*", b"wo*"]);
        let a = run(&ks, 2, 1);
        assert_eq!(a.level(), -1);
        assert_eq!(a.patterns()[0].1.keys, 151);
        assert_eq!(a.patterns()[0].1.memory_bytes, (0..151).sum::<u64>());
    }

    #[test]
    fn merge_equals_one_pass() {
        let ks = keys();
        for cap in [1, 2, 5, 27, 28, 29, 1000] {
            let one = flat(&run(&ks, cap, 1));
            for parts in [2, 3, 7, 151] {
                let many = run(&ks, cap, parts);
                assert_eq!(one, flat(&many), "cap {cap}, {parts} parts");
            }
        }
    }
}
