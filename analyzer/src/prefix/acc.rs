//! The pattern accumulator: keys counted per pattern (positions with many
//! literal values folded into `*`, see [`super::learn`]), merged into one
//! tree of at most `cap` patterns, cut coarser only where the whole file
//! needs it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use super::config::{PrefixConfig, MAX_DEPTH};
use super::examples::Examples;
use super::hasher::FastMap;
use super::learn::Learned;
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

/// A worker holds at most this many times `cap` patterns, and never fewer
/// than [`MIN_HELD`] (the memory bound); see [`PrefixAcc::finish`] for why
/// it may hold more than `cap`.
pub const CAP_SLACK: usize = 8;

/// The memory bound's floor, in patterns (a few hundred KB), so that tiny
/// caps need not cut before the whole file is seen.
pub const MIN_HELD: usize = 4096;

/// Most patterns an accumulator with cap `cap` holds before it is finished.
pub fn held_bound(cap: usize) -> usize {
    cap.saturating_mul(CAP_SLACK).max(MIN_HELD)
}

/// The *shape* of `p` (held at `level`) into `out`: its first segment and
/// the separators after it (`user:*:profile` → `user::`). Learned folds
/// never change it, so the shapes a worker holds are at most the patterns
/// the whole file has at that level, whatever it learns later. At levels 1
/// and below (no separator, nothing folded) it is the pattern itself.
fn shape(cfg: &PrefixConfig, level: i32, p: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let first_end = p.iter().position(|&b| cfg.is_sep(b)).unwrap_or(p.len());
    if level <= 1 {
        out.extend_from_slice(p);
        return;
    }
    out.extend_from_slice(&p[..first_end]);
    out.extend(p[first_end..].iter().copied().filter(|&b| cfg.is_sep(b)));
}

/// One worker's pattern counts: at most [`CAP_SLACK`] × `cap` patterns,
/// `cap` once finished.
#[derive(Debug)]
pub struct PrefixAcc {
    cfg: PrefixConfig,
    level: i32,
    map: FastMap<Box<[u8]>, Counted>,
    /// Wide nodes and the node counts of the patterns in `map`.
    learned: Learned,
    /// The shapes of the patterns in `map`.
    shapes: FastMap<Box<[u8]>, ()>,
    buf: Vec<u8>,
    fold_buf: Vec<u8>,
    shape_buf: Vec<u8>,
    /// The memory bound cut a level the shapes did not (see
    /// [`PrefixAcc::finish`]).
    forced: bool,
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
            learned: self.learned.clone(),
            shapes: self.shapes.clone(),
            forced: self.forced,
            buf: Vec::new(),
            fold_buf: Vec::new(),
            shape_buf: Vec::new(),
            // The copy numbers its new patterns on its own.
            epoch: new_epoch(),
        }
    }
}

/// A pattern's totals, its two smallest keys and its number in its
/// accumulator.
#[derive(Clone, Debug)]
struct Counted {
    stat: PrefixStat,
    examples: Examples,
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
            learned: Learned::default(),
            shapes: FastMap::default(),
            buf: Vec::new(),
            fold_buf: Vec::new(),
            shape_buf: Vec::new(),
            forced: false,
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

    /// True when the memory bound ([`CAP_SLACK`] × the cap) cut a level
    /// before the whole file was seen: the level may then depend on the
    /// threads and the order of keys (see [`PrefixAcc::finish`]).
    pub fn forced(&self) -> bool {
        self.forced
    }

    /// Distinct patterns held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when no key was added.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Tree nodes counted for the learned wildcards (at most
    /// [`MAX_DEPTH`] per pattern held).
    pub fn nodes(&self) -> usize {
        self.learned.nodes()
    }

    /// Wide nodes held: positions learned to be `*` (at most
    /// [`MAX_DEPTH`] per pattern held, as every one has a pattern under
    /// it; those a coarser cut no longer reaches are dropped).
    pub fn wide_nodes(&self) -> usize {
        self.learned.wide_len()
    }

