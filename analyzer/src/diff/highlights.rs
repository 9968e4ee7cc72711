//! What the summaries lead with (terminal, diff.json, diff.html): the
//! patterns that grew and shrank most, the new and vanished ones, each
//! named by the deepest pattern carrying its whole change; and the
//! signed number formats they print.

use crate::output::terminal::human_bytes;

use super::matching::deepest_same;
use super::model::{delta_pct, Diff, Status};

/// Indexes into [`Diff::prefixes`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Highlights {
    /// Most memory gained (new patterns included), most first.
    pub growth: Vec<usize>,
    /// Most memory lost (vanished patterns included), most first.
    pub shrink: Vec<usize>,
    /// Patterns with keys only after, most memory first.
    pub new: Vec<usize>,
    /// Patterns with keys only before, most memory first.
    pub vanished: Vec<usize>,
}

/// The top `n` of each list, from the depth-1 patterns.
pub fn highlights(d: &Diff, n: usize) -> Highlights {
    let top: Vec<usize> = (0..d.prefixes.len())
        .filter(|&i| d.prefixes[i].key.depth == 1)
        .collect();
    let pick = |keep: &dyn Fn(usize) -> bool, size: &dyn Fn(usize) -> u64| -> Vec<usize> {
        let mut v: Vec<usize> = top.iter().copied().filter(|&i| keep(i)).collect();
        v.sort_by(|&a, &b| {
            size(b)
                .cmp(&size(a))
                .then(d.prefixes[a].key.cmp(&d.prefixes[b].key))
        });
        v.truncate(n);
        v.into_iter()
            .map(|i| deepest_same(&d.prefixes, i))
            .collect()
    };
    let row = |i: usize| &d.prefixes[i];
    Highlights {
        growth: pick(&|i| row(i).memory_delta() > 0, &|i| {
            row(i).memory_delta().unsigned_abs()
        }),
        shrink: pick(&|i| row(i).memory_delta() < 0, &|i| {
            row(i).memory_delta().unsigned_abs()
        }),
        new: pick(&|i| row(i).status() == Status::New, &|i| {
            row(i).after.memory_bytes
        }),
        vanished: pick(&|i| row(i).status() == Status::Vanished, &|i| {
            row(i).before.memory_bytes
        }),
    }
}

/// `+1.2 GiB`, `-512 B`, `0 B`.
pub fn signed_bytes(d: i64) -> String {
    match d.signum() {
        1 => format!("+{}", human_bytes(d.unsigned_abs())),
        -1 => format!("-{}", human_bytes(d.unsigned_abs())),
        _ => "0 B".to_owned(),
    }
}

/// `10,000`.
pub fn grouped(n: u64) -> String {
    // The report's count format.
    crate::output::html::page::count(n)
}

/// `+10,000`, `-3`, `0`.
pub fn signed_count(d: i64) -> String {
    let out = grouped(d.unsigned_abs());
    match d.signum() {
        1 => format!("+{out}"),
        -1 => format!("-{out}"),
        _ => out,
    }
}

/// The change from `before` to `after` in percent (`+38.0 %`), `new`
/// from 0, `-` when both are 0.
pub fn signed_pct(before: u64, after: u64) -> String {
    match (delta_pct(before, after), after) {
        (Some(p), _) => format!("{p:+.1} %"),
        (None, 0) => "-".to_owned(),
        (None, _) => "new".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::model::{Fig, Pattern, Row};
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(signed_bytes(1536), "+1.5 KiB");
        assert_eq!(signed_bytes(-512), "-512 B");
        assert_eq!(signed_bytes(0), "0 B");
        assert_eq!(signed_count(10_000), "+10,000");
        assert_eq!(signed_count(-3), "-3");
        assert_eq!(signed_count(0), "0");
        assert_eq!(signed_pct(100, 138), "+38.0 %");
        assert_eq!(signed_pct(100, 0), "-100.0 %");
        assert_eq!(signed_pct(0, 5), "new");
        assert_eq!(signed_pct(0, 0), "-");
    }

    #[test]
    fn leads_with_the_deepest_pattern_of_a_change() {
        let row = |p: &str, depth, before, after| Row {
            key: Pattern {
                pattern: p.into(),
                depth,
            },
            before: Fig {
                keys: before,
                memory_bytes: before * 10,
                ..Fig::default()
            },
            after: Fig {
                keys: after,
                memory_bytes: after * 10,
                ..Fig::default()
            },
        };
        let d = Diff {
            prefixes: vec![
                row("new", 1, 0, 100),
                row("tmp", 1, 20, 0),
                row("user", 1, 50, 60),
                row("keep", 1, 5, 5),
                row("new:*", 2, 0, 100),
                row("user:*", 2, 50, 55),
                row("user:x", 2, 0, 5),
            ],
            ..Diff::default()
        };
        let h = highlights(&d, 10);
        assert_eq!(h.growth, [4, 2]);
        assert_eq!(h.shrink, [1]);
        assert_eq!(h.new, [4]);
        assert_eq!(h.vanished, [1]);
    }
}
