//! Bad input never panics, never hangs and never allocates by an unchecked
//! length.
//!
//! * (a) every prefix of every corpus file under 64 KB (about 300 spread
//!   prefixes of larger ones) fails cleanly, at or before the cut;
//! * (b) thousands of seeded random mutations of every corpus file under
//!   200 KB: no panic, no internal inconsistency, bounded memory and time;
//!   a failure names the file, the seed and the mutation, and
//!   `RDB_REPLAY=<corpus path>:<seed>` replays one (see `replay_one_mutation`);
//! * (c) hand-made adversarial inputs (huge LZF lengths, a listpack claiming
//!   4 GB, 2^60 consumer groups, huge nested counts) are errors;
//! * length fields of real files overwritten with huge values are errors,
//!   found quickly and without a big allocation.
//!
//! A counting global allocator measures, per thread, the peak memory a walk
//! takes. Budgets are sized for `cargo test --release` on 2 cores;
//! `RDB_MUTATION_SCALE=10` runs ten times as many mutations.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

use rdb_parser::{
    ChecksumStatus, Element, Entry, Error, ErrorKind, Kind, Rdb, RdbString, Record, Result, Scalar,
    Scratch, StreamId, StreamVisitor, ValueType,
};

// ---------------------------------------------------------------------------
// Per-thread allocation accounting
// ---------------------------------------------------------------------------

struct CountingAlloc;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn note_alloc(delta: isize) {
    let _ = LIVE.try_with(|live| {
        let now = live.get() + delta;
        live.set(now);
        let _ = PEAK.try_with(|peak| {
            if now > peak.get() {
                peak.set(now);
            }
        });
    });
}

// The one unsafe block of the tests: a pass-through to the system allocator
// that counts bytes per thread.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_alloc(layout.size() as isize);
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_alloc(layout.size() as isize);
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note_alloc(-(layout.size() as isize));
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_alloc(new_size as isize - layout.size() as isize);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

/// Runs `f` and returns its result with the most memory it held at once on
/// this thread (bytes above what was live when it started).
fn peak_memory<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let base = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let r = f();
    let peak = PEAK.with(Cell::get);
    (r, (peak - base).max(0) as usize)
}

/// The most memory a walk of `len` input bytes may take: LZF strings are the
/// only thing decoded into owned memory, and a valid LZF stream expands at
/// most ~89 times.
fn memory_budget(len: usize) -> usize {
    100 * len + (1 << 20)
}

// ---------------------------------------------------------------------------
// Panics caught and described
// ---------------------------------------------------------------------------

thread_local! {
    static QUIET: Cell<bool> = const { Cell::new(false) };
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs (once) a panic hook that records the message and location of a
/// panic on this thread, and stays silent while `QUIET` is set.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let msg = if let Some(s) = info.payload().downcast_ref::<&str>() {
                (*s).to_string()
            } else if let Some(s) = info.payload().downcast_ref::<String>() {
                s.clone()
            } else {
                "(non-string panic payload)".to_string()
            };
            let loc = info
                .location()
                .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
                .unwrap_or_default();
            let _ = LAST_PANIC
                .try_with(|p| *p.borrow_mut() = Some(format!("panicked at {loc}: {msg}")));
            if !QUIET.try_with(Cell::get).unwrap_or(false) {
                default(info);
            }
        }));
    });
}

/// What one guarded walk did.
#[derive(Debug)]
enum Outcome {
    Ok(Walked),
    Err(Error),
    Panic(String),
}

/// Walks `data` completely, catching a panic; also measures time and memory.
/// A walk slower than [`slow`] is timed again (the machine may just have
/// been busy), and the faster time is reported.
fn guarded_walk(data: &[u8]) -> (Outcome, Duration, usize) {
    let (outcome, elapsed, peak) = guarded_walk_once(data);
    if elapsed > slow() && !matches!(outcome, Outcome::Panic(_)) {
        let (_, again, _) = guarded_walk_once(data);
        return (outcome, elapsed.min(again), peak);
    }
    (outcome, elapsed, peak)
}

