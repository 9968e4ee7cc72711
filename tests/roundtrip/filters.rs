//! Check 3: `--db`, `--match` and `--type` select exactly the right lines.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::path::Path;

use super::cli::{cli, describe};
use super::jsonl::parse_jsonl;
use super::model::{Bytes, KeyVal, Snapshot, Val};
use super::report::show;

/// Redis glob (`*`, `?`, `[a-z]`, `[^x]`, `\x`) over bytes.
pub(super) fn glob(p: &[u8], s: &[u8]) -> bool {
    match p.first() {
        None => s.is_empty(),
        Some(b'*') => (0..=s.len()).any(|i| glob(&p[1..], &s[i..])),
        Some(b'?') => !s.is_empty() && glob(&p[1..], &s[1..]),
        Some(b'[') => {
            let Some(&c) = s.first() else { return false };
            let mut i = 1;
            let neg = p.get(1) == Some(&b'^');
            if neg {
                i += 1;
            }
            let mut hit = false;
            while i < p.len() && p[i] != b']' {
                if p.get(i + 1) == Some(&b'-') && i + 2 < p.len() && p[i + 2] != b']' {
                    let (lo, hi) = (p[i].min(p[i + 2]), p[i].max(p[i + 2]));
                    hit |= (lo..=hi).contains(&c);
                    i += 3;
                } else {
                    hit |= p[i] == c;
                    i += 1;
                }
            }
            hit != neg && glob(&p[(i + 1).min(p.len())..], &s[1..])
        }
        Some(b'\\') if p.len() >= 2 => s.first() == Some(&p[1]) && glob(&p[2..], &s[1..]),
        Some(&c) => s.first() == Some(&c) && glob(&p[1..], &s[1..]),
    }
}

pub(super) fn filter_problems(
    rdb: &Path,
    expected: &Snapshot,
    full: &BTreeMap<(u32, Bytes), String>,
) -> Vec<String> {
    let mut p = Vec::new();
    type Pred = Box<dyn Fn(&(u32, Bytes), &KeyVal) -> bool>;
    let is_module = |kv: &KeyVal| matches!(kv.val, Val::Module { .. });
    let cases: Vec<(Vec<&str>, Pred)> = vec![
        (vec!["--db", "1"], Box::new(|k, _| k.0 == 1)),
        (vec!["--db", "15"], Box::new(|k, _| k.0 == 15)),
        (
            vec!["--match", "user:*"],
            Box::new(|k, _| k.1.starts_with(b"user:")),
        ),
        (
            vec!["--match", "k:00?1"],
            Box::new(|k, _| glob(b"k:00?1", &k.1)),
        ),
        (
            vec!["--match", "k:000[0-3]"],
            Box::new(|k, _| glob(b"k:000[0-3]", &k.1)),
        ),
        (vec!["--type", "hash"], Box::new(|_, kv| kv.ty == "hash")),
        (
            vec!["--type", "stream"],
            Box::new(|_, kv| kv.ty == "stream"),
        ),
        (
            vec!["--db", "0", "--type", "zset", "--match", "zset:*"],
            Box::new(|k, kv| k.0 == 0 && kv.ty == "zset" && k.1.starts_with(b"zset:")),
        ),
        (
            vec!["--type", "module"],
            Box::new(move |_, kv| is_module(kv)),
        ),
    ];
    for (args, pred) in cases {
        let mut all: Vec<&OsStr> = vec![
            OsStr::new("dump"),
            rdb.as_os_str(),
            OsStr::new("--format"),
            OsStr::new("jsonl"),
        ];
        all.extend(args.iter().map(OsStr::new));
        let label = args.join(" ");
        let out = cli(&all);
        if !out.status.success() {
            p.push(format!("dump {label}: {}", describe(&out)));
            continue;
        }
        let parsed = parse_jsonl(&out.stdout);
        for q in parsed.problems.iter().take(3) {
            p.push(format!("dump {label}: {q}"));
        }
        let want: BTreeSet<&(u32, Bytes)> = expected
            .iter()
            .filter(|(k, kv)| pred(k, kv))
            .map(|(k, _)| k)
            .collect();
        let got: BTreeSet<&(u32, Bytes)> = parsed.lines.keys().collect();
        let sh = |s: Vec<&&(u32, Bytes)>| {
            s.iter()
                .take(8)
                .map(|(db, k)| format!("db{db} {}", show(k)))
                .collect::<Vec<_>>()
        };
        let missing: Vec<_> = want.difference(&got).collect();
        let extra: Vec<_> = got.difference(&want).collect();
        if !missing.is_empty() || !extra.is_empty() {
            p.push(format!(
                "dump {label}: {} keys expected, {} output; missing {:?}; unexpected {:?}",
                want.len(),
                got.len(),
                sh(missing),
                sh(extra)
            ));
        }
        if want.is_empty() && !label.contains("module") {
            p.push(format!(
                "dump {label}: the test data has no such keys (test bug)"
            ));
        }
        let changed: Vec<String> = parsed
            .lines
            .iter()
            .filter(|(k, line)| full.get(*k).is_some_and(|l| l != *line))
            .take(3)
            .map(|((db, k), _)| format!("db{db} {}", show(k)))
            .collect();
        if !changed.is_empty() {
            p.push(format!(
                "dump {label}: lines differ from the unfiltered dump for {changed:?}"
            ));
        }
    }
    p
}
