//! The comparison itself: two loaded sides into a [`Diff`] (patterns,
//! types and encodings, TTL buckets, databases, slots, big keys) and the
//! notes a reader needs (versions differ, per-key diffs not available).

use std::collections::{BTreeMap, BTreeSet, HashSet};

use crate::error::Result;

use super::keys::lookup;
use super::matching::{compared_depth, match_patterns};
use super::model::{Diff, Fig, KeyChange, KeyChangeKind, KeyId, KeyMap, KeySide, Row};
use super::side::{Side, BUCKETS};

/// Both sides' rows of a keyed table, in key order.
fn pair<K: Ord + Clone>(old: &BTreeMap<K, Fig>, new: &BTreeMap<K, Fig>) -> Vec<Row<K>> {
    let keys: BTreeSet<&K> = old.keys().chain(new.keys()).collect();
    keys.into_iter()
        .map(|k| Row {
            key: k.clone(),
            before: old.get(k).copied().unwrap_or_default(),
            after: new.get(k).copied().unwrap_or_default(),
        })
        .collect()
}

/// What a key is on a side: from its big keys, else from its keys.parquet.
fn key_side(big: &KeyMap, looked_up: Option<&KeyMap>, k: &KeyId) -> KeySide {
    if let Some(f) = big.get(k) {
        return KeySide::Present(f.clone());
    }
    match looked_up {
        Some(found) => found
            .get(k)
            .map_or(KeySide::Absent, |f| KeySide::Present(f.clone())),
        None => KeySide::Unknown,
    }
}

/// How a key changed; `None` when it did not.
fn classify(before: &KeySide, after: &KeySide) -> Option<KeyChangeKind> {
    use KeySide::{Absent, Present, Unknown};
    Some(match (before, after) {
        (Absent, Present(_)) => KeyChangeKind::New,
        (Present(_), Absent) => KeyChangeKind::Vanished,
        (Unknown, Present(_)) => KeyChangeKind::EnteredTop,
        (Present(_), Unknown) => KeyChangeKind::LeftTop,
        (Present(b), Present(a)) if a.memory_bytes > b.memory_bytes => KeyChangeKind::Grown,
        (Present(b), Present(a)) if a.memory_bytes < b.memory_bytes => KeyChangeKind::Shrunk,
        (Present(b), Present(a)) if a != b => KeyChangeKind::Changed,
        _ => return None,
    })
}

/// The big keys of either side that changed: each side's big keys looked
/// up on the other side (in its keys.parquet when it has one).
fn key_changes(old: &Side, new: &Side) -> Result<(Vec<KeyChange>, bool)> {
    let candidates: BTreeSet<&KeyId> = old.big.keys().chain(new.big.keys()).collect();
    let missing = |side: &Side| -> HashSet<KeyId> {
        candidates
            .iter()
            .filter(|k| !side.big.contains_key(**k))
            .map(|k| (*k).clone())
            .collect()
    };
    let in_old = lookup(old, &missing(old))?;
    let in_new = lookup(new, &missing(new))?;
    let per_key = in_old.is_some() && in_new.is_some();
    let mut changes: Vec<KeyChange> = candidates
        .into_iter()
        .filter_map(|k| {
            let before = key_side(&old.big, in_old.as_ref(), k);
            let after = key_side(&new.big, in_new.as_ref(), k);
            let change = classify(&before, &after)?;
            Some(KeyChange {
                change,
                db: k.0,
                key: k.1.clone(),
                before,
                after,
            })
        })
        .collect();
    changes.sort_by(|a, b| {
        let size = |c: &KeyChange| {
            c.memory_delta().map_or_else(
                || {
                    c.before
                        .fig()
                        .or(c.after.fig())
                        .map_or(0, |f| f.memory_bytes)
                },
                |d| d.unsigned_abs(),
            )
        };
        size(b)
            .cmp(&size(a))
            .then(a.db.cmp(&b.db))
            .then(a.key.cmp(&b.key))
    });
    Ok((changes, per_key))
}

fn versions(side: &Side) -> BTreeSet<&str> {
    side.meta
        .sources
        .iter()
        .map(|s| s.modelled_version.as_str())
        .collect()
}

