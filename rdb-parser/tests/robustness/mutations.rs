//! (b) Seeded random mutations of corpus files never panic, and stay within
//! time and memory; one can be replayed from its failure message.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use rdb_parser::{Rdb, Record};

use super::alloc::memory_budget;
use super::craft::long_length;
use super::guard::{guarded_walk, slow, Outcome};
use super::harness::{corpus, parallel_jobs, report, scale, CorpusFile};
use super::walk::walk_all;

/// xorshift64*: small, seedable, and the same everywhere.
pub(super) struct Rng(u64);

impl Rng {
    pub(super) fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub(super) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub(super) fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    pub(super) fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

/// One mutation, precise enough to apply again by hand.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Mutation {
    /// XOR these bytes with these masks.
    Flip(Vec<(usize, u8)>),
    /// Insert a byte before `at`.
    Insert { at: usize, byte: u8 },
    /// Delete the byte at `at`.
    Delete { at: usize },
    /// Overwrite bytes at `at` with a byte that means something to the format.
    Set { at: usize, byte: u8 },
    /// Overwrite bytes at `at` with an RDB length (0x80 + u32 BE or 0x81 + u64 BE).
    Length { at: usize, bytes: Vec<u8> },
}

pub(super) fn apply(data: &[u8], m: &Mutation) -> Vec<u8> {
    let mut d = data.to_vec();
    match m {
        Mutation::Flip(flips) => {
            for &(at, mask) in flips {
                if let Some(b) = d.get_mut(at) {
                    *b ^= mask;
                }
            }
        }
        Mutation::Insert { at, byte } => d.insert((*at).min(d.len()), *byte),
        Mutation::Delete { at } => {
            if *at < d.len() {
                d.remove(*at);
            }
        }
        Mutation::Set { at, byte } => {
            if let Some(b) = d.get_mut(*at) {
                *b = *byte;
            }
        }
        Mutation::Length { at, bytes } => {
            for (k, &b) in bytes.iter().enumerate() {
                if let Some(x) = d.get_mut(at + k) {
                    *x = b;
                }
            }
        }
    }
    d
}

/// Offsets where the file's structure starts: record starts, key lengths,
/// value starts and the blob headers just after them.
pub(super) fn hot_offsets(data: &[u8]) -> Vec<usize> {
    let mut out = Vec::new();
    let Ok(rdb) = Rdb::new(data) else { return out };
    let mut last = rdb.body_start() as usize;
    for r in rdb.records() {
        let Ok(r) = r else { break };
        if let Record::Entry(e) = r {
            out.push(e.record_start as usize);
            out.push(e.record_start as usize + 1);
            let v = e.value.offset() as usize;
            out.extend(v..(v + 16).min(e.record_end as usize));
            last = e.record_end as usize;
        } else {
            out.push(last);
        }
    }
    out.retain(|&o| o < data.len());
    out.sort_unstable();
    out.dedup();
    out
}

pub(super) const SPECIAL_BYTES: [u8; 20] = [
    0x00, 0x01, 0x02, 0x3f, 0x40, 0x7f, 0x80, 0x81, 0x82, 0xbf, 0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xf0,
    0xf4, 0xf5, 0xfe, 0xff,
];

pub(super) fn make_mutation(data: &[u8], hot: &[usize], seed: u64) -> Mutation {
    let mut rng = Rng::new(seed);
    let n = data.len().max(1);
    let pos = |rng: &mut Rng| -> usize {
        match rng.below(8) {
            0 => rng.below(n.min(16)),
            1..=4 if !hot.is_empty() => (rng.pick(hot) + rng.below(3)).min(n - 1),
            _ => rng.below(n),
        }
    };
    match rng.below(10) {
        0..=2 => {
            let k = 1 + rng.below(4);
            Mutation::Flip(
                (0..k)
                    .map(|_| (pos(&mut rng), 1 + rng.below(255) as u8))
                    .collect(),
            )
        }
        3 => Mutation::Insert {
            at: pos(&mut rng),
            byte: if rng.below(2) == 0 {
                rng.pick(&SPECIAL_BYTES)
            } else {
                rng.next() as u8
            },
        },
        4 => Mutation::Delete { at: pos(&mut rng) },
        5 | 6 => Mutation::Set {
            at: pos(&mut rng),
            byte: rng.pick(&SPECIAL_BYTES),
        },
        _ => {
            let big = [
                u64::from(u32::MAX),
                1 << 31,
                1 << 32,
                1 << 40,
                1 << 60,
                1 << 62,
                1 << 63,
                u64::MAX,
                u64::MAX - 1,
                data.len() as u64,
                data.len() as u64 + 1,
                rng.next(),
                rng.below(300) as u64,
            ];
            let v = rng.pick(&big);
            Mutation::Length {
                at: pos(&mut rng),
                bytes: long_length(v, rng.below(3) == 0),
            }
        }
    }
}