    /// Counts one key whose full pattern ([`PrefixConfig::template`]) is
    /// `pattern`; returns the pattern's number while patterns are held
    /// uncut and the pattern is held as it is (none once coarsened, or
    /// when a learned `*` replaced a segment of it). Inlined into the
    /// per-key loop: the call alone cost a tenth of the prefix work.
    #[inline(always)]
    pub fn add(&mut self, key: &[u8], pattern: &[u8], k: &KeyStat) -> Option<PatternSlot> {
        let finest = self.level == FINEST;
        let p = held_as(&self.cfg, self.level, pattern, &mut self.buf);
        if let Some(s) = self.map.get_mut(p) {
            s.stat.add(k);
            s.examples.offer(key);
            return finest.then_some(PatternSlot {
                epoch: self.epoch,
                index: s.slot,
            });
        }
        self.add_new(key, pattern, k)
    }

    /// A pattern not held as it is: folded through the wide nodes, then
    /// added (a new pattern when it is still not held).
    #[cold]
    fn add_new(&mut self, key: &[u8], pattern: &[u8], k: &KeyStat) -> Option<PatternSlot> {
        let mut fold_buf = std::mem::take(&mut self.fold_buf);
        let folded = self.learned.fold(&self.cfg, pattern, &mut fold_buf);
        let full: &[u8] = if folded { &fold_buf } else { pattern };
        let slot = self.add_folded(key, full, k);
        self.fold_buf = fold_buf;
        slot.filter(|_| !folded)
    }

    fn add_folded(&mut self, key: &[u8], full: &[u8], k: &KeyStat) -> Option<PatternSlot> {
        let finest = self.level == FINEST;
        let p = held_as(&self.cfg, self.level, full, &mut self.buf);
        if let Some(s) = self.map.get_mut(p) {
            s.stat.add(k);
            s.examples.offer(key);
            return finest.then_some(PatternSlot {
                epoch: self.epoch,
                index: s.slot,
            });
        }
        // Under the cap neither bound can be passed: no shape computed.
        if self.map.len() >= self.cfg.cap && self.over(Some(full)) != (false, false) {
            self.coarsen_until_fits(Some(full));
            return self.add_folded(key, full, k);
        }
        let p = held_as(&self.cfg, self.level, full, &mut self.buf);
        shape(&self.cfg, self.level, p, &mut self.shape_buf);
        if !self.shapes.contains_key(&self.shape_buf[..]) {
            self.shapes.insert(self.shape_buf[..].into(), ());
        }
        let slot = self.map.len() as u32;
        let mut stat = PrefixStat::default();
        stat.add(k);
        let mut examples = Examples::default();
        examples.offer(key);
        self.map.insert(
            p.into(),
            Counted {
                stat,
                examples,
                slot,
            },
        );
        if self.learned.note(&self.cfg, p) {
            // A node became wide: the patterns are folded and numbered anew.
            self.learn();
            return None;
        }
        finest.then_some(PatternSlot {
            epoch: self.epoch,
            index: slot,
        })
    }

    /// Puts `c` (of pattern `p`) in, merged with what `p` already has.
    fn put(&mut self, p: &[u8], c: Counted) {
        match self.map.get_mut(p) {
            Some(t) => {
                t.stat.merge(&c.stat);
                t.examples.merge(&c.examples);
            }
            None => {
                let slot = self.map.len() as u32;
                self.map.insert(p.into(), Counted { slot, ..c });
                self.learned.note(&self.cfg, p);
                shape(&self.cfg, self.level, p, &mut self.shape_buf);
                if !self.shapes.contains_key(&self.shape_buf[..]) {
                    self.shapes.insert(self.shape_buf[..].into(), ());
                }
            }
        }
    }

    /// Marks the nodes with too many literal children wide and folds the
    /// patterns, until no node is due.
    fn learn(&mut self) {
        while self.learned.widen(&self.cfg) {
            self.refold();
        }
    }

    /// Every pattern folded through the wide nodes, numbered anew.
    fn refold(&mut self) {
        self.epoch = new_epoch();
        let old = std::mem::take(&mut self.map);
        self.learned.clear_nodes();
        self.shapes.clear();
        let mut buf = Vec::new();
        // Sorted, so that the numbering does not follow the map's order.
        let mut old: Vec<(Box<[u8]>, Counted)> = old.into_iter().collect();
        old.sort_by(|a, b| a.0.cmp(&b.0));
        for (p, c) in old {
            if self.learned.fold(&self.cfg, &p, &mut buf) {
                self.put(&buf, c);
            } else {
                self.put(&p, c);
            }
        }
    }

