//! Matching patterns across the two sides. A key's pattern does not
//! depend on the other keys (`user:1234` is `user:*` in every snapshot),
//! so patterns match by their text and depth; only the `--prefix-cap`
//! coarsening can make a side's deep patterns missing, so rows are
//! compared down to the shallower of the two sides' whole depths.

use std::collections::{BTreeSet, HashMap};

use super::model::{Fig, Pattern, Row, SideMeta};

/// The deepest depth at which both sides' patterns are whole (at least 1).
pub fn compared_depth(old: &SideMeta, new: &SideMeta) -> u32 {
    let level = old.prefix_level().min(new.prefix_level());
    u32::try_from(level.clamp(1, 64)).unwrap_or(1)
}

/// Every pattern of either side down to `depth`, with both sides'
/// figures (0 where a side lacks it), by depth, then the size of the
/// memory change (largest first), then pattern.
pub fn match_patterns(
    old: &HashMap<Pattern, Fig>,
    new: &HashMap<Pattern, Fig>,
    depth: u32,
) -> Vec<Row<Pattern>> {
    let all: BTreeSet<&Pattern> = old
        .keys()
        .chain(new.keys())
        .filter(|p| p.depth <= depth)
        .collect();
    let mut rows: Vec<Row<Pattern>> = all
        .into_iter()
        .map(|p| Row {
            key: p.clone(),
            before: old.get(p).copied().unwrap_or_default(),
            after: new.get(p).copied().unwrap_or_default(),
        })
        .collect();
    rows.sort_by(|a, b| {
        a.key
            .depth
            .cmp(&b.key.depth)
            .then(
                b.memory_delta()
                    .unsigned_abs()
                    .cmp(&a.memory_delta().unsigned_abs()),
            )
            .then(a.key.pattern.cmp(&b.key.pattern))
    });
    rows
}

/// Whether `child` (one level deeper) lies under `parent`: it starts with
/// the parent's text followed by a separator.
pub fn is_child(parent: &Pattern, child: &Pattern) -> bool {
    child.depth == parent.depth + 1
        && child.pattern.len() > parent.pattern.len()
        && child.pattern.starts_with(&parent.pattern)
        && child.pattern.as_bytes()[parent.pattern.len()].is_ascii_punctuation()
        && child.pattern.as_bytes()[parent.pattern.len()] != b'*'
}

/// The deepest row under `rows[at]` that carries the same change (same
/// figures on both sides): `order` → `order:*` when every `order` key is
/// an `order:*` key. For the summaries: one line names the pattern that
/// grew, not its ancestors.
pub fn deepest_same(rows: &[Row<Pattern>], at: usize) -> usize {
    let mut cur = at;
    loop {
        let here = &rows[cur];
        let next = rows.iter().position(|r| {
            is_child(&here.key, &r.key) && r.before == here.before && r.after == here.after
        });
        match next {
            Some(n) => cur = n,
            None => return cur,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str, d: u32) -> Pattern {
        Pattern {
            pattern: s.into(),
            depth: d,
        }
    }

    fn fig(keys: u64, mem: u64) -> Fig {
        Fig {
            keys,
            memory_bytes: mem,
            ..Fig::default()
        }
    }

    #[test]
    fn patterns_match_by_text_and_depth() {
        let old: HashMap<Pattern, Fig> = [
            (p("user", 1), fig(10, 1000)),
            (p("user:*", 2), fig(10, 1000)),
            (p("tmp", 1), fig(5, 50)),
            (p("tmp:*:x", 3), fig(5, 50)),
        ]
        .into();
        let new: HashMap<Pattern, Fig> = [
            (p("user", 1), fig(10, 1000)),
            (p("user:*", 2), fig(10, 1000)),
            (p("new", 1), fig(7, 700)),
            (p("new:*", 2), fig(7, 700)),
        ]
        .into();
        let rows = match_patterns(&old, &new, 2);
        let names: Vec<&str> = rows.iter().map(|r| r.key.pattern.as_str()).collect();
        // Depth 3 is past the compared depth.
        assert_eq!(names, ["new", "tmp", "user", "new:*", "user:*"]);
        assert_eq!(rows[0].before, Fig::default());
        assert_eq!(rows[1].after, Fig::default());
        assert_eq!(deepest_same(&rows, 0), 3);
        assert_eq!(deepest_same(&rows, 1), 1);
        assert!(is_child(&p("new", 1), &p("new:*", 2)));
        assert!(!is_child(&p("ne", 1), &p("new:*", 2)));
        assert!(!is_child(&p("new", 1), &p("new:*:x", 3)));
    }

    #[test]
    fn compared_depth_is_the_shallower_whole_depth() {
        use super::super::model::SourceMeta;
        let side = |level| SideMeta {
            sources: vec![SourceMeta {
                prefix_level: level,
                ..SourceMeta::default()
            }],
            ..SideMeta::default()
        };
        assert_eq!(compared_depth(&side(8), &side(8)), 8);
        assert_eq!(compared_depth(&side(8), &side(3)), 3);
        assert_eq!(compared_depth(&side(-1), &side(8)), 1);
    }
}
