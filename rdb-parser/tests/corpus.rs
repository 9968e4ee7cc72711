//! The public RDB corpus (`../shared/rdb-corpus`, see its MANIFEST.md), read completely.
//!
//! * every file parses to the end, every value decodes completely and the
//!   checksum holds, except the files the MANIFEST marks as bad on purpose,
//!   which must fail the specific way they are bad;
//! * what the parser finds agrees with the MANIFEST's structural facts
//!   (size, version, value types and their counts, DB numbers, opcodes,
//!   module names, checksum state), plus a few facts stated in prose;
//! * reading chunks in parallel gives exactly what one sequential pass gives.
//!
//! Without the corpus every test prints a SKIP line (from testkit) and passes.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use rdb_parser::{
    ChecksumStatus, Chunk, Element, Entry, Error, ErrorKind, Kind, Magic, Rdb, RdbString, Record,
    Result, Scalar, Scratch, StreamId, StreamVisitor, ValueType, DEFAULT_CHUNK_BYTES,
};

// ---------------------------------------------------------------------------
// The full walk (tests/robustness.rs and fuzz/fuzz_targets/parse.rs carry the
// same walk; keep them in step).
// ---------------------------------------------------------------------------

/// Stream contents seen by the walk.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct StreamCounts {
    entries: u64,
    fields: u64,
    groups: u64,
    group_pending: u64,
    consumers: u64,
    consumer_pending: u64,
}

/// Everything a complete walk of one file saw.
#[derive(Debug, Clone, PartialEq)]
struct Summary {
    magic: Magic,
    version: u32,
    keys: u64,
    keys_per_db: BTreeMap<u64, u64>,
    selected_dbs: BTreeSet<u64>,
    types: BTreeMap<ValueType, u64>,
    /// Elements reported by `for_each_element` (pairs for hashes).
    elements: u64,
    /// Collections with no element at all.
    empty_collections: u64,
    /// Hash fields carrying their own expire time.
    field_expires: u64,
    key_bytes: u64,
    string_value_bytes: u64,
    stream: StreamCounts,
    /// Sum of the streams' stored length fields.
    stream_lengths: u64,
    /// `name/vN` of module values, `aux:name/vN` of module aux records.
    modules: BTreeSet<String>,
    aux_fields: u64,
    functions: u64,
    functions_pre_ga: u64,
    slot_info: u64,
    slot_import: u64,
    module_aux: u64,
    with_expire: u64,
    with_idle: u64,
    with_lfu: u64,
    /// Some string (key, string value, aux) was LZF-compressed.
    lzf_seen: bool,
    checksum: ChecksumStatus,
    eof_offset: u64,
    trailing_bytes: u64,
    /// Disagreements between the parser's own accessors on data that parsed
    /// (e.g. `element_count` against the elements walked): always a bug.
    inconsistencies: Vec<String>,
}

impl Summary {
    fn new(rdb: &Rdb<'_>) -> Summary {
        Summary {
            magic: rdb.magic(),
            version: rdb.version(),
            keys: 0,
            keys_per_db: BTreeMap::new(),
            selected_dbs: BTreeSet::new(),
            types: BTreeMap::new(),
            elements: 0,
            empty_collections: 0,
            field_expires: 0,
            key_bytes: 0,
            string_value_bytes: 0,
            stream: StreamCounts::default(),
            stream_lengths: 0,
            modules: BTreeSet::new(),
            aux_fields: 0,
            functions: 0,
            functions_pre_ga: 0,
            slot_info: 0,
            slot_import: 0,
            module_aux: 0,
            with_expire: 0,
            with_idle: 0,
            with_lfu: 0,
            lzf_seen: false,
            checksum: ChecksumStatus::Skipped,
            eof_offset: 0,
            trailing_bytes: 0,
            inconsistencies: Vec::new(),
        }
    }
}

fn hash_scalar(h: &mut DefaultHasher, s: &Scalar<'_>) {
    match s {
        Scalar::Int(i) => (0u8, *i).hash(h),
        Scalar::Bytes(b) => (1u8, *b).hash(h),
    }
}

fn hash_element(h: &mut DefaultHasher, e: &Element<'_>) {
    match e {
        Element::Member(m) => {
            0u8.hash(h);
            hash_scalar(h, m);
        }
        Element::Scored { member, score } => {
            1u8.hash(h);
            hash_scalar(h, member);
            score.to_bits().hash(h);
        }
        Element::Field {
            field,
            value,
            expire_at_ms,
        } => {
            2u8.hash(h);
            hash_scalar(h, field);
            hash_scalar(h, value);
            expire_at_ms.hash(h);
        }
    }
}

/// Counts and hashes everything a stream walk reports.
struct DigestVisitor<'h> {
    h: &'h mut DefaultHasher,
    counts: StreamCounts,
}

