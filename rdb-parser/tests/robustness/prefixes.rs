//! (a) Every prefix of a corpus file fails cleanly, at or before the cut.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use rdb_parser::{Rdb, Record};

use super::alloc::memory_budget;
use super::guard::{guarded_walk, slow, Outcome};
use super::harness::{corpus, parallel_jobs, report};
use super::walk::walk_all;

/// Where a valid file's meaningful bytes end (EOF opcode + checksum).
pub(super) fn end_of_rdb(data: &[u8]) -> Option<u64> {
    let rdb = Rdb::new(data).ok()?;
    let eof = rdb.records().find_map(|r| match r {
        Ok(Record::Eof { offset, .. }) => Some(offset),
        _ => None,
    })?;
    Some(eof + 1 + if rdb.has_checksum() { 8 } else { 0 })
}

#[test]
fn every_prefix_fails_cleanly_at_the_cut() {
    let files = corpus();
    if files.is_empty() {
        return;
    }
    let t = Instant::now();
    // (file, prefix lengths) jobs, split so both cores stay busy.
    let mut jobs: Vec<(usize, Vec<usize>)> = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let n = f.data.len();
        let cuts: Vec<usize> = if n < 64 << 10 {
            (0..n).collect()
        } else {
            let mut c: BTreeSet<usize> = (0..300).map(|k| k * n / 300).collect();
            c.extend((1..=20).map(|k| n - k));
            c.extend(0..64);
            c.into_iter().collect()
        };
        for part in cuts.chunks(2048) {
            jobs.push((i, part.to_vec()));
        }
    }
    let walks = AtomicUsize::new(0);
    let failures = parallel_jobs(jobs.len(), |j| {
        let (i, cuts) = &jobs[j];
        let f = &files[*i];
        let valid_end = match walk_all(&f.data) {
            Ok(_) => end_of_rdb(&f.data),
            Err(_) => None,
        };
        let mut bad = Vec::new();
        for &cut in cuts {
            let prefix = &f.data[..cut];
            let (outcome, elapsed, peak) = guarded_walk(prefix);
            walks.fetch_add(1, Ordering::Relaxed);
            let at = format!("{} cut at {cut} of {}", f.rel, f.data.len());
            if peak > memory_budget(cut) {
                bad.push(format!("{at}: took {peak} bytes of memory"));
            }
            if elapsed > slow() {
                bad.push(format!("{at}: took {elapsed:?}"));
            }
            match outcome {
                Outcome::Panic(p) => bad.push(format!("{at}: {p}")),
                Outcome::Ok(w) => {
                    if !w.inconsistencies.is_empty() {
                        bad.push(format!("{at}: inconsistent {:?}", w.inconsistencies));
                    }
                    // Only a file with bytes after its checksum may be cut
                    // and still be whole.
                    if let Some(end) = valid_end {
                        if (cut as u64) < end {
                            bad.push(format!(
                                "{at}: a prefix missing bytes before {end} was accepted"
                            ));
                        }
                    }
                }
                Outcome::Err(e) => {
                    if e.offset() > cut as u64 {
                        bad.push(format!(
                            "{at}: error offset {} past the cut: {e}",
                            e.offset()
                        ));
                    }
                    if let Some(end) = valid_end {
                        if cut as u64 >= end {
                            bad.push(format!(
                                "{at}: a whole file (EOF and checksum present) failed: {e}"
                            ));
                        }
                    }
                }
            }
        }
        bad
    });
    eprintln!(
        "prefixes: {} walks of {} files in {:?}",
        walks.load(Ordering::Relaxed),
        files.len(),
        t.elapsed()
    );
    report("prefixes", failures);
}
