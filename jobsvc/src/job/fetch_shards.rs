//! Fetching the snapshots of several shards for one job: shards on
//! different hosts at once (up to `fetches_at_once`), at most
//! `fetches_per_host` of one host at a time (each node forks to write its
//! snapshot: forks side by side on one host compete for its memory and
//! disk). A shard whose file an earlier attempt completed (fetches land by
//! rename) is not fetched again.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Instant;

use super::JobCtx;
use crate::error::{Error, Result};
use crate::store::AppRow;

/// One shard's snapshot to fetch: from which node, into which file.
pub struct Shard {
    /// The node read from (`host:port`).
    pub addr: String,
    /// The file it lands in.
    pub dest: PathBuf,
}

impl Shard {
    /// Read from `from` into `<dir>/<name>.rdb` (the `:` and `/` of the
    /// name made `_`).
    pub fn in_dir(dir: &Path, name: &str, from: &str) -> Shard {
        Shard {
            addr: from.to_string(),
            dest: dir.join(format!("{}.rdb", name.replace([':', '/'], "_"))),
        }
    }
}

/// How a shard's snapshot was got.
#[derive(Clone, Debug)]
pub struct Fetched {
    /// The file's size.
    pub bytes: u64,
    /// `"resumed"` (an earlier attempt's file), else the command that got
    /// it (`"psync"`, `"sync"`).
    pub how: String,
    /// How long its fetch took (0 when resumed).
    pub secs: f64,
}

/// Where the fetches stand, for a progress line.
pub struct FetchProgress<'a> {
    /// Bytes received over all the shards.
    pub bytes: u64,
    /// The sizes announced so far, summed (a diskless transfer announces
    /// none).
    pub announced: u64,
    /// Shards whose file is complete.
    pub shards_done: usize,
    /// Shards in all.
    pub shards: usize,
    /// The node whose fetch moved.
    pub node: &'a str,
}

/// The host of `host:port` (an IPv6 address keeps its colons).
pub fn host_of(addr: &str) -> &str {
    addr.rsplit_once(':').map_or(addr, |(h, _)| h)
}

/// The scheduler's shared state: shards not yet started, fetches running
/// per host, and what came of each.
struct Queue<'a> {
    pending: Vec<usize>,
    per_host: HashMap<&'a str, usize>,
    results: Vec<Option<Fetched>>,
    failed: Option<Error>,
}

impl Queue<'_> {
    /// Shards whose file is complete.
    fn done(&self) -> usize {
        self.results.iter().flatten().count()
    }
}

impl JobCtx {
    /// Fetches every shard's snapshot into its `dest` (see the module
    /// notes), calling `progress` as bytes arrive and `landed(i, how)` as
    /// shard i's file is complete (a checkpoint; calls never overlap).
    /// Returns each shard's outcome in order. After a failure no further
    /// fetch starts, those running finish (their files are kept for the
    /// next attempt), and the first error is returned.
    pub fn fetch_shards(
        &self,
        app: &AppRow,
        shards: &[Shard],
        progress: &(dyn Fn(FetchProgress<'_>) + Sync),
        landed: &(dyn Fn(usize, &Fetched, usize) -> Result<()> + Sync),
    ) -> Result<Vec<Fetched>> {
        let config = &self.state().config;
        let (at_once, per_host) = (
            config.fetches_at_once.max(1),
            config.fetches_per_host.max(1),
        );
        let queue = Mutex::new(Queue {
            pending: (0..shards.len()).collect(),
            per_host: HashMap::new(),
            results: vec![None; shards.len()],
            failed: None,
        });
        let moved = Condvar::new();
        let landing = Mutex::new(());
        let received: Vec<AtomicU64> = shards.iter().map(|_| AtomicU64::new(0)).collect();
        let announced: Vec<AtomicU64> = shards.iter().map(|_| AtomicU64::new(0)).collect();
        let lock = || queue.lock().unwrap_or_else(|p| p.into_inner());
        // The next shard whose host has room, waiting while none has;
        // None once nothing is left to start (or a fetch failed).
        let take = || -> Option<usize> {
            let mut q = lock();
            loop {
                if q.failed.is_some() || q.pending.is_empty() {
                    return None;
                }
                if let Err(e) = self.check_cancel() {
                    q.failed.get_or_insert(e);
                    moved.notify_all();
                    return None;
                }
                let free = q.pending.iter().position(|&i| {
                    q.per_host
                        .get(host_of(&shards[i].addr))
                        .copied()
                        .unwrap_or(0)
                        < per_host
                });
                if let Some(at) = free {
                    let i = q.pending.remove(at);
                    *q.per_host.entry(host_of(&shards[i].addr)).or_default() += 1;
                    return Some(i);
                }
                q = moved.wait(q).unwrap_or_else(|p| p.into_inner());
            }
        };
        let fetch_one = |i: usize| -> Result<Fetched> {
            let shard = &shards[i];
            let start = Instant::now();
            if shard.dest.is_file() {
                let bytes = std::fs::metadata(&shard.dest)?.len();
                return Ok(Fetched {
                    bytes,
                    how: "resumed".into(),
                    secs: 0.0,
                });
            }
            let mut on_progress = |done: u64, size: Option<u64>| {
                received[i].store(done, Ordering::Relaxed);
                announced[i].store(size.unwrap_or(0), Ordering::Relaxed);
                let sum = |v: &[AtomicU64]| v.iter().map(|a| a.load(Ordering::Relaxed)).sum();
                progress(FetchProgress {
                    bytes: sum(&received),
                    announced: sum(&announced),
                    shards_done: lock().done(),
                    shards: shards.len(),
                    node: &shard.addr,
                });
            };
            let got = self.fetch_rdb(app, &shard.addr, &shard.dest, &mut on_progress)?;
            Ok(Fetched {
                bytes: got.bytes,
                how: format!("{:?}", got.command).to_lowercase(),
                secs: start.elapsed().as_secs_f64(),
            })
        };
        let work = || {
            while let Some(i) = take() {
                let r = fetch_one(i).and_then(|f| {
                    // Counted and told in one step: each landing sees its
                    // own count.
                    let _one = landing.lock().unwrap_or_else(|p| p.into_inner());
                    let done = {
                        let mut q = lock();
                        q.results[i] = Some(f.clone());
                        q.done()
                    };
                    landed(i, &f, done)
                });
                let mut q = lock();
                if let Some(n) = q.per_host.get_mut(host_of(&shards[i].addr)) {
                    *n -= 1;
                }
                if let Err(e) = r {
                    q.failed.get_or_insert(e);
                }
                moved.notify_all();
            }
        };
        std::thread::scope(|s| {
            for _ in 1..at_once.min(shards.len()) {
                s.spawn(work);
            }
            work();
        });
        let q = queue.into_inner().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = q.failed {
            return Err(e);
        }
        q.results
            .into_iter()
            .map(|r| r.ok_or_else(|| Error::internal("a shard's fetch did not run")))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_of_addresses() {
        assert_eq!(host_of("10.0.0.1:6379"), "10.0.0.1");
        assert_eq!(host_of("[::1]:6379"), "[::1]");
        assert_eq!(host_of("redis-a.internal:7000"), "redis-a.internal");
        assert_eq!(host_of("nohost"), "nohost");
    }
}