impl StreamVisitor for DigestVisitor<'_> {
    fn entry(&mut self, id: StreamId, fields: &[(Scalar<'_>, Scalar<'_>)]) {
        self.counts.entries += 1;
        self.counts.fields += fields.len() as u64;
        (10u8, id).hash(self.h);
        for (f, v) in fields {
            hash_scalar(self.h, f);
            hash_scalar(self.h, v);
        }
    }
    fn group(&mut self, name: &[u8], last_id: StreamId, entries_read: Option<i64>, pending: u64) {
        self.counts.groups += 1;
        (11u8, name, last_id, entries_read, pending).hash(self.h);
    }
    fn group_pending(&mut self, id: StreamId, delivery_time_ms: i64, delivery_count: u64) {
        self.counts.group_pending += 1;
        (12u8, id, delivery_time_ms, delivery_count).hash(self.h);
    }
    fn consumer(
        &mut self,
        name: &[u8],
        seen_time_ms: i64,
        active_time_ms: Option<i64>,
        pending: u64,
    ) {
        self.counts.consumers += 1;
        (13u8, name, seen_time_ms, active_time_ms, pending).hash(self.h);
    }
    fn consumer_pending(&mut self, id: StreamId) {
        self.counts.consumer_pending += 1;
        (14u8, id).hash(self.h);
    }
}

/// Decodes a string, hashes its bytes into `h` and returns its length.
fn string_bytes(
    s: &RdbString<'_>,
    buf: &mut Vec<u8>,
    sum: &mut Summary,
    h: &mut DefaultHasher,
) -> Result<u64> {
    if matches!(s, RdbString::Lzf { .. }) {
        sum.lzf_seen = true;
    }
    let b = s.bytes(buf)?;
    b.hash(h);
    let n = b.len() as u64;
    if n != s.len() {
        sum.inconsistencies.push(format!(
            "string of declared length {} has {n} bytes",
            s.len()
        ));
    }
    Ok(n)
}

/// Decodes one entry completely; returns a digest of everything decoded.
fn decode_entry(
    e: &Entry<'_>,
    scratch: &mut Scratch,
    buf: &mut Vec<u8>,
    sum: &mut Summary,
) -> Result<u64> {
    let mut h = DefaultHasher::new();
    sum.key_bytes += string_bytes(&e.key, buf, sum, &mut h)?;
    let v = &e.value;
    let vt = e.value_type();
    vt.hash(&mut h);
    let counted = v.element_count(scratch)?;
    match e.kind() {
        Kind::String => {
            let s = v.as_string()?;
            let n = string_bytes(&s, buf, sum, &mut h)?;
            sum.string_value_bytes += n;
            if n != counted {
                sum.inconsistencies.push(format!(
                    "string at {}: element_count {counted}, {n} bytes",
                    v.offset()
                ));
            }
        }
        Kind::Stream => {
            let mut visitor = DigestVisitor {
                h: &mut h,
                counts: StreamCounts::default(),
            };
            let meta = v.walk_stream(scratch, &mut visitor)?;
            let c = visitor.counts;
            let head = v.stream_meta()?;
            if head != meta {
                sum.inconsistencies.push(format!(
                    "stream at {}: stream_meta {head:?} != walk {meta:?}",
                    v.offset()
                ));
            }
            if meta.groups != c.groups {
                sum.inconsistencies.push(format!(
                    "stream at {}: {} groups, walked {}",
                    v.offset(),
                    meta.groups,
                    c.groups
                ));
            }
            if counted != meta.length {
                sum.inconsistencies.push(format!(
                    "stream at {}: element_count {counted} != length {}",
                    v.offset(),
                    meta.length
                ));
            }
            sum.stream_lengths += meta.length;
            let s = &mut sum.stream;
            s.entries += c.entries;
            s.fields += c.fields;
            s.groups += c.groups;
            s.group_pending += c.group_pending;
            s.consumers += c.consumers;
            s.consumer_pending += c.consumer_pending;
            format!("{meta:?}").hash(&mut h);
        }
        Kind::Module => {
            let id = v.module_id()?;
            sum.modules
                .insert(format!("{}/v{}", id.name(), id.encoding_version()));
            id.hash(&mut h);
            v.raw().hash(&mut h);
        }
        _ => {
            let mut n = 0u64;
            let mut expires = 0u64;
            v.for_each_element(scratch, |el| {
                n += 1;
                if let Element::Field {
                    expire_at_ms: Some(_),
                    ..
                } = el
                {
                    expires += 1;
                }
                hash_element(&mut h, &el);
            })?;
            if n != counted {
                sum.inconsistencies.push(format!(
                    "{vt:?} at {}: element_count {counted}, walked {n}",
                    v.offset()
                ));
            }
            if n == 0 {
                sum.empty_collections += 1;
            }
            sum.elements += n;
            sum.field_expires += expires;
        }
    }
    Ok(h.finish())
}