    /// Why the level held must go, with `pending` (a full pattern about to
    /// be added) counted: `(shapes, memory)`. By shapes when the shapes
    /// held pass the cap (then the whole file has more patterns than the
    /// cap at this level, whatever is learned later); by memory when the
    /// patterns pass [`held_bound`] (only then may a worker cut a level
    /// the whole file keeps).
    fn over(&self, pending: Option<&[u8]>) -> (bool, bool) {
        let (mut new_pattern, mut new_shape) = (false, false);
        if let Some(p) = pending {
            let mut buf = Vec::new();
            let mut shape_buf = Vec::new();
            coarsen(&self.cfg, p, self.level, &mut buf);
            new_pattern = !self.map.contains_key(&buf[..]);
            shape(&self.cfg, self.level, &buf, &mut shape_buf);
            new_shape = !self.shapes.contains_key(&shape_buf[..]);
        }
        (
            self.shapes.len() + usize::from(new_shape) > self.cfg.cap,
            self.map.len() + usize::from(new_pattern) > held_bound(self.cfg.cap),
        )
    }

    /// One level coarser: every pattern cut, the map rebuilt.
    fn coarsen_one(&mut self) {
        let mut buf = Vec::new();
        self.level -= 1;
        self.epoch = new_epoch();
        let old = std::mem::take(&mut self.map);
        self.learned.clear_nodes();
        self.learned.prune(&self.cfg, self.level);
        self.shapes.clear();
        for (p, c) in old {
            coarsen(&self.cfg, &p, self.level, &mut buf);
            self.put(&buf, c);
        }
    }

    /// Coarsens while [`PrefixAcc::over`] (with `pending`).
    fn coarsen_until_fits(&mut self, pending: Option<&[u8]>) {
        while self.level >= 0 {
            let (by_shapes, by_memory) = self.over(pending);
            if !by_shapes && !by_memory {
                return;
            }
            // Forced: the memory bound, not the shapes, cut a level the
            // whole file may keep.
            self.forced |= !by_shapes;
            self.coarsen_one();
        }
    }