pub(super) fn mutations_for(len: usize) -> usize {
    // Small files are cheap to walk; big ones get fewer tries.
    let base = if len < 4 << 10 {
        15_000
    } else if len < 40 << 10 {
        9_000
    } else {
        4_000
    };
    ((base as f64) * scale()).ceil() as usize
}

pub(super) fn seed_for(rel: &str, i: usize) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64; // FNV-1a of the name, then the index
    for b in rel.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x1000_0000_01b3);
    }
    h ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Runs one mutation and describes what went wrong, if anything.
pub(super) fn check_mutation(rel: &str, data: &[u8], hot: &[usize], seed: u64) -> Option<String> {
    let m = make_mutation(data, hot, seed);
    let input = apply(data, &m);
    let (outcome, elapsed, peak) = guarded_walk(&input);
    let at = format!("{rel} seed {seed:#x} {m:?} (replay: RDB_REPLAY={rel}:{seed:#x})");
    match outcome {
        Outcome::Panic(p) => Some(format!("{at}: {p}")),
        Outcome::Ok(w) if !w.inconsistencies.is_empty() => {
            Some(format!("{at}: inconsistent {:?}", w.inconsistencies))
        }
        _ if peak > memory_budget(input.len()) => {
            Some(format!("{at}: took {peak} bytes of memory"))
        }
        _ if elapsed > slow() => Some(format!("{at}: took {elapsed:?}")),
        Outcome::Err(e) if e.offset() > input.len() as u64 => {
            Some(format!("{at}: error offset past the end: {e}"))
        }
        _ => None,
    }
}

#[test]
fn random_mutations_never_panic() {
    let files: Vec<CorpusFile> = corpus()
        .into_iter()
        .filter(|f| f.data.len() < 200 << 10)
        .collect();
    if files.is_empty() {
        return;
    }
    let t = Instant::now();
    let hot: Vec<Vec<usize>> = files.iter().map(|f| hot_offsets(&f.data)).collect();
    // Jobs of at most 250 mutations of one file.
    let mut jobs = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let n = mutations_for(f.data.len());
        for start in (0..n).step_by(250) {
            jobs.push((i, start, (start + 250).min(n)));
        }
    }
    let total = AtomicUsize::new(0);
    let failures = parallel_jobs(jobs.len(), |j| {
        let (i, from, to) = jobs[j];
        let f = &files[i];
        let mut bad = Vec::new();
        for k in from..to {
            if let Some(b) = check_mutation(&f.rel, &f.data, &hot[i], seed_for(&f.rel, k)) {
                bad.push(b);
            }
        }
        total.fetch_add(to - from, Ordering::Relaxed);
        bad
    });
    eprintln!(
        "mutations: {} walks of {} files in {:?}",
        total.load(Ordering::Relaxed),
        files.len(),
        t.elapsed()
    );
    report("random mutations", failures);
}

/// `RDB_REPLAY=redis-rdb-tools/dictionary.rdb:0x1234` replays one mutation
/// from a failure message and prints what happens (panics propagate).
#[test]
fn replay_one_mutation() {
    let Ok(spec) = std::env::var("RDB_REPLAY") else {
        return;
    };
    let (rel, seed) = spec
        .rsplit_once(':')
        .expect("RDB_REPLAY=<corpus path>:<seed>");
    let seed = u64::from_str_radix(seed.trim_start_matches("0x"), 16).expect("hex seed");
    let dir = testkit::corpus_dir().expect("corpus");
    let data = std::fs::read(dir.join(rel)).expect("corpus file");
    let m = make_mutation(&data, &hot_offsets(&data), seed);
    let input = apply(&data, &m);
    eprintln!("{rel} seed {seed:#x}: {m:?}");
    let path = std::env::temp_dir().join("rdb-replay.rdb");
    std::fs::write(&path, &input).unwrap();
    eprintln!("mutated file written to {}", path.display());
    match walk_all(&input) {
        Ok(w) => eprintln!("parsed: {w:?}"),
        Err(e) => eprintln!("error: {e}"),
    }
}
