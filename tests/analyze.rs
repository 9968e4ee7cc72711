//! `rdbscope analyze` against a real Redis 7.0: every key of the dump must
//! appear once in keys.parquet with the type, element count and expire time
//! the server reports, and the encoding `OBJECT ENCODING` reports after the
//! server reloads the dump; `--threads 1` and `--threads 2` must agree.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;
use std::process::Command;

use analyzer::reexports::arrow_array::cast::AsArray;
use analyzer::reexports::arrow_array::types::{
    Int32Type, Int64Type, UInt16Type, UInt64Type, UInt8Type,
};
use analyzer::reexports::arrow_array::{Array, RecordBatch};
use analyzer::reexports::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use testkit::{cmd_args, require_server, Client, ServerKind};

type Cmd = Vec<Vec<u8>>;

/// One keys.parquet row (every column; `source` checked separately).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Row {
    db: i32,
    key: Vec<u8>,
    kind: String,
    encoding: String,
    rdb_bytes: u64,
    memory_bytes: u64,
    elements: u64,
    max_element_bytes: u64,
    expire_at_ms: Option<i64>,
    idle_seconds: Option<u64>,
    lfu_freq: Option<u8>,
    slot: u16,
    source: String,
}

fn read_batches(path: &Path) -> Vec<RecordBatch> {
    let f = File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    ParquetRecordBatchReaderBuilder::try_new(f)
        .expect("parquet footer")
        .build()
        .expect("reader")
        .map(|b| b.expect("batch"))
        .collect()
}

fn read_keys(path: &Path) -> Vec<Row> {
    let mut rows = Vec::new();
    for b in read_batches(path) {
        let col = |name: &str| {
            b.column(
                b.schema()
                    .index_of(name)
                    .unwrap_or_else(|_| panic!("column {name}")),
            )
            .clone()
        };
        let (source, db, key, kind, enc) = (
            col("source"),
            col("db"),
            col("key"),
            col("type"),
            col("encoding"),
        );
        let (rdb, mem, el, max) = (
            col("rdb_bytes"),
            col("memory_bytes"),
            col("elements"),
            col("max_element_bytes"),
        );
        let (exp, idle, freq, slot) = (
            col("expire_at_ms"),
            col("idle_seconds"),
            col("lfu_freq"),
            col("slot"),
        );
        let u64s = |a: &dyn Array, i| a.as_primitive::<UInt64Type>().value(i);
        for i in 0..b.num_rows() {
            rows.push(Row {
                source: source.as_string::<i32>().value(i).to_owned(),
                db: db.as_primitive::<Int32Type>().value(i),
                key: key.as_binary::<i32>().value(i).to_vec(),
                kind: kind.as_string::<i32>().value(i).to_owned(),
                encoding: enc.as_string::<i32>().value(i).to_owned(),
                rdb_bytes: u64s(&rdb, i),
                memory_bytes: u64s(&mem, i),
                elements: u64s(&el, i),
                max_element_bytes: u64s(&max, i),
                expire_at_ms: exp
                    .is_valid(i)
                    .then(|| exp.as_primitive::<Int64Type>().value(i)),
                idle_seconds: idle.is_valid(i).then(|| u64s(&idle, i)),
                lfu_freq: freq
                    .is_valid(i)
                    .then(|| freq.as_primitive::<UInt8Type>().value(i)),
                slot: slot.as_primitive::<UInt16Type>().value(i),
            });
        }
    }
    rows.sort();
    rows
}