/// The notes of a diff.
fn notes(old: &Side, new: &Side, depth: u32) -> Vec<String> {
    let mut notes = Vec::new();
    for side in [old, new] {
        if !side.meta.has_keys {
            let (other, shown) = if side.meta.label == "OLD" {
                ("NEW", "entered_top, not new")
            } else {
                ("OLD", "left_top, not vanished")
            };
            notes.push(format!(
                "{} has no keys.parquet (analyzed with --no-keys): per-key diffs are not \
                 available; the patterns and other tables compare in full, and big keys of \
                 {other} missing from its big-key lists show as {shown}.",
                side.meta.label
            ));
        }
    }
    let (vo, vn) = (versions(old), versions(new));
    if vo != vn {
        let join = |v: &BTreeSet<&str>| v.iter().copied().collect::<Vec<_>>().join(", ");
        notes.push(format!(
            "memory is modelled for {} before and {} after: part of the memory change is \
             the servers' own (object layouts, encodings), not the data's.",
            join(&vo),
            join(&vn)
        ));
    }
    if depth < 8 {
        notes.push(format!(
            "key patterns are compared down to depth {depth}: --prefix-cap cut deeper \
             patterns on one side."
        ));
    }
    notes
}

/// Compares `old` with `new`.
pub fn diff(old: &Side, new: &Side) -> Result<Diff> {
    let depth = compared_depth(&old.meta, &new.meta);
    let (keys, per_key) = key_changes(old, new)?;
    let mut expiry = pair(&old.expiry, &new.expiry);
    // Buckets soonest first, as in expiry.parquet; unknown names last.
    expiry.sort_by_key(|r| {
        BUCKETS
            .iter()
            .position(|b| *b == r.key)
            .unwrap_or(BUCKETS.len())
    });
    Ok(Diff {
        old: old.meta.clone(),
        new: new.meta.clone(),
        prefixes: match_patterns(&old.prefixes, &new.prefixes, depth),
        compared_depth: depth,
        types: pair(&old.types, &new.types),
        expiry,
        dbs: pair(&old.dbs, &new.dbs),
        slots: pair(&old.slots, &new.slots),
        keys,
        per_key,
        notes: notes(old, new, depth),
    })
}

#[cfg(test)]
mod tests {
    use super::super::model::KeyFig;
    use super::*;

    fn fig(mem: u64) -> KeyFig {
        KeyFig {
            kind: "hash".into(),
            encoding: "hashtable".into(),
            memory_bytes: mem,
            elements: 1,
            rdb_bytes: 1,
        }
    }

    #[test]
    fn key_classes() {
        use KeySide::{Absent, Present, Unknown};
        let c = |b, a| classify(&b, &a);
        assert_eq!(c(Absent, Present(fig(1))), Some(KeyChangeKind::New));
        assert_eq!(c(Present(fig(1)), Absent), Some(KeyChangeKind::Vanished));
        assert_eq!(c(Unknown, Present(fig(1))), Some(KeyChangeKind::EnteredTop));
        assert_eq!(c(Present(fig(1)), Unknown), Some(KeyChangeKind::LeftTop));
        assert_eq!(
            c(Present(fig(1)), Present(fig(2))),
            Some(KeyChangeKind::Grown)
        );
        assert_eq!(
            c(Present(fig(2)), Present(fig(1))),
            Some(KeyChangeKind::Shrunk)
        );
        let mut other = fig(1);
        other.encoding = "listpack".into();
        assert_eq!(
            c(Present(fig(1)), Present(other)),
            Some(KeyChangeKind::Changed)
        );
        assert_eq!(c(Present(fig(1)), Present(fig(1))), None);
    }

    #[test]
    fn pairs_fill_the_missing_side() {
        let f = |k| Fig {
            keys: k,
            ..Fig::default()
        };
        let old: BTreeMap<i64, Fig> = [(0, f(1)), (1, f(2))].into();
        let new: BTreeMap<i64, Fig> = [(1, f(3)), (2, f(4))].into();
        let rows = pair(&old, &new);
        let got: Vec<(i64, u64, u64)> = rows
            .iter()
            .map(|r| (r.key, r.before.keys, r.after.keys))
            .collect();
        assert_eq!(got, [(0, 1, 0), (1, 2, 3), (2, 0, 4)]);
    }
}