    /// The final cut, once every key is in and every worker merged: one
    /// level coarser while more patterns than the cap are held. Workers
    /// and merges only cut a level the whole file certainly cannot keep
    /// (more shapes than the cap), so this is the finest level at which
    /// the whole file's patterns, folded, fit the cap, whatever the
    /// threads and the order of keys, unless a worker passed the memory
    /// bound of [`CAP_SLACK`] × the cap at a level the file keeps.
    pub fn finish(&mut self) {
        while self.level >= 0 && self.map.len() > self.cfg.cap {
            self.coarsen_one();
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
        self.learned.clear_nodes();
        self.learned.prune(&self.cfg, level);
        self.shapes.clear();
        for (p, c) in old {
            coarsen(&self.cfg, &p, level, &mut buf);
            self.put(&buf, c);
        }
    }

    /// Folds `o` in: the coarser level of the two, the wide nodes of both
    /// (patterns folded again, and further while a node is due), then
    /// coarser while over the cap.
    pub fn merge(&mut self, mut o: PrefixAcc) {
        self.forced |= o.forced;
        let level = self.level.min(o.level);
        self.coarsen_to(level);
        o.coarsen_to(level);
        // The numbering changes (the maps may swap).
        self.epoch = new_epoch();
        if self.map.len() < o.map.len() {
            std::mem::swap(&mut self.map, &mut o.map);
            std::mem::swap(&mut self.learned, &mut o.learned);
            std::mem::swap(&mut self.shapes, &mut o.shapes);
        }
        self.learned.unite(&self.cfg, &o.learned);
        for (p, c) in o.map {
            self.put(&p, c);
        }
        if !self.learned.none_wide() {
            self.refold();
        }
        self.learn();
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
        let mut nodes: BTreeMap<Vec<u8>, (usize, PrefixStat, Examples)> = BTreeMap::new();
        for (p, c) in &self.map {
            let s = &c.stat;
            let mut depth = 0;
            let mut add = |end: usize, depth: usize| match nodes.get_mut(&p[..end]) {
                Some(n) => {
                    n.1.merge(s);
                    n.2.merge(&c.examples);
                }
                None => {
                    nodes.insert(p[..end].to_vec(), (depth, *s, c.examples.clone()));
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
            .map(|(pattern, (depth, stat, examples))| PrefixRow {
                learned: self.learned.learned_in(&self.cfg, &pattern),
                pattern,
                depth,
                stat,
                examples: examples.keys(),
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
    use crate::prefix::learn::{WIDE_BESIDE_IDS, WIDE_CHILDREN};
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
            accs[i % parts].add(k.as_bytes(), &p, &stat(i as u64));
        }
        // Merge in an uneven order.
        let mut it = accs.into_iter().rev();
        let mut a = it.next().unwrap();
        for b in it {
            a.merge(b);
        }
        a.finish();
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

    fn word(r: &mut crate::testutil::Rng) -> String {
        let n = 3 + r.below(6);
        String::from_utf8(r.chars(b"abcdefghijklmnopqrstuvwxyz", n)).unwrap()
    }

    #[test]
    fn learned_wildcards() {
        let mut r = crate::testutil::Rng(7);
        let mut ks = Vec::new();
        for _ in 0..500 {
            ks.push(format!("user:{}:profile", word(&mut r)));
        }
        for f in ["home", "explore", "following"] {
            for _ in 0..100 {
                ks.push(format!("feed:{f}"));
            }
        }
        let a = run(&ks, 1000, 3);
        let tree = a.tree();
        let row = |p: &str| tree.rows.iter().find(|r| r.pattern == p.as_bytes());
        let user = row("user:*:profile").expect("learned user:*:profile");
        assert!(user.learned);
        assert_eq!(user.stat.keys, 500);
        assert_eq!(user.examples.len(), 2);
        assert!(user.examples[0] < user.examples[1]);
        let min = ks.iter().filter(|k| k.starts_with("user:")).min().unwrap();
        assert_eq!(user.examples[0], min.as_bytes());
        for f in ["feed:home", "feed:explore", "feed:following"] {
            let r = row(f).expect(f);
            assert!(!r.learned);
            assert_eq!(r.stat.keys, 100);
        }
        assert_eq!(tree.rows.iter().filter(|r| r.depth == 2).count(), 4);
        // A position with few values stays literal up to the threshold.
        let few: Vec<String> = (0..WIDE_CHILDREN)
            .map(|i| format!("t:{}", word(&mut crate::testutil::Rng(u64::from(i)))))
            .collect();
        let a = run(&few, 1000, 2);
        assert!(a.tree().rows.iter().all(|r| !r.learned));
    }

    #[test]
    fn learned_beside_ids() {
        // Ids the rules recognise (`*`) and a few they miss (words): more
        // than WIDE_BESIDE_IDS of those fold, as many stay.
        let mut r = crate::testutil::Rng(11);
        let ids: Vec<String> = (0..500).map(|i| format!("s:{}", 1000 + i)).collect();
        for (words, folded) in [(WIDE_BESIDE_IDS, false), (WIDE_BESIDE_IDS + 1, true)] {
            let mut ks = ids.clone();
            let mut seen = std::collections::BTreeSet::new();
            while seen.len() < words as usize {
                seen.insert(word(&mut r));
            }
            ks.extend(seen.iter().map(|w| format!("s:{w}")));
            // Without ids, as many words stay literal.
            let only_words = run(&ks[500..], 1000, 3);
            assert_eq!(only_words.len(), words as usize);
            for parts in [1, 3] {
                let a = run(&ks, 1000, parts);
                let tree = a.tree();
                let star = tree.rows.iter().find(|r| r.pattern == b"s:*").unwrap();
                assert_eq!(star.learned, folded, "{words} words, {parts} parts");
                assert_eq!(star.stat.keys, if folded { ks.len() as u64 } else { 500 });
                assert_eq!(a.len(), if folded { 1 } else { 1 + words as usize });
            }
        }
    }

    /// Keys of many shapes: word-like and numeric ids, positions with few
    /// and many values, nested families, random bytes.
    fn mixed_keys(seed: u64, n: usize) -> Vec<String> {
        let mut r = crate::testutil::Rng(seed);
        let families = 1 + r.below(12);
        (0..n)
            .map(|_| match r.below(families + 2) {
                0 => format!("user:{}:{}", word(&mut r), ["cart", "likes"][r.below(2)]),
                1 => format!("feed:{}", ["home", "explore", "following"][r.below(3)]),
                2 => format!("t{}:{}:{}", r.below(3), word(&mut r), word(&mut r)),
                3 => format!("ns{}:{}", r.below(90), r.below(1000)),
                4 => format!("q:{}-{}", word(&mut r), r.below(50)),
                5 => word(&mut r),
                6 => format!("a:{}:b:{}", r.below(70), word(&mut r)),
                _ => {
                    let n = 1 + r.below(9);
                    String::from_utf8_lossy(&r.chars(b"ab:c1|x", n)).into_owned()
                }
            })
            .collect()
    }

    type FullRow = (Vec<u8>, usize, u64, u64, bool, Vec<Vec<u8>>);

    fn flat_full(a: &PrefixAcc) -> Vec<FullRow> {
        a.tree()
            .rows
            .into_iter()
            .map(|r| {
                (
                    r.pattern,
                    r.depth,
                    r.stat.keys,
                    r.stat.memory_bytes,
                    r.learned,
                    r.examples,
                )
            })
            .collect()
    }

    /// The same keys in another order, split into `parts` accumulators at
    /// random; the cap checked after every key.
    fn run_shuffled(keys: &[String], cap: usize, parts: usize, seed: u64) -> PrefixAcc {
        let cfg = PrefixConfig::new(&Separators::Auto, cap, 3);
        let mut r = crate::testutil::Rng(seed);
        let mut order: Vec<usize> = (0..keys.len()).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, r.below(i + 1));
        }
        let mut buf = Vec::new();
        let mut accs: Vec<PrefixAcc> = (0..parts).map(|_| PrefixAcc::new(cfg)).collect();
        for i in order {
            let k = &keys[i];
            let a = &mut accs[r.below(parts)];
            a.add(
                k.as_bytes(),
                cfg.template(k.as_bytes(), &mut buf),
                &stat(i as u64),
            );
            let bound = held_bound(cap);
            assert!(a.len() <= bound, "{} patterns over {bound}", a.len());
            assert!(a.nodes() <= bound * MAX_DEPTH);
            assert!(a.wide_nodes() <= a.len() * MAX_DEPTH, "wide nodes");
        }
        while accs.len() > 1 {
            let b = accs.swap_remove(r.below(accs.len()));
            let i = r.below(accs.len());
            accs[i].merge(b);
            let a = &accs[i];
            assert!(a.len() <= held_bound(cap));
            assert!(a.wide_nodes() <= a.len() * MAX_DEPTH, "wide nodes");
        }
        let mut a = accs.pop().unwrap();
        a.finish();
        assert!(a.len() <= cap, "{} patterns over the cap {cap}", a.len());
        assert!(a.wide_nodes() <= a.len() * MAX_DEPTH, "wide nodes");
        a
    }

    #[test]
    fn patterns_do_not_depend_on_threads_or_order() {
        let (mut exact, mut forced) = (0, Vec::new());
        for seed in 0..24 {
            let ks = mixed_keys(seed, 3000);
            let caps = (1..=300).step_by(7).chain([crate::prefix::DEFAULT_CAP]);
            for cap in caps {
                let one = run_shuffled(&ks, cap, 1, seed);
                for (parts, order) in [(1, 1), (2, 2), (3, 3), (8, 4)] {
                    let many = run_shuffled(&ks, cap, parts, seed * 31 + order);
                    if one.forced() || many.forced() {
                        forced.push((seed, cap, parts));
                        continue;
                    }
                    exact += 1;
                    assert!(
                        flat_full(&one) == flat_full(&many),
                        "seed {seed}, cap {cap}, {parts} parts"
                    );
                }
            }
        }
        // Every run kept within the memory bound without cutting a level
        // the whole file keeps: all 24 × 44 caps × 4 splits compared.
        assert_eq!(forced, []);
        assert_eq!(exact, 24 * 44 * 4);
    }

    #[test]
    fn memory_bound_holds_when_shapes_do_not_cut() {
        // 8,000 patterns of one shape, no position over 64 values: only
        // the memory bound cuts before the whole file is seen.
        let letters = "ghijklmnopqrstuvwxyz".chars();
        let mut ks = Vec::new();
        for x in letters.clone() {
            for y in letters.clone() {
                for z in letters.clone() {
                    ks.push(format!("x:p{x}:q{y}:r{z}"));
                }
            }
        }
        let acc = run_shuffled(&ks, 100, 1, 5);
        assert!(acc.forced());
        // x:<20 words> fits 100, x:<20>:<20> does not.
        assert_eq!(acc.level(), 2);
        assert_eq!(acc.len(), 20);
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
