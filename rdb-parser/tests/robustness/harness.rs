//! The corpus these tests damage, jobs on every core, and failures
//! reported by kind.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

pub(super) struct CorpusFile {
    pub(super) rel: String,
    pub(super) data: Vec<u8>,
}

/// Distinct corpus files (by content), smallest first.
pub(super) fn corpus() -> Vec<CorpusFile> {
    let Some(dir) = testkit::corpus_dir() else {
        return Vec::new();
    };
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for p in testkit::corpus_files() {
        let data = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        if seen.insert(data.clone()) {
            let rel = p
                .strip_prefix(&dir)
                .unwrap_or(&p)
                .to_string_lossy()
                .replace('\\', "/");
            out.push(CorpusFile { rel, data });
        }
    }
    out.sort_by_key(|f| f.data.len());
    out
}

pub(super) fn scale() -> f64 {
    std::env::var("RDB_MUTATION_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0)
}

/// Runs `job(i)` for `i in 0..n` on every core; returns the failures.
pub(super) fn parallel_jobs(n: usize, job: impl Fn(usize) -> Vec<String> + Sync) -> Vec<String> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .min(8);
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let f = job(i);
                if !f.is_empty() {
                    failures.lock().unwrap().extend(f);
                }
            });
        }
    });
    failures.into_inner().unwrap()
}

/// Fails with the distinct kinds of failure (panic sites, "took …",
/// "accepted" …) each with a count and one example, then the first 40.
pub(super) fn report(what: &str, mut failures: Vec<String>) {
    if failures.is_empty() {
        return;
    }
    failures.sort();
    let mut kinds: std::collections::BTreeMap<String, (usize, &String)> = Default::default();
    for f in &failures {
        let kind = match f.find("panicked at ") {
            Some(i) => f[i..].to_string(),
            None => f
                .rsplit(": ")
                .next()
                .unwrap_or(f)
                .split(|c: char| c.is_ascii_digit())
                .next()
                .unwrap_or(f)
                .to_string(),
        };
        kinds.entry(kind).or_insert((0, f)).0 += 1;
    }
    let kinds: Vec<String> = kinds
        .iter()
        .map(|(k, (n, ex))| format!("  {n} x {k}\n      e.g. {ex}"))
        .collect();
    let shown: Vec<&str> = failures.iter().take(40).map(String::as_str).collect();
    panic!(
        "{what}: {} failures of {} kinds:\n{}\nfirst {}:\n{}",
        failures.len(),
        kinds.len(),
        kinds.join("\n"),
        shown.len(),
        shown.join("\n")
    );
}