/// How long one walk of a small input may take: generous, since a walk that
/// loops on a bad length takes far longer, and a busy machine stalls threads.
fn slow() -> Duration {
    Duration::from_secs(if cfg!(debug_assertions) { 10 } else { 2 })
}

fn guarded_walk_once(data: &[u8]) -> (Outcome, Duration, usize) {
    install_panic_hook();
    QUIET.with(|q| q.set(true));
    let t = Instant::now();
    let (r, peak) = peak_memory(|| catch_unwind(AssertUnwindSafe(|| walk_all(data))));
    let elapsed = t.elapsed();
    QUIET.with(|q| q.set(false));
    let outcome = match r {
        Ok(Ok(w)) => Outcome::Ok(w),
        Ok(Err(e)) => Outcome::Err(e),
        Err(_) => Outcome::Panic(
            LAST_PANIC
                .with(|p| p.borrow_mut().take())
                .unwrap_or_else(|| "panic".into()),
        ),
    };
    (outcome, elapsed, peak)
}

// ---------------------------------------------------------------------------
// The full walk (the same decoding as tests/corpus.rs `walk_all`)
// ---------------------------------------------------------------------------

#[derive(Debug, Default)]
struct Walked {
    keys: u64,
    /// The parser's accessors disagreeing on data that parsed: a bug.
    inconsistencies: Vec<String>,
}

#[derive(Default)]
struct CountingVisitor {
    entries: u64,
    groups: u64,
    group_pending: u64,
    consumers: u64,
    consumer_pending: u64,
    bytes: u64,
}

impl StreamVisitor for CountingVisitor {
    fn entry(&mut self, _id: StreamId, fields: &[(Scalar<'_>, Scalar<'_>)]) {
        self.entries += 1;
        for (f, v) in fields {
            self.bytes += f.len() + v.len();
        }
    }
    fn group(&mut self, name: &[u8], _last: StreamId, _read: Option<i64>, _pending: u64) {
        self.groups += 1;
        self.bytes += name.len() as u64;
    }
    fn group_pending(&mut self, _id: StreamId, _time: i64, _count: u64) {
        self.group_pending += 1;
    }
    fn consumer(&mut self, name: &[u8], _seen: i64, _active: Option<i64>, _pending: u64) {
        self.consumers += 1;
        self.bytes += name.len() as u64;
    }
    fn consumer_pending(&mut self, _id: StreamId) {
        self.consumer_pending += 1;
    }
}

fn string_len(s: &RdbString<'_>, buf: &mut Vec<u8>, w: &mut Walked) -> Result<u64> {
    let n = s.bytes(buf)?.len() as u64;
    if n != s.len() {
        w.inconsistencies.push(format!(
            "string of declared length {} has {n} bytes",
            s.len()
        ));
    }
    Ok(n)
}

fn decode_entry(
    e: &Entry<'_>,
    scratch: &mut Scratch,
    buf: &mut Vec<u8>,
    w: &mut Walked,
) -> Result<()> {
    string_len(&e.key, buf, w)?;
    let v = &e.value;
    let counted = v.element_count(scratch)?;
    match e.kind() {
        Kind::String => {
            let n = string_len(&v.as_string()?, buf, w)?;
            if n != counted {
                w.inconsistencies.push(format!(
                    "string at {}: element_count {counted}, {n} bytes",
                    v.offset()
                ));
            }
        }
        Kind::Stream => {
            let mut visitor = CountingVisitor::default();
            let meta = v.walk_stream(scratch, &mut visitor)?;
            let head = v.stream_meta()?;
            if head != meta || meta.groups != visitor.groups || counted != meta.length {
                w.inconsistencies.push(format!(
                    "stream at {}: stream_meta {head:?}, walk {meta:?}, {} groups walked, element_count {counted}",
                    v.offset(),
                    visitor.groups
                ));
            }
        }
        Kind::Module => {
            v.module_id()?;
        }
        _ => {
            let mut n = 0u64;
            v.for_each_element(scratch, |el| {
                n += 1;
                if let Element::Scored { score, .. } = el {
                    std::hint::black_box(score);
                }
            })?;
            if n != counted {
                w.inconsistencies.push(format!(
                    "{:?} at {}: element_count {counted}, walked {n}",
                    e.value_type(),
                    v.offset()
                ));
            }
        }
    }
    Ok(())
}