/// Reads every record, decodes every value completely and checks the
/// checksum. A checksum mismatch and a missing EOF are errors.
fn walk_all(data: &[u8]) -> Result<Summary> {
    let rdb = Rdb::new(data)?;
    let mut sum = Summary::new(&rdb);
    let mut scratch = Scratch::new();
    let mut buf = Vec::new();
    let mut eof = false;
    let mut h = DefaultHasher::new();
    for r in rdb.records() {
        match r? {
            Record::Entry(e) => {
                decode_entry(&e, &mut scratch, &mut buf, &mut sum).map_err(|err| {
                    match e.key.bytes(&mut buf) {
                        Ok(k) => err.with_key(k),
                        Err(_) => err,
                    }
                })?;
                sum.keys += 1;
                *sum.keys_per_db.entry(e.db).or_default() += 1;
                *sum.types.entry(e.value_type()).or_default() += 1;
                sum.with_expire += u64::from(e.expire_at_ms.is_some());
                sum.with_idle += u64::from(e.idle_seconds.is_some());
                sum.with_lfu += u64::from(e.lfu_freq.is_some());
                if e.record_end <= e.record_start || e.record_end > data.len() as u64 {
                    sum.inconsistencies
                        .push(format!("record {}..{}", e.record_start, e.record_end));
                }
            }
            Record::Aux { name, value } => {
                sum.aux_fields += 1;
                string_bytes(&name, &mut buf, &mut sum, &mut h)?;
                string_bytes(&value, &mut buf, &mut sum, &mut h)?;
            }
            Record::SelectDb(db) => {
                sum.selected_dbs.insert(db);
            }
            Record::ResizeDb { .. } => {}
            Record::ModuleAux { module, .. } => {
                sum.module_aux += 1;
                sum.modules.insert(format!(
                    "aux:{}/v{}",
                    module.name(),
                    module.encoding_version()
                ));
            }
            Record::Function { pre_ga, name, code } => {
                if pre_ga {
                    sum.functions_pre_ga += 1;
                } else {
                    sum.functions += 1;
                }
                if let Some(name) = name {
                    string_bytes(&name, &mut buf, &mut sum, &mut h)?;
                }
                string_bytes(&code, &mut buf, &mut sum, &mut h)?;
            }
            Record::SlotInfo { .. } => sum.slot_info += 1,
            Record::SlotImport { job_name, .. } => {
                sum.slot_import += 1;
                string_bytes(&job_name, &mut buf, &mut sum, &mut h)?;
            }
            Record::Eof {
                offset,
                stored_checksum,
                trailing_bytes,
            } => {
                eof = true;
                sum.eof_offset = offset;
                sum.trailing_bytes = trailing_bytes;
                sum.checksum = rdb.checksum_status(offset, stored_checksum);
                if let ChecksumStatus::Mismatch { stored, computed } = sum.checksum {
                    return Err(Error::new(
                        ErrorKind::ChecksumMismatch { stored, computed },
                        offset + 1,
                    ));
                }
            }
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
    Ok(sum)
}

// ---------------------------------------------------------------------------
// Corpus access
// ---------------------------------------------------------------------------

/// Files the MANIFEST marks as bad on purpose (each has its own test below).
const BAD_ON_PURPOSE: [&str; 4] = [
    "redis-redis/corrupt_ziplist.rdb",
    "valkey-valkey/corrupt_ziplist.rdb",
    "redis-replicator/module.rdb",
    "hdt3213-rdb/zipmap_big_len.rdb",
];

/// Files with bytes after the checksum (which Redis ignores).
/// redis_40_with_module.rdb ends with 40 ASCII hex digits after its EOF and
/// zero checksum.
const TRAILING_BYTES: [(&str, u64); 1] = [("redis-rdb-tools/redis_40_with_module.rdb", 40)];

struct CorpusFile {
    /// Path relative to the corpus folder, with `/`.
    rel: String,
    data: Vec<u8>,
}

fn rel_name(dir: &Path, p: &Path) -> String {
    p.strip_prefix(dir)
        .unwrap_or(p)
        .to_string_lossy()
        .replace('\\', "/")
}

fn load_corpus() -> Option<(PathBuf, Vec<CorpusFile>)> {
    let files = testkit::corpus_files();
    let dir = testkit::corpus_dir()?;
    if files.is_empty() {
        eprintln!("SKIP: the RDB corpus at {} has no .rdb file", dir.display());
        return None;
    }
    let files = files
        .iter()
        .map(|p| CorpusFile {
            rel: rel_name(&dir, p),
            data: std::fs::read(p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display())),
        })
        .collect();
    Some((dir, files))
}

/// One corpus file by its relative path: `None` (with a SKIP line) without a
/// corpus; a panic when the corpus is there but the file is not.
fn corpus_file(rel: &str) -> Option<Vec<u8>> {
    let dir = testkit::corpus_dir()?;
    let p = dir.join(rel);
    Some(std::fs::read(&p).unwrap_or_else(|e| panic!("corpus file {} missing: {e}", p.display())))
}

fn summary_of(rel: &str) -> Option<Summary> {
    let data = corpus_file(rel)?;
    Some(walk_all(&data).unwrap_or_else(|e| panic!("{rel}: {e}")))
}

// ---------------------------------------------------------------------------
// Every file, end to end
// ---------------------------------------------------------------------------

#[test]
fn every_corpus_file_parses_to_the_end() {
    let Some((_, files)) = load_corpus() else {
        return;
    };
    let mut failures = Vec::new();
    let mut checked = 0;
    for f in &files {
        if BAD_ON_PURPOSE.contains(&f.rel.as_str()) {
            continue;
        }
        checked += 1;
        match walk_all(&f.data) {
            Err(e) => failures.push(format!("{}: {e}", f.rel)),
            Ok(s) => {
                if !s.inconsistencies.is_empty() {
                    failures.push(format!("{}: inconsistent: {:?}", f.rel, s.inconsistencies));
                }
                if !matches!(
                    s.checksum,
                    ChecksumStatus::Verified(_) | ChecksumStatus::Disabled | ChecksumStatus::Absent
                ) {
                    failures.push(format!("{}: checksum {:?}", f.rel, s.checksum));
                }
                let trailing = TRAILING_BYTES
                    .iter()
                    .find(|(n, _)| *n == f.rel)
                    .map_or(0, |(_, t)| *t);
                if s.trailing_bytes != trailing {
                    failures.push(format!(
                        "{}: {} bytes after the checksum",
                        f.rel, s.trailing_bytes
                    ));
                }
                let checksum_len = if Rdb::new(&f.data).map(|r| r.has_checksum()).unwrap_or(false) {
                    8
                } else {
                    0
                };
                if s.eof_offset + 1 + checksum_len + s.trailing_bytes != f.data.len() as u64 {
                    failures.push(format!(
                        "{}: EOF at {} in {} bytes",
                        f.rel,
                        s.eof_offset,
                        f.data.len()
                    ));
                }
                // (A stream's length field need not equal its live entries:
                // several Redis 5.0 files say 120 for a trimmed stream holding
                // 118, as HDT3213's expected output also shows.)
                if s.stream.entries > s.stream_lengths + 8 {
                    failures.push(format!(
                        "{}: {} live stream entries, lengths say {}",
                        f.rel, s.stream.entries, s.stream_lengths
                    ));
                }
            }
        }
    }
    for bad in BAD_ON_PURPOSE {
        assert!(
            files.iter().any(|f| f.rel == bad),
            "corpus lacks {bad}, which the MANIFEST lists"
        );
    }
    eprintln!("walked {checked} corpus files completely");
    assert!(
        failures.is_empty(),
        "{} of {checked} files failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------
// The files that are bad on purpose
// ---------------------------------------------------------------------------

#[test]
fn corrupt_ziplist_is_refused() {
    for rel in [
        "redis-redis/corrupt_ziplist.rdb",
        "valkey-valkey/corrupt_ziplist.rdb",
    ] {
        let Some(data) = corpus_file(rel) else { return };
        let e = walk_all(&data).expect_err(rel);
        let msg = e.to_string();
        assert!(
            e.offset() < data.len() as u64,
            "{rel}: offset {} outside the file: {msg}",
            e.offset()
        );
        assert!(
            msg.contains("ziplist"),
            "{rel}: the error does not name the ziplist: {msg}"
        );
        // The hash ziplist of this key is the corrupt value (redis-check-rdb
        // refuses the file at offset 494, inside that record).
        assert_eq!(e.key(), Some(&b"key:000000000091"[..]), "{rel}: {msg}");
        assert!((470..=500).contains(&e.offset()), "{rel}: {msg}");
        // Everything before that record reads fine.
        let rdb = Rdb::new(&data).unwrap();
        let before = rdb
            .entries()
            .take_while(|r| r.as_ref().map(|e| e.record_end <= 470).unwrap_or(false))
            .count();
        assert!(
            before > 10,
            "{rel}: only {before} records before the corrupt one"
        );
    }
}

#[test]
fn pre_ga_module_value_is_refused_naming_the_module() {
    let rel = "redis-replicator/module.rdb";
    let Some(data) = corpus_file(rel) else { return };
    let e = walk_all(&data).expect_err(rel);
    match e.kind() {
        ErrorKind::ModulePreGa { module } => assert_eq!(module, "hellotype", "{e}"),
        other => panic!("{rel}: expected ModulePreGa, got {other:?}: {e}"),
    }
    assert!(e.to_string().contains("hellotype"), "{e}");
    assert_eq!(e.key(), Some(&b"key"[..]), "{e}");
    assert!(e.offset() < data.len() as u64, "{e}");
    assert_eq!(e.version(), Some(8), "{e}");
}

/// `zipmap_big_len.rdb` is `zipmap_that_doesnt_compress.rdb` with the zipmap's
/// count byte set to 0xFF. A zipmap count byte is the entry count below 254,
/// or 254 (ZIPMAP_BIGLEN) for "count unknown"; 255 is the end marker and never
/// a count. Redis refuses the file ("Zipmap integrity check failed"), so the
/// parser should too. (HDT3213/rdb, where the file comes from, reads it.)
#[test]
fn zipmap_count_byte_0xff_is_refused_like_redis() {
    let rel = "hdt3213-rdb/zipmap_big_len.rdb";
    let Some(data) = corpus_file(rel) else { return };
    match walk_all(&data) {
        Ok(s) => panic!(
            "{rel}: accepted a zipmap whose count byte is 0xFF (Redis refuses it); read {} keys, {} elements",
            s.keys, s.elements
        ),
        Err(e) => {
            assert!(e.offset() < data.len() as u64, "{e}");
            assert!(e.to_string().contains("zipmap"), "the error does not name the zipmap: {e}");
            assert_eq!(e.key(), Some(&b"zimap_doesnt_compress"[..]), "{e}");
        }
    }
    // The same bytes with the count byte that Redis wrote read fine.
    let mut fixed = data.clone();
    let at = fixed.iter().position(|&b| b == 0xff).expect("count byte");
    fixed[at] = 2;
    let s = walk_all(&fixed).expect("the original zipmap");
    assert_eq!((s.keys, s.elements), (1, 2));
}

#[test]
fn corrupt_empty_keys_parses_with_nine_empty_collections() {
    for rel in [
        "redis-redis/corrupt_empty_keys.rdb",
        "valkey-valkey/corrupt_empty_keys.rdb",
    ] {
        let Some(s) = summary_of(rel) else { return };
        assert_eq!(s.keys, 9, "{rel}: {s:?}");
        assert_eq!(s.empty_collections, 9, "{rel}: {s:?}");
        assert_eq!(s.elements, 0, "{rel}");
        assert!(
            matches!(s.checksum, ChecksumStatus::Verified(_)),
            "{rel}: {:?}",
            s.checksum
        );
    }
}

// ---------------------------------------------------------------------------
// Facts from the MANIFEST
// ---------------------------------------------------------------------------

#[test]
fn key_counts_stated_in_the_manifest() {
    let cases: &[(&str, u64, &[u64])] = &[
        ("redis-replicator/dumpV6.rdb", 132, &[0, 1]),
        ("redis-replicator/listpack-bug.rdb", 237, &[0, 1, 2]),
        ("dragonfly/small.rdb", 201, &[0, 2]),
        ("redis-rdb-cli/rct/all.rdb", 270, &[0, 1, 2]),
        ("redisshake/appendonly.aof.2.base.rdb", 9990 + 1 + 25, &[0]),
        ("rdb-rs/multidb-skipping.rdb", 2, &[0, 1]),
        ("redis-rdb-tools/multiple_databases.rdb", 2, &[0, 2]),
        ("dragonfly/redis6_stream.rdb", 11, &[0]),
        ("dragonfly/empty.rdb", 0, &[]),
        ("redis-redis/scriptbackup.rdb", 0, &[]),
    ];
    for &(rel, keys, dbs) in cases {
        let Some(s) = summary_of(rel) else { return };
        assert_eq!(s.keys, keys, "{rel}");
        let with_keys: Vec<u64> = s.keys_per_db.keys().copied().collect();
        assert_eq!(with_keys, dbs, "{rel}: databases holding keys");
    }

    // dumpV8.rdb: 92 478 ZSET_ZIPLIST keys plus a big ZSET_2, quicklists,
    // strings and a hash; expiries.
    let Some(s) = summary_of("redis-replicator/dumpV8.rdb") else {
        return;
    };
    assert_eq!(s.types.get(&ValueType::ZsetZiplist), Some(&92_478));
    assert!(s.keys > 92_478, "{}", s.keys);
    assert_eq!(s.keys, 92_478 + 1 + 3 + 16 + 1);
    assert!(s.with_expire > 0);
    assert!(matches!(s.checksum, ChecksumStatus::Verified(_)));

    // Streams with groups, consumers and pending entries.
    let s = summary_of("redis-rdb-tools/redis_50_with_streams.rdb").unwrap();
    assert_eq!(s.types.get(&ValueType::StreamListpacks), Some(&1));
    assert!(
        s.stream.entries > 0 && s.stream.groups > 0 && s.stream.consumers > 0,
        "{:?}",
        s.stream
    );
    assert!(
        s.stream.group_pending > 0 && s.stream.consumer_pending > 0,
        "{:?}",
        s.stream
    );
    // Five streams; "trim" stores length 120 but holds 118 live entries of
    // 150 (HDT3213's expected JSON agrees), so 290 live entries, lengths 292.
    let s = summary_of("hdt3213-rdb/stream_listpacks_1.rdb").unwrap();
    assert_eq!((s.keys, s.stream.entries, s.stream_lengths), (5, 290, 292));
    let s = summary_of("redis-replicator/dumpV11.rdb").unwrap();
    assert!(
        s.stream.groups > 0 && s.stream.consumers > 0 && s.stream.group_pending > 0,
        "{:?}",
        s.stream
    );

    // Hash field expiry: 8 fields, 3 of them with a TTL.
    let s = summary_of("hdt3213-rdb/hash_with_hfe.rdb").unwrap();
    assert_eq!((s.keys, s.elements, s.field_expires), (1, 8, 3));

    // Functions, slot info, module aux, LRU/LFU.
    assert_eq!(summary_of("hdt3213-rdb/function.rdb").unwrap().functions, 1);
    assert_eq!(
        summary_of("redis-replicator/function.rdb")
            .unwrap()
            .functions_pre_ga,
        2
    );
    assert_eq!(
        summary_of("redis-replicator/dump-slot.rdb")
            .unwrap()
            .slot_info,
        4
    );
    assert_eq!(
        summary_of("redis-rdb-tools/redis_60_with_module_aux.rdb")
            .unwrap()
            .module_aux,
        1
    );
    let s = summary_of("redis-replicator/dump-lfu.rdb").unwrap();
    assert_eq!((s.keys, s.with_lfu, s.with_expire), (2, 2, 1));
    let s = summary_of("redis-replicator/dump-lru.rdb").unwrap();
    assert_eq!((s.keys, s.with_idle, s.with_expire), (2, 2, 1));
}

/// Structural facts of one MANIFEST row.
#[derive(Debug, Default, Clone)]
struct Facts {
    bytes: u64,
    version: String,
    /// From the bracketed scan; `None` for "Identical bytes to …" rows.
    scan: Option<Scan>,
    identical_to: Option<String>,
}

#[derive(Debug, Default, Clone)]
struct Scan {
    types: BTreeMap<String, u64>,
    opcodes: BTreeSet<String>,
    modules: BTreeSet<String>,
    lzf: bool,
    dbs: Option<BTreeSet<u64>>,
    crc: Option<String>,
}

/// The bracketed `[types: …; opcodes: …; …]` part of a row, if any.
fn scan_part(what: &str) -> Option<&str> {
    let starts = ["[types:", "[opcodes:", "[modules:", "[LZF", "[dbs", "[crc"];
    let start = starts.iter().filter_map(|s| what.find(s)).min()?;
    let mut depth = 0;
    for (i, c) in what[start..].char_indices() {
        match c {
            '[' => depth += 1,
            ']' => {
                depth -= 1;
                if depth == 0 {
                    return Some(&what[start + 1..start + i]);
                }
            }
            _ => {}
        }
    }
    None
}

fn parse_scan(s: &str) -> Scan {
    let mut scan = Scan::default();
    for part in s.split("; ").map(str::trim) {
        if let Some(list) = part.strip_prefix("types: ") {
            for t in list.split(", ") {
                let (name, n) = match t.rfind('x') {
                    Some(i)
                        if i + 1 < t.len() && t[i + 1..].bytes().all(|b| b.is_ascii_digit()) =>
                    {
                        (&t[..i], t[i + 1..].parse().unwrap())
                    }
                    _ => (t, 1),
                };
                *scan.types.entry(name.to_string()).or_default() += n;
            }
        } else if let Some(list) = part.strip_prefix("opcodes: ") {
            scan.opcodes = list.split(", ").map(String::from).collect();
        } else if let Some(list) = part.strip_prefix("modules: ") {
            scan.modules = list.split(", ").map(String::from).collect();
        } else if part == "LZF" {
            scan.lzf = true;
        } else if let Some(list) = part.strip_prefix("dbs [") {
            let list = list.trim_end_matches(']');
            scan.dbs = Some(list.split(", ").map(|d| d.parse().unwrap()).collect());
        } else if let Some(crc) = part.strip_prefix("crc ") {
            scan.crc = Some(crc.to_string());
        } else if part.starts_with("scan stops:") {
            // The skimmer gave up there (module.rdb); the facts are partial.
        } else {
            panic!("MANIFEST scan item not understood: {part:?} (in {s:?})");
        }
    }
    scan
}

fn parse_manifest(text: &str) -> HashMap<String, Facts> {
    let mut out = HashMap::new();
    let mut in_files = false;
    for line in text.lines() {
        if line.starts_with("## ") {
            in_files = line.trim() == "## Files";
            continue;
        }
        if !in_files
            || !line.starts_with("| ")
            || line.starts_with("| path")
            || line.starts_with("|---")
        {
            continue;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // "", path, bytes, version, repo, source path, license, what, expected, ""
        assert!(
            cells.len() >= 10,
            "MANIFEST row with {} cells: {line}",
            cells.len()
        );
        let what = cells[7];
        let identical_to = what
            .strip_prefix("Identical bytes to ")
            .map(|r| r.trim_end_matches('.').to_string());
        out.insert(
            cells[1].to_string(),
            Facts {
                bytes: cells[2]
                    .parse()
                    .unwrap_or_else(|_| panic!("bytes of {line}")),
                version: cells[3].to_string(),
                scan: scan_part(what).map(parse_scan),
                identical_to,
            },
        );
    }
    out
}

fn type_name(vt: ValueType) -> &'static str {
    match vt {
        ValueType::String => "STRING",
        ValueType::List => "LIST",
        ValueType::Set => "SET",
        ValueType::Zset => "ZSET",
        ValueType::Hash => "HASH",
        ValueType::Zset2 => "ZSET_2",
        ValueType::ModulePreGa => "MODULE_PRE_GA",
        ValueType::Module2 => "MODULE_2",
        ValueType::HashZipmap => "HASH_ZIPMAP",
        ValueType::ListZiplist => "LIST_ZIPLIST",
        ValueType::SetIntset => "SET_INTSET",
        ValueType::ZsetZiplist => "ZSET_ZIPLIST",
        ValueType::HashZiplist => "HASH_ZIPLIST",
        ValueType::ListQuicklist => "LIST_QUICKLIST",
        ValueType::StreamListpacks => "STREAM_LISTPACKS",
        ValueType::HashListpack => "HASH_LISTPACK",
        ValueType::ZsetListpack => "ZSET_LISTPACK",
        ValueType::ListQuicklist2 => "LIST_QUICKLIST_2",
        ValueType::StreamListpacks2 => "STREAM_LISTPACKS_2",
        ValueType::SetListpack => "SET_LISTPACK",
        ValueType::StreamListpacks3 => "STREAM_LISTPACKS_3",
        ValueType::HashMetadataPreGa => "HASH_METADATA_PRE_GA",
        ValueType::HashListpackExPreGa => "HASH_LISTPACK_EX_PRE_GA",
        ValueType::HashMetadata => "HASH_METADATA",
        ValueType::HashListpackEx => "HASH_LISTPACK_EX",
        ValueType::ValkeyHash2 => "(valkey HASH_2)",
        _ => "(unnamed)",
    }
}

fn opcodes_seen(s: &Summary) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut add = |n: u64, name: &str| {
        if n > 0 {
            out.insert(name.to_string());
        }
    };
    add(s.with_expire, "EXPIRETIME_MS");
    add(s.with_idle, "IDLE(LRU)");
    add(s.with_lfu, "FREQ(LFU)");
    add(s.functions, "FUNCTION2");
    add(s.functions_pre_ga, "FUNCTION_PRE_GA");
    add(s.slot_info, "SLOT_INFO");
    add(s.slot_import, "SLOT_IMPORT(valkey)");
    add(s.module_aux, "MODULE_AUX");
    out
}

fn check_against_manifest(f: &CorpusFile, facts: &Facts, scan: &Scan, s: &Summary) -> Vec<String> {
    let mut bad = Vec::new();
    let types: BTreeMap<String, u64> = s
        .types
        .iter()
        .map(|(t, n)| (type_name(*t).to_string(), *n))
        .collect();
    if types != scan.types {
        bad.push(format!("types {types:?}, MANIFEST {:?}", scan.types));
    }
    let opcodes = opcodes_seen(s);
    if opcodes != scan.opcodes {
        bad.push(format!("opcodes {opcodes:?}, MANIFEST {:?}", scan.opcodes));
    }
    if s.modules != scan.modules {
        bad.push(format!(
            "modules {:?}, MANIFEST {:?}",
            s.modules, scan.modules
        ));
    }
    if s.lzf_seen && !scan.lzf {
        bad.push("LZF strings, the MANIFEST says none".into());
    }
    let dbs = scan.dbs.clone().unwrap_or_else(|| BTreeSet::from([0]));
    let seen: BTreeSet<u64> = s
        .selected_dbs
        .union(&s.keys_per_db.keys().copied().collect())
        .copied()
        .collect();
    if !seen.is_subset(&dbs) || (scan.dbs.is_some() && seen != dbs) {
        bad.push(format!("databases {seen:?}, MANIFEST {:?}", scan.dbs));
    }
    let crc_ok = match (scan.crc.as_deref(), s.checksum) {
        (Some("ok"), ChecksumStatus::Verified(_)) => true,
        (Some("zero(disabled)"), ChecksumStatus::Disabled) => true,
        (Some(n), ChecksumStatus::Absent) if n.starts_with("n/a") => true,
        _ => false,
    };
    if !crc_ok {
        bad.push(format!(
            "checksum {:?}, MANIFEST {:?}",
            s.checksum, scan.crc
        ));
    }
    let magic = match s.magic {
        Magic::Redis => format!("REDIS{:04}", s.version),
        Magic::Valkey => format!("VALKEY{:03}", s.version),
    };
    if !facts
        .version
        .starts_with(&format!("{} (`{magic}`)", s.version))
    {
        bad.push(format!("version {magic}, MANIFEST {}", facts.version));
    }
    if f.data.len() as u64 != facts.bytes {
        bad.push(format!("{} bytes, MANIFEST {}", f.data.len(), facts.bytes));
    }
    bad
}

#[test]
fn corpus_agrees_with_the_manifest() {
    let Some((dir, files)) = load_corpus() else {
        return;
    };
    let Ok(text) = std::fs::read_to_string(dir.join("MANIFEST.md")) else {
        eprintln!("SKIP: no MANIFEST.md in {}", dir.display());
        return;
    };
    let manifest = parse_manifest(&text);
    let by_name: HashMap<&str, &CorpusFile> = files.iter().map(|f| (f.rel.as_str(), f)).collect();
    let mut failures = Vec::new();
    let mut compared = 0;
    for f in &files {
        let Some(facts) = manifest.get(&f.rel) else {
            failures.push(format!("{}: not in the MANIFEST", f.rel));
            continue;
        };
        // Duplicates: same bytes as the file named, whose facts apply.
        let mut facts_of = facts;
        if let Some(orig) = &facts.identical_to {
            match (by_name.get(orig.as_str()), manifest.get(orig)) {
                (Some(o), Some(of)) if o.data == f.data => facts_of = of,
                (Some(_), Some(_)) => failures.push(format!("{}: bytes differ from {orig}", f.rel)),
                _ => failures.push(format!(
                    "{}: names {orig}, which is not in the corpus/MANIFEST",
                    f.rel
                )),
            }
        }
        if f.data.len() as u64 != facts.bytes {
            failures.push(format!(
                "{}: {} bytes, MANIFEST {}",
                f.rel,
                f.data.len(),
                facts.bytes
            ));
        }
        let Some(scan) = &facts_of.scan else {
            failures.push(format!("{}: MANIFEST row has no structural scan", f.rel));
            continue;
        };
        if BAD_ON_PURPOSE.contains(&f.rel.as_str())
            || facts
                .identical_to
                .as_deref()
                .is_some_and(|o| BAD_ON_PURPOSE.contains(&o))
        {
            continue;
        }
        match walk_all(&f.data) {
            Ok(s) => {
                compared += 1;
                for b in check_against_manifest(f, facts, scan, &s) {
                    failures.push(format!("{}: {b}", f.rel));
                }
                let type_total: u64 = scan.types.values().sum();
                if type_total != s.keys {
                    failures.push(format!(
                        "{}: {} keys, MANIFEST types add up to {type_total}",
                        f.rel, s.keys
                    ));
                }
            }
            Err(e) => failures.push(format!("{}: {e}", f.rel)),
        }
    }
    // Every MANIFEST row names a file that exists.
    for name in manifest.keys() {
        if !by_name.contains_key(name.as_str()) {
            failures.push(format!("MANIFEST lists {name}, which is not in the corpus"));
        }
    }
    eprintln!("compared {compared} files with their MANIFEST facts");
    assert!(
        failures.is_empty(),
        "{} disagreements:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------
// Parallel equals sequential
// ---------------------------------------------------------------------------

/// What one record says, with a digest of everything decoded from it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Sig {
    Entry {
        db: u64,
        key: Vec<u8>,
        value_type: ValueType,
        expire: Option<i64>,
        idle: Option<u64>,
        freq: Option<u8>,
        record_start: u64,
        record_end: u64,
        digest: u64,
    },
    Other(String),
}

fn sig(r: Record<'_>, scratch: &mut Scratch, buf: &mut Vec<u8>, rdb: &Rdb<'_>) -> Result<Sig> {
    Ok(match r {
        Record::Entry(e) => {
            let mut sum = Summary::new(rdb);
            let digest =
                decode_entry(&e, scratch, buf, &mut sum).map_err(|err| match e.key.bytes(buf) {
                    Ok(k) => err.with_key(k),
                    Err(_) => err,
                })?;
            Sig::Entry {
                db: e.db,
                key: e.key.bytes(buf)?.to_vec(),
                value_type: e.value_type(),
                expire: e.expire_at_ms,
                idle: e.idle_seconds,
                freq: e.lfu_freq,
                record_start: e.record_start,
                record_end: e.record_end,
                digest,
            }
        }
        other => Sig::Other(format!("{other:?}")),
    })
}

fn sequential(rdb: &Rdb<'_>) -> Result<Vec<Sig>> {
    let (mut scratch, mut buf) = (Scratch::new(), Vec::new());
    rdb.records()
        .map(|r| sig(r?, &mut scratch, &mut buf, rdb))
        .collect()
}

fn check_chunks(rdb: &Rdb<'_>, chunks: &[Chunk]) -> std::result::Result<(), String> {
    let first = chunks.first().ok_or("no chunk")?;
    if first.start != rdb.body_start() {
        return Err(format!(
            "first chunk starts at {}, body at {}",
            first.start,
            rdb.body_start()
        ));
    }
    for (i, w) in chunks.windows(2).enumerate() {
        if w[0].end != w[1].start || w[0].last || w[0].start > w[0].end {
            return Err(format!("chunks {i} and {}: {:?} {:?}", i + 1, w[0], w[1]));
        }
    }
    for (i, c) in chunks.iter().enumerate() {
        if c.index != i {
            return Err(format!("chunk {i} has index {}", c.index));
        }
    }
    let last = chunks.last().unwrap();
    if !last.last || last.end != rdb.data().len() as u64 {
        return Err(format!(
            "last chunk {last:?}, file of {} bytes",
            rdb.data().len()
        ));
    }
    Ok(())
}

fn parallel(rdb: &Rdb<'_>, chunk_bytes: u64) -> Result<Vec<Sig>> {
    let chunks = rdb.chunks(chunk_bytes)?;
    if let Err(msg) = check_chunks(rdb, &chunks) {
        panic!("chunks of {chunk_bytes} bytes: {msg}");
    }
    let parts = rdb.par_map_chunks(&chunks, |_c, records| {
        let (mut scratch, mut buf) = (Scratch::new(), Vec::new());
        records
            .map(|r| sig(r?, &mut scratch, &mut buf, rdb))
            .collect::<Result<Vec<Sig>>>()
    })?;
    Ok(parts.into_iter().flatten().collect())
}

/// Keys and a digest of all decoded values, folded on the pool in any order.
fn folded(rdb: &Rdb<'_>, chunk_bytes: u64) -> Result<(u64, u64)> {
    let chunks = rdb.chunks(chunk_bytes)?;
    rdb.par_fold(
        &chunks,
        || (0u64, 0u64),
        |acc, r| {
            if let Record::Entry(_) = r {
                let Sig::Entry { digest, .. } = sig(r, &mut Scratch::new(), &mut Vec::new(), rdb)?
                else {
                    unreachable!()
                };
                acc.0 += 1;
                acc.1 = acc.1.wrapping_add(digest);
            }
            Ok(())
        },
        |a, b| (a.0 + b.0, a.1.wrapping_add(b.1)),
    )
}

#[test]
fn parallel_equals_sequential_on_every_corpus_file() {
    let Some((_, files)) = load_corpus() else {
        return;
    };
    let mut failures = Vec::new();
    let mut seen = BTreeSet::new();
    for f in &files {
        if !seen.insert(f.data.clone()) {
            continue; // identical bytes already compared
        }
        let rdb = match Rdb::new(&f.data) {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!("{}: {e}", f.rel));
                continue;
            }
        };
        let seq = sequential(&rdb);
        let seq_fold = seq.as_ref().map(|v| {
            v.iter().fold((0u64, 0u64), |acc, s| match s {
                Sig::Entry { digest, .. } => (acc.0 + 1, acc.1.wrapping_add(*digest)),
                Sig::Other(_) => acc,
            })
        });
        for chunk_bytes in [1, 64, 4096, 1 << 16, DEFAULT_CHUNK_BYTES] {
            let par = parallel(&rdb, chunk_bytes);
            if par != seq {
                let detail = match (&seq, &par) {
                    (Ok(a), Ok(b)) => {
                        let i = a
                            .iter()
                            .zip(b)
                            .position(|(x, y)| x != y)
                            .unwrap_or(a.len().min(b.len()));
                        format!(
                            "{} vs {} records; first difference at #{i}: {:?} vs {:?}",
                            a.len(),
                            b.len(),
                            a.get(i),
                            b.get(i)
                        )
                    }
                    (a, b) => format!(
                        "sequential {:?} vs parallel {:?}",
                        a.as_ref().err(),
                        b.as_ref().err()
                    ),
                };
                failures.push(format!(
                    "{} (chunks of {chunk_bytes} bytes): {detail}",
                    f.rel
                ));
            }
            if let (Ok(want), Ok(got)) = (&seq_fold, folded(&rdb, chunk_bytes)) {
                if *want != got {
                    failures.push(format!(
                        "{} (par_fold, chunks of {chunk_bytes} bytes): {got:?} vs {want:?}",
                        f.rel
                    ));
                }
            }
        }
    }
    eprintln!("compared {} distinct corpus files", seen.len());
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