fn analyze(rdb: &Path, out: &Path, extra: &[&str]) -> serde_json::Value {
    let o = Command::new(env!("CARGO_BIN_EXE_rdbscope"))
        .arg("analyze")
        .arg(rdb)
        .arg("--out")
        .arg(out)
        .args(["--format", "json"])
        .args(extra)
        .output()
        .expect("run rdbscope");
    assert!(
        o.status.success(),
        "analyze failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).expect("stdout is summary.json")
}

/// Strings of every encoding, collections small and big (two over the
/// big-key thresholds), TTLs, a stream, two databases.
fn populate(c: &mut Client, far_ms: i64) {
    let mut cmds: Vec<Cmd> = vec![
        cmd_args!["SET", "s:int", "42"],
        cmd_args!["SET", "s:neg", "-7"],
        cmd_args!["SET", "s:emb", "hello"],
        cmd_args!["SET", "s:raw", "r".repeat(100)],
        cmd_args!["SET", "s:big", "b".repeat(150 * 1024)],
        cmd_args!["SET", b"bin:\x00\xff".to_vec(), "binary key"],
        cmd_args!["RPUSH", "l:small", "a", "b", "c"],
        cmd_args!["SADD", "set:int", "1", "2", "3"],
        cmd_args!["SADD", "set:str", "a", "b", "c"],
        cmd_args!["ZADD", "z:small", "1", "a", "2.5", "b"],
        cmd_args!["HSET", "h:small", "f", "v"],
        cmd_args!["XADD", "stream", "*", "f", "v"],
        cmd_args!["XADD", "stream", "*", "f", "w"],
        cmd_args!["SET", "ttl:px", "v", "PXAT", (far_ms + 123).to_string()],
        cmd_args!["HSET", "ttl:hash", "f", "v"],
        cmd_args!["PEXPIREAT", "ttl:hash", (far_ms + 456).to_string()],
    ];
    for i in 0..200 {
        cmds.push(cmd_args!["SET", format!("str:{i}"), format!("value-{i}")]);
        cmds.push(cmd_args![
            "SET",
            format!("{{user{}}}.ttl:{i}", i % 7),
            "x",
            "PX",
            (3_600_000 + i * 1000).to_string()
        ]);
    }
    for chunk in 0..60 {
        let mut c: Cmd = cmd_args!["RPUSH", "l:big"];
        c.extend((0..1000).map(|i| format!("item-{}", chunk * 1000 + i).into_bytes()));
        cmds.push(c);
    }
    let mut sadd: Cmd = cmd_args!["SADD", "set:big"];
    sadd.extend((0..1000).map(|i| format!("m{i}").into_bytes()));
    cmds.push(sadd);
    let mut zadd: Cmd = cmd_args!["ZADD", "z:big"];
    for i in 0..200 {
        zadd.push(format!("{}.5", i).into_bytes());
        zadd.push(format!("member-{i}").into_bytes());
    }
    cmds.push(zadd);
    let mut hset: Cmd = cmd_args!["HSET", "h:big"];
    // More fields than hash-max-listpack-entries (512 compiled in).
    for i in 0..600 {
        hset.push(format!("field-{i}").into_bytes());
        hset.push(format!("value-{i}").into_bytes());
    }
    cmds.push(hset);
    cmds.push(cmd_args!["HSET", "h:longvalue", "f", "v".repeat(100)]);
    c.pipeline_must(&cmds);
    c.pipeline_must(&[
        cmd_args!["SELECT", "1"],
        cmd_args!["SET", "db1:a", "1"],
        cmd_args!["RPUSH", "db1:list", "x", "y"],
        cmd_args!["SET", "db1:ttl", "v", "PXAT", (far_ms + 789).to_string()],
        cmd_args!["SELECT", "0"],
    ]);
}

#[test]
fn analyze_matches_redis70() {
    check(ServerKind::Redis70);
}

#[test]
fn analyze_matches_redis62() {
    check(ServerKind::Redis62);
}

#[test]
fn analyze_matches_valkey9() {
    check(ServerKind::Valkey9);
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Redis 7.4 (the stack build, modules left out): adds hashes with field
/// expiry, which load as `listpackex` or `hashtable`.
#[test]
fn analyze_matches_redis74() {
    check(ServerKind::Redis74Stack);
}

fn check(kind: ServerKind) {
    let Some(bin) = require_server(kind) else {
        return;
    };
    let bin = bin.without_modules();
    let srv = bin.start(&[]).expect("start server");
    let mut c = srv.client();
    // 2100-01-01: expire times that never fire during the test.
    let far_ms = 4_102_444_800_000i64;
    populate(&mut c, far_ms);
    if kind == ServerKind::Redis74Stack {
        let mut big: Cmd = cmd_args!["HSET", "hfe:big"];
        for i in 0..600 {
            big.push(format!("f{i}").into_bytes());
            big.push(b"v".to_vec());
        }
        c.pipeline_must(&[
            cmd_args!["HSET", "hfe:small", "f1", "v1", "f2", "v2"],
            cmd_args![
                "HPEXPIREAT",
                "hfe:small",
                far_ms.to_string(),
                "FIELDS",
                "1",
                "f1"
            ],
            big,
            cmd_args![
                "HPEXPIREAT",
                "hfe:big",
                far_ms.to_string(),
                "FIELDS",
                "1",
                "f7"
            ],
        ]);
    }
    let rdb = srv.save();
    // PEXPIRETIME is 7.0+; 6.2 gives PTTL, compared with a tolerance.
    let has_pexpiretime = bin.major() >= 7;

    let tmp = testkit::temp_dir("analyze");
    let out1 = tmp.join("t1");
    let out2 = tmp.join("t2");
    let summary = analyze(&rdb, &out1, &["--threads", "1"]);
    analyze(&rdb, &out2, &["--threads", "2"]);
    let rows = read_keys(&out1.join("keys.parquet"));

    // Every key once, per db, with what the server says.
    let mut by_db: BTreeMap<i32, Vec<&Row>> = BTreeMap::new();
    for r in &rows {
        assert_eq!(r.source, rdb.display().to_string());
        by_db.entry(r.db).or_default().push(r);
    }
    assert_eq!(by_db.keys().copied().collect::<Vec<_>>(), vec![0, 1]);
    // The encodings after loading: from a server that loaded the dump.
    let reloaded = bin.start_with_rdb(&rdb, &[]).expect("reload dump");
    let mut rc = reloaded.client();
    let mut problems = Vec::new();
    for (db, keys) in &by_db {
        c.must(&["SELECT", &db.to_string()]);
        rc.must(&["SELECT", &db.to_string()]);
        let dbsize = c.must(&["DBSIZE"]).as_int().unwrap();
        assert_eq!(
            dbsize as usize,
            keys.len(),
            "db{db}: DBSIZE vs keys.parquet rows"
        );
        let types: Vec<Cmd> = keys.iter().map(|r| cmd_args!["TYPE", r.key]).collect();
        let types = c.pipeline_must(&types);
        let mut counts: Vec<Cmd> = Vec::new();
        for (r, t) in keys.iter().zip(&types) {
            let t = t.as_str().unwrap();
            if t != r.kind {
                problems.push(format!("db{db} {:?}: type {} vs TYPE {t}", r.key, r.kind));
            }
            let cmd = match t {
                "string" => "STRLEN",
                "list" => "LLEN",
                "set" => "SCARD",
                "zset" => "ZCARD",
                "hash" => "HLEN",
                "stream" => "XLEN",
                other => panic!("unexpected type {other}"),
            };
            counts.push(cmd_args![cmd, r.key]);
        }
        let counts = c.pipeline_must(&counts);
        let ttl_cmd = if has_pexpiretime {
            "PEXPIRETIME"
        } else {
            "PTTL"
        };
        let now = now_ms();
        let pexp: Vec<Cmd> = keys.iter().map(|r| cmd_args![ttl_cmd, r.key]).collect();
        let pexp = c.pipeline_must(&pexp);
        let encs: Vec<Cmd> = keys
            .iter()
            .map(|r| cmd_args!["OBJECT", "ENCODING", r.key])
            .collect();
        let encs = rc.pipeline_must(&encs);
        for (((r, n), p), e) in keys.iter().zip(&counts).zip(&pexp).zip(&encs) {
            let n = n.as_int().unwrap() as u64;
            if n != r.elements {
                problems.push(format!(
                    "db{db} {:?}: elements {} vs {n}",
                    r.key, r.elements
                ));
            }
            let p = p.as_int().unwrap();
            let expected = (p >= 0).then(|| if has_pexpiretime { p } else { now + p });
            let close = match (expected, r.expire_at_ms) {
                (Some(a), Some(b)) if !has_pexpiretime => (a - b).abs() < 60_000,
                (a, b) => a == b,
            };
            if !close {
                problems.push(format!(
                    "db{db} {:?}: expire {:?} vs {expected:?}",
                    r.key, r.expire_at_ms
                ));
            }
            let e = e.as_str().unwrap();
            if e != r.encoding {
                problems.push(format!(
                    "db{db} {:?}: encoding {} vs OBJECT ENCODING {e}",
                    r.key, r.encoding
                ));
            }
            if r.memory_bytes == 0 || r.rdb_bytes == 0 {
                problems.push(format!("db{db} {:?}: zero memory or rdb bytes", r.key));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    memory_report(&mut rc, &by_db, kind == ServerKind::Redis70);

    // The CLI's own view agrees: totals and the two threshold keys.
    let file = &summary["files"][0];
    assert_eq!(file["keys"].as_u64().unwrap() as usize, rows.len());
    assert!(file["modelled_redis_version"].is_string());
    let over: Vec<&str> = file["over_threshold"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["key"].as_str().unwrap())
        .collect();
    assert_eq!(over, ["l:big", "s:big"]);

    // Parallelism changes nothing but row order.
    assert_eq!(
        rows,
        read_keys(&out2.join("keys.parquet")),
        "--threads 1 vs 2"
    );
    for table in [
        "types",
        "dbs",
        "expiry",
        "slots",
        "bigkeys",
        "prefixes",
        "expiry_cliffs",
    ] {
        let name = format!("{table}.parquet");
        let a = read_batches(&out1.join(&name));
        let b = read_batches(&out2.join(&name));
        assert_eq!(a, b, "{name}: --threads 1 vs 2");
    }
}

/// Compares the memory estimate with `MEMORY USAGE key SAMPLES 0` of the
/// server that loaded the dump. The model is a first cut of Redis 7.x: this
/// prints the comparison and, when `strict` (Redis 7.0), fails only when
/// the total is off by more than 30%.
fn memory_report(c: &mut Client, by_db: &BTreeMap<i32, Vec<&Row>>, strict: bool) {
    let (mut est_total, mut real_total) = (0u64, 0u64);
    let mut lines = Vec::new();
    for (db, keys) in by_db {
        c.must(&["SELECT", &db.to_string()]);
        let cmds: Vec<Cmd> = keys
            .iter()
            .map(|r| cmd_args!["MEMORY", "USAGE", r.key, "SAMPLES", "0"])
            .collect();
        for (r, real) in keys.iter().zip(c.pipeline_must(&cmds)) {
            let real = real.as_int().unwrap() as u64;
            est_total += r.memory_bytes;
            real_total += real;
            let ratio = r.memory_bytes as f64 / real.max(1) as f64;
            lines.push((
                ratio,
                format!(
                    "{:>6.2} est {:>8} usage {:>8} {} {} {}",
                    ratio,
                    r.memory_bytes,
                    real,
                    r.kind,
                    r.encoding,
                    String::from_utf8_lossy(&r.key)
                ),
            ));
        }
    }
    lines.sort_by(|a, b| a.0.total_cmp(&b.0));
    let ratio = est_total as f64 / real_total as f64;
    eprintln!(
        "memory estimate / MEMORY USAGE ({}): total {est_total} / {real_total} = {ratio:.3}",
        if strict { "checked" } else { "informational" }
    );
    for (_, l) in lines.iter().take(8).chain(lines.iter().rev().take(8)) {
        eprintln!("  {l}");
    }
    assert!(
        !strict || (0.7..1.3).contains(&ratio),
        "memory estimate off by more than 30%: {ratio:.3}"
    );
}

/// LFU counters and LRU idle times reach keys.parquet and hotkeys.parquet.
#[test]
fn analyze_lfu_and_lru_metadata() {
    let Some(bin) = require_server(ServerKind::Redis70) else {
        return;
    };
    let tmp = testkit::temp_dir("analyze-hot");
    for policy in ["allkeys-lfu", "allkeys-lru"] {
        let srv = bin
            .start(&["--maxmemory-policy", policy])
            .expect("start server");
        let mut c = srv.client();
        let mut cmds: Vec<Cmd> = (0..20)
            .map(|i| cmd_args!["SET", format!("k{i}"), "v"])
            .collect();
        cmds.extend((0..200).map(|_| cmd_args!["GET", "k7"]));
        c.pipeline_must(&cmds);
        let rdb = srv.save();
        let out = tmp.join(policy);
        let summary = analyze(&rdb, &out, &["--top", "3"]);
        assert!(
            summary["files"][0]["hot_keys_note"].is_null(),
            "{policy}: the file has hot-key data, so no note saying it lacks it"
        );
        let rows = read_keys(&out.join("keys.parquet"));
        assert_eq!(rows.len(), 20);
        for r in &rows {
            if policy == "allkeys-lfu" {
                let freq = c.must(&[b"OBJECT".as_slice(), b"FREQ", &r.key]).as_int();
                assert_eq!(r.lfu_freq.map(i64::from), freq, "{policy} {:?}", r.key);
                assert_eq!(r.idle_seconds, None);
            } else {
                let idle = c.must(&[b"OBJECT".as_slice(), b"IDLETIME", &r.key]);
                let idle = idle.as_int().unwrap() as u64;
                let got = r.idle_seconds.expect("idle seconds");
                assert!(got <= idle + 2, "{policy} {:?}: {got} vs {idle}", r.key);
                assert_eq!(r.lfu_freq, None);
            }
        }
        let hot = read_batches(&out.join("hotkeys.parquet"));
        let rows: usize = hot.iter().map(|b| b.num_rows()).sum();
        assert_eq!(rows, 3, "{policy}: --top 3 hot keys");
        if policy == "allkeys-lfu" {
            let key = hot[0].column(4).as_binary::<i32>().value(0).to_vec();
            assert_eq!(key, b"k7", "the key read 200 times is the hottest");
        }
    }
}

/// Corpus files whose CRC64 is wrong: `info` refuses them (it verifies the
/// checksum), `analyze` does not verify it.
const BAD_CHECKSUM: [&str; 2] = [
    "redis-librdb/future_v19.rdb",
    "redis-librdb/invalid_chksum_v8.rdb",
];

/// Every corpus file `rdbscope info --no-checksum` reads, `analyze` (which
/// does not verify the checksum) reads too, with the same number of keys;
/// the files `info` rejects, `analyze` rejects (exit 1, no panic, no
/// keys.parquet left behind). `info` without `--no-checksum` still refuses
/// the files with a wrong checksum.
#[test]
fn analyze_reads_the_corpus_like_info() {
    let files = testkit::corpus_files();
    let tmp = testkit::temp_dir("analyze-corpus");
    let mut problems = Vec::new();
    if !files.is_empty() {
        let dir = testkit::corpus_dir().expect("the corpus the files came from");
        for rel in BAD_CHECKSUM {
            let f = dir.join(rel);
            assert!(files.contains(&f), "corpus lacks {rel}");
            let info = Command::new(env!("CARGO_BIN_EXE_rdbscope"))
                .args(["info", "--json"])
                .arg(&f)
                .output()
                .expect("run info");
            let err = String::from_utf8_lossy(&info.stderr);
            if info.status.code() != Some(1) || !err.contains("CRC64 mismatch") {
                problems.push(format!(
                    "{rel}: info (checksum verified) exit {:?}, want 1 and a CRC64 mismatch: {err}",
                    info.status.code()
                ));
            }
        }
    }
    let mut serialized_keys = 0u64;
    for (i, f) in files.iter().enumerate() {
        let info = Command::new(env!("CARGO_BIN_EXE_rdbscope"))
            .args(["info", "--json", "--no-checksum"])
            .arg(f)
            .output()
            .expect("run info");
        let out = tmp.join(i.to_string());
        let an = Command::new(env!("CARGO_BIN_EXE_rdbscope"))
            .arg("analyze")
            .arg(f)
            .arg("--out")
            .arg(&out)
            .args(["--format", "json"])
            .output()
            .expect("run analyze");
        match (info.status.success(), an.status.code()) {
            (true, Some(0)) => {
                let i: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
                let a: serde_json::Value = serde_json::from_slice(&an.stdout).unwrap();
                if i["keys"] != a["totals"]["keys"] {
                    problems.push(format!(
                        "{}: info {} keys, analyze {}",
                        f.display(),
                        i["keys"],
                        a["totals"]["keys"]
                    ));
                }
                // Module values, and only they, are estimated by their
                // serialized size (but the types the model reads:
                // RedisBloom's, RedisTimeSeries' and RedisJSON's, in the
                // encodings it knows); summary.json totals them.
                let batches = read_batches(&out.join("keys.parquet"));
                let types = column_strings(&batches, "type");
                let models = column_strings(&batches, "memory_model");
                let memory = column_u64(&batches, "memory_bytes");
                let (mut n, mut bytes) = (0u64, 0u64);
                for ((t, m), b) in types.iter().zip(&models).zip(&memory) {
                    let t_name = t.as_deref().unwrap_or_default();
                    let modelled_type = [
                        "MBbloom--",
                        "MBbloomCF",
                        "TopK-TYPE",
                        "CMSk-TYPE",
                        "TSDB-TYPE",
                        "ReJSON-RL",
                    ]
                    .iter()
                    .any(|n| t_name.strip_prefix("module:") == Some(n));
                    let module = t_name.starts_with("module:") && m.as_deref() != Some("model");
                    let want = if module { "serialized" } else { "model" };
                    let loose_ok = modelled_type || !t_name.starts_with("module:");
                    if m.as_deref() != Some(want) || (!loose_ok && !module) {
                        problems.push(format!("{}: {t:?} has memory_model {m:?}", f.display()));
                    }
                    if module {
                        n += 1;
                        bytes += b;
                    }
                }
                serialized_keys += n;
                let file = &a["files"][0];
                if (
                    file["keys_serialized"].as_u64(),
                    file["memory_bytes_serialized"].as_u64(),
                ) != (Some(n), Some(bytes))
                {
                    problems.push(format!(
                        "{}: summary says {} serialized keys of {} bytes, keys.parquet {n} of {bytes}",
                        f.display(),
                        file["keys_serialized"],
                        file["memory_bytes_serialized"]
                    ));
                }
            }
            (false, Some(1)) => {
                if out.join("keys.parquet").exists() {
                    problems.push(format!("{}: failed but left keys.parquet", f.display()));
                }
            }
            (ok, code) => problems.push(format!(
                "{}: info ok={ok}, analyze exit {code:?}: {}",
                f.display(),
                String::from_utf8_lossy(&an.stderr)
            )),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(
        files.is_empty() || serialized_keys > 0,
        "no module keys in the corpus"
    );
}

/// The values of a column of every batch, as strings / u64s (nulls as "" / 0).
fn column_strings(batches: &[RecordBatch], name: &str) -> Vec<Option<String>> {
    let mut v = Vec::new();
    for b in batches {
        let c = b.column(b.schema().index_of(name).expect(name)).clone();
        let c = c.as_string::<i32>();
        v.extend((0..b.num_rows()).map(|i| c.is_valid(i).then(|| c.value(i).to_owned())));
    }
    v
}

fn column_u64(batches: &[RecordBatch], name: &str) -> Vec<u64> {
    let mut v = Vec::new();
    for b in batches {
        let c = b.column(b.schema().index_of(name).expect(name)).clone();
        let c = c.as_primitive::<UInt64Type>();
        v.extend((0..b.num_rows()).map(|i| c.value(i)));
    }
    v
}

/// Prefix analysis against a dataset built for it: the patterns (with the
/// default `--separators auto`), their key counts, memory sums that add up
/// to keys.parquet, per-prefix TTL rows, the expiry cliff minute, and
/// `--threads 1` = `--threads 2`.
#[test]
fn analyze_prefixes_and_expiry_cliffs() {
    let Some(bin) = require_server(ServerKind::Redis70) else {
        return;
    };
    let srv = bin.without_modules().start(&[]).expect("start server");
    let mut c = srv.client();
    // A minute two hours ahead: every login key expires in it.
    let cliff = (now_ms() + 2 * 3_600_000) / 60_000 * 60_000;
    let mut cmds: Vec<Cmd> = Vec::new();
    for i in 1..=500u64 {
        cmds.push(cmd_args![
            "HSET",
            format!("user:{i}:profile"),
            "name",
            format!("name-{i}"),
            "age",
            (20 + i % 50).to_string()
        ]);
    }
    for i in 0..300i64 {
        let id = format!(
            "{:016x}",
            (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15)
        );
        cmds.push(cmd_args![
            "SET",
            format!("login:{id}"),
            "token",
            "PXAT",
            (cliff + i * 100).to_string()
        ]);
    }
    for i in 0..200u64 {
        cmds.push(cmd_args![
            "SET",
            format!("cache:item:{i}"),
            "v".repeat(20 + i as usize % 30)
        ]);
    }
    // Another TTL, in another minute (a smaller cliff).
    cmds.push(cmd_args![
        "SET",
        "config",
        "1",
        "PXAT",
        (cliff + 3_600_000).to_string()
    ]);
    cmds.push(cmd_args!["SET", "config:max_users", "1000"]);
    cmds.push(cmd_args!["SET", "config:feature_flags", "dark_mode"]);
    cmds.push(cmd_args!["HSET", "config:version", "major", "1"]);
    c.pipeline_must(&cmds);
    let rdb = srv.save();

    let tmp = testkit::temp_dir("analyze-prefixes");
    let (out1, out2) = (tmp.join("t1"), tmp.join("t2"));
    let started = std::time::Instant::now();
    let summary = analyze(&rdb, &out1, &["--threads", "1"]);
    analyze(&rdb, &out2, &["--threads", "2"]);
    eprintln!("two analyze runs: {:?}", started.elapsed());

    let prefixes = read_batches(&out1.join("prefixes.parquet"));
    let patterns = column_strings(&prefixes, "pattern");
    let keys = column_u64(&prefixes, "keys");
    let memory = column_u64(&prefixes, "memory_bytes");
    let mut depth = Vec::new();
    for b in &prefixes {
        let c = b.column(b.schema().index_of("depth").unwrap()).clone();
        let c = c.as_primitive::<Int32Type>();
        depth.extend((0..b.num_rows()).map(|i| c.value(i)));
    }
    let mut got: Vec<(String, i32, u64)> = patterns
        .iter()
        .zip(&depth)
        .zip(&keys)
        .map(|((p, d), k)| (p.clone().unwrap(), *d, *k))
        .collect();
    got.sort();
    let mut expected: Vec<(String, i32, u64)> = [
        ("cache", 1, 200),
        ("cache:item", 2, 200),
        ("cache:item:*", 3, 200),
        ("config", 1, 4),
        ("config:feature_flags", 2, 1),
        ("config:max_users", 2, 1),
        ("config:version", 2, 1),
        ("login", 1, 300),
        ("login:*", 2, 300),
        ("user", 1, 500),
        ("user:*", 2, 500),
        ("user:*:profile", 3, 500),
    ]
    .iter()
    .map(|(p, d, k)| (p.to_string(), *d, *k))
    .collect();
    expected.sort();
    assert_eq!(got, expected, "prefixes.parquet rows");

    // keys.parquet's prefix column holds each key's full pattern, and a
    // node's memory is the sum of the memory of the keys under it.
    let kb = read_batches(&out1.join("keys.parquet"));
    let key_prefix = column_strings(&kb, "prefix");
    let key_mem = column_u64(&kb, "memory_bytes");
    let mut key_names = Vec::new();
    for b in &kb {
        let c = b.column(b.schema().index_of("key").unwrap()).clone();
        let c = c.as_binary::<i32>();
        key_names
            .extend((0..b.num_rows()).map(|i| String::from_utf8(c.value(i).to_vec()).unwrap()));
    }
    let mut node_mem: BTreeMap<String, u64> = BTreeMap::new();
    for ((k, p), m) in key_names.iter().zip(&key_prefix).zip(&key_mem) {
        let p = p.as_deref().expect("prefix is set");
        let full = if k.starts_with("user:") {
            "user:*:profile"
        } else if k.starts_with("login:") {
            "login:*"
        } else if k.starts_with("cache:item:") {
            "cache:item:*"
        } else {
            k.as_str()
        };
        assert_eq!(p, full, "prefix of {k}");
        for (i, ch) in p.char_indices() {
            if ch == ':' {
                *node_mem.entry(p[..i].to_owned()).or_default() += m;
            }
        }
        *node_mem.entry(p.to_owned()).or_default() += m;
    }
    for (p, m) in patterns.iter().zip(&memory) {
        let p = p.as_deref().unwrap();
        assert_eq!(node_mem.get(p), Some(m), "memory_bytes of {p}");
    }
    let total: u64 = key_mem.iter().sum();
    let share = read_batches(&out1.join("prefixes.parquet"));
    let b = &share[0];
    let sm = b
        .column(b.schema().index_of("share_of_memory").unwrap())
        .clone();
    let sm = sm.as_primitive::<analyzer::reexports::arrow_array::types::Float64Type>();
    let row = patterns
        .iter()
        .position(|p| p.as_deref() == Some("user"))
        .unwrap();
    assert!((sm.value(row) - memory[row] as f64 / total as f64).abs() < 1e-9);

    // Per-prefix TTL rows: the 300 login tokens are in the 1h-1d bucket.
    let exp = read_batches(&out1.join("expiry.parquet"));
    let (ep, eb, ek) = (
        column_strings(&exp, "prefix"),
        column_strings(&exp, "bucket"),
        column_u64(&exp, "keys"),
    );
    let find = |prefix: Option<&str>, bucket: &str| {
        (0..ep.len())
            .find(|&i| ep[i].as_deref() == prefix && eb[i].as_deref() == Some(bucket))
            .map(|i| ek[i])
    };
    assert_eq!(find(None, "1h-1d"), Some(301));
    assert_eq!(find(Some("login"), "1h-1d"), Some(300));
    assert_eq!(find(Some("login:*"), "1h-1d"), Some(300));
    assert_eq!(find(Some("user"), "no_ttl"), Some(500));
    assert_eq!(find(Some("config"), "1h-1d"), Some(1));

    // The cliff: all 300 login tokens expire in one minute.
    let cliffs = read_batches(&out1.join("expiry_cliffs.parquet"));
    let cb = &cliffs[0];
    let minute = cb
        .column(cb.schema().index_of("minute_start_ms").unwrap())
        .clone();
    let minute = minute.as_primitive::<Int64Type>();
    assert_eq!(cb.num_rows(), 2);
    assert_eq!(minute.value(0), cliff);
    assert_eq!(column_u64(&cliffs, "keys"), [300, 1]);
    let file = &summary["files"][0];
    assert_eq!(file["expiry_cliffs"][0]["minute_start_ms"], cliff);
    assert_eq!(file["expiry_cliffs"][0]["keys"], 300);
    let top = file["top_prefixes"].as_array().unwrap();
    assert!(top
        .iter()
        .any(|p| p["pattern"] == "user:*:profile" && p["keys"] == 500));

    // Threads change nothing.
    for table in ["prefixes", "expiry", "expiry_cliffs"] {
        let name = format!("{table}.parquet");
        assert_eq!(
            read_batches(&out1.join(&name)),
            read_batches(&out2.join(&name)),
            "{name}: --threads 1 vs 2"
        );
    }

    // A tiny cap coarsens the table, the same way with 1 and 2 threads;
    // keys.parquet keeps the full patterns.
    let (out3, out4) = (tmp.join("t3"), tmp.join("t4"));
    analyze(&rdb, &out3, &["--threads", "1", "--prefix-cap", "4"]);
    analyze(&rdb, &out4, &["--threads", "2", "--prefix-cap", "4"]);
    let small = read_batches(&out3.join("prefixes.parquet"));
    assert_eq!(small, read_batches(&out4.join("prefixes.parquet")));
    let mut small_patterns: Vec<String> = column_strings(&small, "pattern")
        .into_iter()
        .flatten()
        .collect();
    small_patterns.sort();
    assert_eq!(small_patterns, ["cache", "config", "login", "user"]);
    assert_eq!(
        column_strings(&read_batches(&out3.join("keys.parquet")), "prefix").len(),
        key_prefix.len()
    );
}

/// keys.parquet is written under a temporary name and renamed once
/// complete: a run into the same directory replaces it whole, and a run
/// that fails (a truncated file) leaves the previous one as it was and
/// nothing partial.
#[test]
fn analyze_replaces_keys_parquet_only_when_complete() {
    let Some(bin) = require_server(ServerKind::Redis70) else {
        return;
    };
    let tmp = testkit::temp_dir("analyze-replace");
    let srv = bin.start(&[]).expect("start server");
    let mut c = srv.client();
    let cmds: Vec<Cmd> = (0..3000)
        .map(|i| cmd_args!["SET", format!("key:{i}"), format!("value-{i}")])
        .collect();
    c.pipeline_must(&cmds);
    let rdb = srv.save();
    let out = tmp.join("out");
    analyze(&rdb, &out, &[]);
    let keys = out.join("keys.parquet");
    assert_eq!(read_keys(&keys).len(), 3000);
    // Fewer keys: the second run's file replaces the first's.
    c.must(&["FLUSHALL"]);
    let cmds: Vec<Cmd> = (0..1000)
        .map(|i| cmd_args!["SET", format!("other:{i}"), "v"])
        .collect();
    c.pipeline_must(&cmds);
    let rdb = srv.save();
    analyze(&rdb, &out, &[]);
    let before = std::fs::read(&keys).expect("keys.parquet");
    assert_eq!(read_keys(&keys).len(), 1000);
    // The first file was moved aside, then removed.
    let listing = || -> Vec<String> {
        std::fs::read_dir(&out)
            .expect("out")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect()
    };
    let names = listing();
    assert!(
        names.iter().all(|n| !n.contains("superseded")),
        "left behind: {names:?}"
    );
    let data = std::fs::read(&rdb).expect("dump");
    let cut = tmp.join("cut.rdb");
    std::fs::write(&cut, &data[..data.len() * 3 / 4]).expect("write");
    let o = Command::new(env!("CARGO_BIN_EXE_rdbscope"))
        .arg("analyze")
        .arg(&cut)
        .arg("--out")
        .arg(&out)
        .output()
        .expect("run rdbscope");
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(std::fs::read(&keys).expect("keys.parquet"), before);
    let names = listing();
    assert!(
        names
            .iter()
            .all(|n| !n.contains("partial") && !n.contains("superseded")),
        "left behind: {names:?}"
    );
}