/// Reads every record, decodes every value and checks the checksum; a
/// mismatch and a missing EOF are errors.
fn walk_all(data: &[u8]) -> Result<Walked> {
    let rdb = Rdb::new(data)?;
    let mut w = Walked::default();
    let mut scratch = Scratch::new();
    let mut buf = Vec::new();
    let mut eof = false;
    for r in rdb.records() {
        match r? {
            Record::Entry(e) => {
                decode_entry(&e, &mut scratch, &mut buf, &mut w).map_err(|err| {
                    match e.key.bytes(&mut buf) {
                        Ok(k) => err.with_key(k),
                        Err(_) => err,
                    }
                })?;
                w.keys += 1;
                if e.record_end <= e.record_start || e.record_end > data.len() as u64 {
                    w.inconsistencies
                        .push(format!("record {}..{}", e.record_start, e.record_end));
                }
            }
            Record::Aux { name, value } => {
                string_len(&name, &mut buf, &mut w)?;
                string_len(&value, &mut buf, &mut w)?;
            }
            Record::Function { name, code, .. } => {
                if let Some(name) = name {
                    string_len(&name, &mut buf, &mut w)?;
                }
                string_len(&code, &mut buf, &mut w)?;
            }
            Record::SlotImport { job_name, .. } => {
                string_len(&job_name, &mut buf, &mut w)?;
            }
            Record::ModuleAux { module, .. } => {
                std::hint::black_box(module.name());
            }
            Record::Eof {
                offset,
                stored_checksum,
                ..
            } => {
                eof = true;
                if let ChecksumStatus::Mismatch { stored, computed } =
                    rdb.checksum_status(offset, stored_checksum)
                {
                    return Err(Error::new(
                        ErrorKind::ChecksumMismatch { stored, computed },
                        offset + 1,
                    ));
                }
            }
            _ => {}
        }
    }
    if !eof {
        return Err(Error::new(
            ErrorKind::Malformed {
                expected: "an EOF record",
                found: None,
            },
            data.len() as u64,
        ));
    }
    Ok(w)
}

// ---------------------------------------------------------------------------
// Corpus
// ---------------------------------------------------------------------------

struct CorpusFile {
    rel: String,
    data: Vec<u8>,
}

