//! Length fields of real files overwritten with huge values are refused
//! quickly and without a big allocation.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use rdb_parser::{Entry, Rdb, ValueType};

use super::alloc::memory_budget;
use super::craft::long_length;
use super::guard::{guarded_walk, slow, Outcome};
use super::harness::{corpus, parallel_jobs, report};

/// Size of the length field (or string-encoding byte) at `at`.
pub(super) fn length_field_size(data: &[u8], at: usize) -> Option<usize> {
    let b = *data.get(at)?;
    Some(match b >> 6 {
        0 => 1,
        1 => 2,
        2 if b == 0x80 => 5,
        2 if b == 0x81 => 9,
        2 => return None,
        _ => 1,
    })
}

/// Offset of an entry's key-length field (after its metadata opcodes and type byte).
pub(super) fn key_length_offset(data: &[u8], e: &Entry<'_>) -> Option<usize> {
    let mut p = e.record_start as usize;
    loop {
        match *data.get(p)? {
            0xfc => p += 9,
            0xfd => p += 5,
            0xf9 => p += 2,
            0xf8 => p += 1 + length_field_size(data, p + 1)?,
            _ => return Some(p + 1),
        }
    }
}

pub(super) fn splice(data: &[u8], at: usize, old_len: usize, new: &[u8]) -> Vec<u8> {
    let mut d = Vec::with_capacity(data.len() + new.len());
    d.extend_from_slice(&data[..at]);
    d.extend_from_slice(new);
    d.extend_from_slice(&data[at + old_len..]);
    d
}

#[test]
fn huge_lengths_in_real_files_are_refused_quickly() {
    let files = corpus();
    if files.is_empty() {
        return;
    }
    let t = Instant::now();
    let huge = [u64::from(u32::MAX), 1 << 40, 1 << 62, u64::MAX];
    let walks = AtomicUsize::new(0);
    let failures = parallel_jobs(files.len(), |i| {
        let f = &files[i];
        let Ok(rdb) = Rdb::new(&f.data) else {
            return Vec::new();
        };
        let entries: Vec<Entry<'_>> = rdb.entries().map_while(|r| r.ok()).collect();
        // At most 40 records, spread over the file; big files are costly.
        let want = if f.data.len() > 1 << 20 { 8 } else { 40 };
        let step = (entries.len() / want).max(1);
        let mut bad = Vec::new();
        for e in entries.iter().step_by(step) {
            let mut targets = Vec::new();
            if let Some(k) = key_length_offset(&f.data, e) {
                targets.push(("key length", k));
            }
            let v = e.value.offset() as usize;
            match e.value_type() {
                ValueType::Module2 | ValueType::ModulePreGa => {}
                ValueType::HashMetadata | ValueType::HashListpackEx => {
                    targets.push(("first value length", v + 8))
                }
                _ => targets.push(("first value length", v)),
            }
            for (what, at) in targets {
                let Some(old) = length_field_size(&f.data, at) else {
                    continue;
                };
                for &n in &huge {
                    let input = splice(&f.data, at, old, &long_length(n, false));
                    let (outcome, elapsed, peak) = guarded_walk(&input);
                    walks.fetch_add(1, Ordering::Relaxed);
                    let here = format!("{}: {what} at {at} set to {n:#x}", f.rel);
                    match outcome {
                        Outcome::Err(_) => {}
                        Outcome::Ok(_) => bad.push(format!("{here}: accepted")),
                        Outcome::Panic(p) => bad.push(format!("{here}: {p}")),
                    }
                    if peak > memory_budget(input.len()) {
                        bad.push(format!("{here}: took {peak} bytes of memory"));
                    }
                    if elapsed > slow() {
                        bad.push(format!("{here}: took {elapsed:?}"));
                    }
                }
            }
        }
        bad
    });
    eprintln!(
        "huge lengths: {} walks in {:?}",
        walks.load(Ordering::Relaxed),
        t.elapsed()
    );
    report("huge lengths", failures);
}