/// Distinct corpus files (by content), smallest first.
fn corpus() -> Vec<CorpusFile> {
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

fn scale() -> f64 {
    std::env::var("RDB_MUTATION_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0)
}

/// Runs `job(i)` for `i in 0..n` on every core; returns the failures.
fn parallel_jobs(n: usize, job: impl Fn(usize) -> Vec<String> + Sync) -> Vec<String> {
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
fn report(what: &str, mut failures: Vec<String>) {
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

// ---------------------------------------------------------------------------
// (a) Prefixes
// ---------------------------------------------------------------------------

/// Where a valid file's meaningful bytes end (EOF opcode + checksum).
fn end_of_rdb(data: &[u8]) -> Option<u64> {
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

// ---------------------------------------------------------------------------
// (b) Random mutations
// ---------------------------------------------------------------------------

/// xorshift64*: small, seedable, and the same everywhere.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

/// One mutation, precise enough to apply again by hand.
#[derive(Debug, Clone, PartialEq)]
enum Mutation {
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

fn apply(data: &[u8], m: &Mutation) -> Vec<u8> {
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

/// An RDB length field holding `n`, in the 32- or 64-bit form.
fn long_length(n: u64, force_64: bool) -> Vec<u8> {
    if n <= u64::from(u32::MAX) && !force_64 {
        let mut v = vec![0x80];
        v.extend_from_slice(&(n as u32).to_be_bytes());
        v
    } else {
        let mut v = vec![0x81];
        v.extend_from_slice(&n.to_be_bytes());
        v
    }
}

/// Offsets where the file's structure starts: record starts, key lengths,
/// value starts and the blob headers just after them.
fn hot_offsets(data: &[u8]) -> Vec<usize> {
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

const SPECIAL_BYTES: [u8; 20] = [
    0x00, 0x01, 0x02, 0x3f, 0x40, 0x7f, 0x80, 0x81, 0x82, 0xbf, 0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xf0,
    0xf4, 0xf5, 0xfe, 0xff,
];

fn make_mutation(data: &[u8], hot: &[usize], seed: u64) -> Mutation {
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

fn mutations_for(len: usize) -> usize {
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

fn seed_for(rel: &str, i: usize) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64; // FNV-1a of the name, then the index
    for b in rel.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x1000_0000_01b3);
    }
    h ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Runs one mutation and describes what went wrong, if anything.
fn check_mutation(rel: &str, data: &[u8], hot: &[usize], seed: u64) -> Option<String> {
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

// ---------------------------------------------------------------------------
// Huge lengths in real files
// ---------------------------------------------------------------------------

/// Size of the length field (or string-encoding byte) at `at`.
fn length_field_size(data: &[u8], at: usize) -> Option<usize> {
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
fn key_length_offset(data: &[u8], e: &Entry<'_>) -> Option<usize> {
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

fn splice(data: &[u8], at: usize, old_len: usize, new: &[u8]) -> Vec<u8> {
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

// ---------------------------------------------------------------------------
// (c) Hand-made adversarial inputs
// ---------------------------------------------------------------------------

/// A minimal-form RDB length.
fn len(n: u64) -> Vec<u8> {
    if n < 64 {
        vec![n as u8]
    } else if n < 16384 {
        vec![0x40 | (n >> 8) as u8, n as u8]
    } else {
        long_length(n, false)
    }
}

/// A raw RDB string.
fn s(b: &[u8]) -> Vec<u8> {
    let mut v = len(b.len() as u64);
    v.extend_from_slice(b);
    v
}

/// `header`, a SELECTDB 0, one record (`type_byte`, key "k", `value`), EOF
/// and a zero (disabled) checksum.
fn file_with(header: &[u8], type_byte: u8, value: &[u8]) -> Vec<u8> {
    let mut f = header.to_vec();
    f.extend_from_slice(&[0xfe, 0x00, type_byte]);
    f.extend(s(b"k"));
    f.extend_from_slice(value);
    f.push(0xff);
    f.extend_from_slice(&[0; 8]);
    f
}

fn rdb11(type_byte: u8, value: &[u8]) -> Vec<u8> {
    file_with(b"REDIS0011", type_byte, value)
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn listpack(total: u32, count: u16, body: &[u8]) -> Vec<u8> {
    cat(&[&total.to_le_bytes(), &count.to_le_bytes(), body, &[0xff]])
}

/// A listpack whose header agrees with its size.
fn listpack_ok(count: u16, body: &[u8]) -> Vec<u8> {
    listpack((body.len() + 7) as u32, count, body)
}

fn adversarial_inputs() -> Vec<(&'static str, Vec<u8>)> {
    let huge = 1u64 << 60;
    let mut v: Vec<(&'static str, Vec<u8>)> = Vec::new();
    // LZF
    v.push((
        "LZF string claiming u64::MAX bytes",
        rdb11(
            0,
            &cat(&[&[0xc3], &len(5), &long_length(u64::MAX, true), b"abcde"]),
        ),
    ));
    v.push((
        "LZF string claiming 4 GB from 5 bytes",
        rdb11(
            0,
            &cat(&[
                &[0xc3],
                &len(5),
                &long_length(u64::from(u32::MAX), false),
                b"abcde",
            ]),
        ),
    ));
    v.push((
        "LZF compressed length 2^62",
        rdb11(
            0,
            &cat(&[&[0xc3], &long_length(1 << 62, true), &len(10), b"abc"]),
        ),
    ));
    v.push((
        "LZF length at the ratio limit, lying",
        rdb11(
            0,
            &cat(&[&[0xc3], &len(3), &len(3 * 89 + 64), &[0xe0, 0xff, 0x00]]),
        ),
    ));
    v.push((
        "LZF back reference before the start",
        rdb11(0, &cat(&[&[0xc3], &len(3), &len(20), &[0x20, 0x05, 0x61]])),
    ));
    v.push((
        "LZF compressed length 0",
        rdb11(0, &cat(&[&[0xc3], &len(0), &len(10)])),
    ));
    v.push(("LZF key claiming 2^40 bytes", {
        let mut f = b"REDIS0011\xfe\x00\x00".to_vec();
        f.extend(cat(&[
            &[0xc3],
            &len(2),
            &long_length(1 << 40, true),
            &[0x00, b'k'],
        ]));
        f.extend(s(b"v"));
        f.extend_from_slice(&[0xff, 0, 0, 0, 0, 0, 0, 0, 0]);
        f
    }));
    v.push((
        "list element LZF claiming 2^50 bytes",
        rdb11(
            1,
            &cat(&[
                &len(1),
                &[0xc3],
                &len(4),
                &long_length(1 << 50, true),
                &[3, b'a', b'b', b'c', b'd'],
            ]),
        ),
    ));
    v.push((
        "quicklist node LZF claiming 2^33 bytes",
        rdb11(
            14,
            &cat(&[
                &len(1),
                &[0xc3],
                &len(4),
                &long_length(1 << 33, true),
                &[3, 1, 2, 3, 4],
            ]),
        ),
    ));
    // Listpacks
    v.push((
        "listpack header claiming 4 GB",
        rdb11(
            16,
            &s(&listpack(u32::MAX, 2, &[0x81, b'a', 2, 0x81, b'b', 2])),
        ),
    ));
    v.push((
        "listpack entry of 4 GB",
        rdb11(
            16,
            &s(&listpack_ok(2, &[0xf0, 0xff, 0xff, 0xff, 0xff, b'x', 6])),
        ),
    ));
    v.push((
        "listpack 12-bit string past the end",
        rdb11(20, &s(&listpack_ok(1, &[0xef, 0xff, b'x', 3]))),
    ));
    v.push((
        "listpack count 65534 with one entry",
        rdb11(20, &s(&listpack_ok(65534, &[0x01, 1]))),
    ));
    v.push((
        "listpack with junk after the terminator",
        rdb11(20, &s(&cat(&[&listpack_ok(1, &[0x01, 1]), &[0xff, 0xff]]))),
    ));
    v.push((
        "quicklist 2 with 2^62 nodes",
        rdb11(
            18,
            &cat(&[
                &long_length(1 << 62, true),
                &len(2),
                &s(&listpack_ok(1, &[1, 1])),
            ]),
        ),
    ));
    v.push((
        "quicklist 2 node container 7",
        rdb11(18, &cat(&[&len(1), &len(7), &s(&listpack_ok(1, &[1, 1]))])),
    ));
    // Ziplists and intsets
    v.push((
        "ziplist header claiming 4 GB",
        rdb11(
            10,
            &s(&cat(&[
                &u32::MAX.to_le_bytes(),
                &10u32.to_le_bytes(),
                &[1, 0],
                &[0, 0xf2],
                &[0xff],
            ])),
        ),
    ));
    v.push(("ziplist entry of 4 GB", {
        let body = [0u8, 0x80, 0xff, 0xff, 0xff, 0xff, b'x'];
        let total = (10 + body.len() + 1) as u32;
        rdb11(
            10,
            &s(&cat(&[
                &total.to_le_bytes(),
                &10u32.to_le_bytes(),
                &[1, 0],
                &body,
                &[0xff],
            ])),
        )
    }));
    v.push((
        "intset of 2^32-1 64-bit members",
        rdb11(
            11,
            &s(&cat(&[
                &8u32.to_le_bytes(),
                &u32::MAX.to_le_bytes(),
                &[0; 16],
            ])),
        ),
    ));
    v.push((
        "zipmap key of 4 GB",
        rdb11(9, &s(&[1, 254, 0xff, 0xff, 0xff, 0xff, b'a', 0xff])),
    ));
    // Collections with huge counts
    v.push((
        "set of 2^40 members",
        rdb11(2, &cat(&[&long_length(1 << 40, true), &s(b"a")])),
    ));
    v.push((
        "hash of u64::MAX fields",
        rdb11(4, &cat(&[&long_length(u64::MAX, true), &s(b"a"), &s(b"b")])),
    ));
    v.push((
        "zset of 2^58 members",
        rdb11(5, &cat(&[&long_length(1 << 58, true), &s(b"a"), &[0; 8]])),
    ));
    v.push((
        "text zset of 2^58 members",
        rdb11(
            3,
            &cat(&[&long_length(1 << 58, true), &s(b"a"), &[1, b'1']]),
        ),
    ));
    v.push((
        "quicklist of 2^62 nodes",
        rdb11(14, &long_length(1 << 62, true)),
    ));
    v.push((
        "hash with field expiry, 2^60 fields",
        file_with(
            b"REDIS0012",
            24,
            &cat(&[
                &[0; 8],
                &long_length(huge, true),
                &len(0),
                &s(b"f"),
                &s(b"v"),
            ]),
        ),
    ));
    v.push((
        "Valkey hash 2 with 2^60 fields",
        file_with(
            b"VALKEY080",
            22,
            &cat(&[&long_length(huge, true), &s(b"f"), &s(b"v"), &[0xff; 8]]),
        ),
    ));
    v.push((
        "module string of 2^60 bytes",
        rdb11(
            7,
            &cat(&[
                &long_length(0x1234_5678_9abc_def0, true),
                &[5],
                &long_length(huge, true),
                b"x",
            ]),
        ),
    ));
    v.push((
        "module with an unknown opcode",
        rdb11(7, &cat(&[&len(1), &[9, 0]])),
    ));
    // Streams
    let stream_v1_tail = |groups: &[u8]| cat(&[&len(0), &len(0), &len(0), &len(0), groups]);
    v.push((
        "stream with 2^60 consumer groups",
        rdb11(15, &stream_v1_tail(&long_length(huge, true))),
    ));
    v.push((
        "stream v3 with 2^60 consumer groups",
        rdb11(
            21,
            &cat(&[
                &len(0),
                &len(0),
                &len(0),
                &len(0),
                &len(0),
                &len(0),
                &len(0),
                &len(0),
                &len(0),
                &long_length(huge, true),
            ]),
        ),
    ));
    v.push((
        "stream group with 2^50 pending entries",
        rdb11(
            15,
            &stream_v1_tail(&cat(&[
                &len(1),
                &s(b"g"),
                &len(0),
                &len(0),
                &long_length(1 << 50, true),
            ])),
        ),
    ));
    v.push((
        "stream group with 2^50 consumers",
        rdb11(
            15,
            &stream_v1_tail(&cat(&[
                &len(1),
                &s(b"g"),
                &len(0),
                &len(0),
                &len(0),
                &long_length(1 << 50, true),
            ])),
        ),
    ));
    v.push((
        "stream consumer with 2^50 pending ids",
        rdb11(
            15,
            &stream_v1_tail(&cat(&[
                &len(1),
                &s(b"g"),
                &len(0),
                &len(0),
                &len(0),
                &len(1),
                &s(b"c"),
                &[0; 8],
                &long_length(1 << 50, true),
            ])),
        ),
    ));
    v.push((
        "stream with 2^61 nodes",
        rdb11(
            15,
            &cat(&[
                &long_length(1 << 61, true),
                &s(&[0; 16]),
                &s(&listpack_ok(0, &[])),
            ]),
        ),
    ));
    let node = |lp: Vec<u8>| {
        rdb11(
            15,
            &cat(&[
                &len(1),
                &s(&[0; 16]),
                &s(&lp),
                &len(0),
                &len(0),
                &len(0),
                &len(0),
            ]),
        )
    };
    // Master entry: count, deleted, field count (i64 2^62), ...
    let mut big_fields = vec![0x01, 1, 0x00, 1, 0xf4];
    big_fields.extend_from_slice(&(1i64 << 62).to_le_bytes());
    big_fields.push(9);
    v.push((
        "stream node with 2^62 master fields",
        node(listpack_ok(3, &big_fields)),
    ));
    let mut neg_fields = vec![0x01, 1, 0x00, 1, 0xf4];
    neg_fields.extend_from_slice(&(-5i64).to_le_bytes());
    neg_fields.push(9);
    v.push((
        "stream node with -5 master fields",
        node(listpack_ok(3, &neg_fields)),
    ));
    v.push((
        "stream node key of 15 bytes",
        rdb11(
            15,
            &cat(&[
                &len(1),
                &s(&[0; 15]),
                &s(&listpack_ok(0, &[])),
                &len(0),
                &len(0),
                &len(0),
                &len(0),
            ]),
        ),
    ));
    // Nested: a listpack entry count inside a stream entry claiming 2^62 fields.
    let mut nested = vec![0x01, 1, 0x00, 1, 0x01, 1, 0x81, b'f', 2, 0x00, 1]; // master: 1 entry, 0 deleted, 1 field "f", 0
    nested.extend_from_slice(&[0x00, 1, 0x00, 1, 0x00, 1]); // flags 0, ms delta 0, seq delta 0
    nested.push(0xf4);
    nested.extend_from_slice(&(1i64 << 62).to_le_bytes());
    nested.push(9);
    v.push((
        "stream entry with 2^62 fields",
        node(listpack_ok(9, &nested)),
    ));
    // Opcodes
    v.push((
        "SELECTDB with a 4 GB string encoding",
        b"REDIS0011\xfe\xc3\xff".to_vec(),
    ));
    v.push((
        "AUX name of 2^62 bytes",
        cat(&[b"REDIS0011\xfa", &long_length(1 << 62, true), b"x"]),
    ));
    v.push((
        "slot import with 2^60 ranges",
        cat(&[
            b"VALKEY080\xf3",
            &s(b"job"),
            &long_length(huge, true),
            &[0xff; 9],
        ]),
    ));
    v.push((
        "metadata opcodes then EOF",
        cat(&[b"REDIS0011\xfc", &[0; 8], &[0xf9, 5, 0xff], &[0; 8]]),
    ));
    v.push(("unknown type byte", rdb11(100, &s(b"v"))));
    v.push(("empty after the header", b"REDIS0011".to_vec()));
    v
}

#[test]
fn adversarial_inputs_are_errors() {
    let mut failures = Vec::new();
    let inputs = adversarial_inputs();
    for (what, input) in &inputs {
        let (outcome, elapsed, peak) = guarded_walk(input);
        match outcome {
            Outcome::Err(e) => {
                if e.offset() > input.len() as u64 {
                    failures.push(format!(
                        "{what}: error offset {} past the end: {e}",
                        e.offset()
                    ));
                }
            }
            Outcome::Ok(w) => failures.push(format!("{what}: accepted ({w:?})")),
            Outcome::Panic(p) => failures.push(format!("{what}: {p}")),
        }
        if peak > 1 << 20 {
            failures.push(format!("{what}: took {peak} bytes of memory"));
        }
        if elapsed > slow() {
            failures.push(format!("{what}: took {elapsed:?}"));
        }
        // The chunk scan sees the same bytes.
        let chunked = catch_unwind(AssertUnwindSafe(|| {
            Rdb::new(input).map(|r| r.chunks(1).map(|c| c.len()))
        }));
        if chunked.is_err() {
            failures.push(format!("{what}: chunks() panicked"));
        }
    }
    eprintln!("{} adversarial inputs", inputs.len());
    report("adversarial inputs", failures);
}

/// Sanity check for the builders above: the same shapes with sane numbers parse.
#[test]
fn adversarial_builders_make_valid_files_when_sane() {
    let ok = [
        rdb11(0, &s(b"v")),
        rdb11(16, &s(&listpack_ok(2, &[0x81, b'a', 2, 0x81, b'b', 2]))),
        rdb11(2, &cat(&[&len(1), &s(b"a")])),
        rdb11(
            15,
            &cat(&[
                &len(0),
                &len(0),
                &len(0),
                &len(0),
                &len(1),
                &s(b"g"),
                &len(0),
                &len(0),
                &len(0),
                &len(0),
            ]),
        ),
        file_with(
            b"REDIS0012",
            24,
            &cat(&[&[0; 8], &len(1), &len(0), &s(b"f"), &s(b"v")]),
        ),
    ];
    for (i, f) in ok.iter().enumerate() {
        if let Err(e) = walk_all(f) {
            panic!("builder case {i} does not parse: {e}");
        }
    }
}

// ---------------------------------------------------------------------------
// Known bad inputs found by these tests (kept so a fix shows up green)
// ---------------------------------------------------------------------------

/// HASH_METADATA (type 24) stores each field's expire time as `ttl` relative to
/// the hash's minimum (`min + ttl - 1`). A ttl of 2^63 made `ttl as i64 - 1`
/// overflow: a panic in builds with overflow checks (debug, `cargo test`
/// without --release); release builds wrap instead.
#[test]
fn hash_metadata_field_ttl_of_2_pow_63_is_an_error_not_an_overflow() {
    for (min, ttl) in [
        (1000i64, 1u64 << 63),
        (0, 1 << 63),
        (-5, 1 << 63),
        (i64::MAX, u64::MAX),
        (i64::MIN, 1 << 63),
    ] {
        let value = cat(&[
            &min.to_le_bytes(),
            &len(1),
            &long_length(ttl, true),
            &s(b"f"),
            &s(b"v"),
        ]);
        let input = file_with(b"REDIS0012", 24, &value);
        let (outcome, _, _) = guarded_walk(&input);
        match outcome {
            Outcome::Panic(p) => panic!("min {min}, ttl {ttl:#x}: {p}"),
            Outcome::Ok(_) | Outcome::Err(_) => {}
        }
    }
}

/// An LZF string's compressed length is checked against what LZF can expand
/// to (`len > clen * 89 + 64` is refused). With `clen` near 2^64 the
/// saturating multiply gives u64::MAX and the `+ 64` overflows: a panic in
/// builds with overflow checks (string.rs, `RdbString::read`; reached through
/// keys, aux fields and every decoded string). Release builds wrap to 63 and
/// then fail on the missing bytes.
#[test]
fn lzf_compressed_length_near_u64_max_is_an_error_not_an_overflow() {
    for clen in [u64::MAX, u64::MAX / 89 + 1, 1 << 62] {
        // As a key.
        let key = cat(&[
            b"REDIS0011\xfe\x00\x00",
            &[0xc3],
            &long_length(clen, true),
            &len(10),
            b"abc",
            &s(b"v"),
            &[0xff],
            &[0; 8],
        ]);
        // As a list element, an aux value and a stream node key.
        let element = rdb11(
            1,
            &cat(&[&len(1), &[0xc3], &long_length(clen, true), &len(10), b"abc"]),
        );
        let aux = cat(&[
            b"REDIS0011\xfa",
            &s(b"name"),
            &[0xc3],
            &long_length(clen, true),
            &len(10),
            b"abc",
            &[0xff],
            &[0; 8],
        ]);
        for (what, input) in [("key", key), ("list element", element), ("aux value", aux)] {
            match guarded_walk(&input).0 {
                Outcome::Err(_) => {}
                Outcome::Ok(w) => panic!("{what} with LZF clen {clen:#x}: accepted ({w:?})"),
                Outcome::Panic(p) => panic!("{what} with LZF clen {clen:#x}: {p}"),
            }
        }
    }
}

/// `rdb_parser::lzf_decompress` is public; an absurd `expected_len` must be an
/// error, not a "capacity overflow" panic from reserving it up front.
#[test]
fn lzf_decompress_with_absurd_expected_len_is_an_error() {
    install_panic_hook();
    for expected in [usize::MAX, usize::MAX / 2 + 1] {
        QUIET.with(|q| q.set(true));
        let r = catch_unwind(|| rdb_parser::lzf_decompress(&[0, b'a'], expected, &mut Vec::new()));
        QUIET.with(|q| q.set(false));
        match r {
            Ok(Ok(())) => panic!("expected_len {expected:#x}: accepted one byte"),
            Ok(Err(_)) => {}
            Err(_) => panic!(
                "lzf_decompress(expected_len = {expected:#x}) panicked: {}",
                LAST_PANIC
                    .with(|p| p.borrow_mut().take())
                    .unwrap_or_default()
            ),
        }
    }
}
