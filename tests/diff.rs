//! `rdbscope diff`: two snapshots of a real Redis 7.0, before and after
//! known writes (10,000 `new:*` keys added, the `tmp:*` prefix deleted,
//! one hash grown), compared as RDB files and as analysis directories
//! (NEW analyzed with --no-keys); the diff reports exactly those changes,
//! and diff.json and diff.parquet agree. Missing inputs: exit 1 naming
//! the path.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use analyzer::reexports::arrow_array::cast::AsArray;
use analyzer::reexports::arrow_array::types::{Int32Type, Int64Type, UInt64Type};
use analyzer::reexports::arrow_array::RecordBatch;
use analyzer::reexports::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value;
use testkit::{cmd_args, require_server, ServerKind};

fn rdbscope<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rdbscope"))
        .args(args)
        .output()
        .expect("run rdbscope")
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "rdbscope failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Keys of the base dataset per prefix.
const USERS: usize = 200;
const CACHE: usize = 300;
const TMP: usize = 500;
const ORDERS: usize = 400;
const NEW: usize = 10_000;
const HASH_BEFORE: usize = 10;
const HASH_AFTER: usize = 3000;

/// OLD and NEW dumps of one server: the base dataset, then the writes.
fn snapshots(dir: &Path) -> Option<(PathBuf, PathBuf)> {
    let bin = require_server(ServerKind::Redis70)?;
    let srv = bin.start(&[]).expect("start server");
    let mut c = srv.client();
    let mut cmds = Vec::new();
    for i in 0..USERS {
        cmds.push(cmd_args![
            "HSET",
            format!("user:{i}:profile"),
            "name",
            format!("n{i}"),
            "age",
            "33"
        ]);
    }
    for i in 0..CACHE {
        cmds.push(cmd_args![
            "SET",
            format!("cache:{i}"),
            "x".repeat(40),
            "EX",
            "86400"
        ]);
    }
    for i in 0..TMP {
        cmds.push(cmd_args!["SET", format!("tmp:{i}"), "t".repeat(100)]);
    }
    for i in 0..ORDERS {
        cmds.push(cmd_args!["SET", format!("order:{i}"), format!("{i}-paid")]);
    }
    for f in 0..HASH_BEFORE {
        cmds.push(cmd_args!["HSET", "config:main", format!("f{f}"), "v"]);
    }
    c.pipeline_must(&cmds);
    std::fs::create_dir_all(dir).unwrap();
    let old = dir.join("old.rdb");
    std::fs::copy(srv.save(), &old).unwrap();

    let mut cmds = Vec::new();
    for i in 0..NEW {
        // Longer than every other string: the top strings after.
        cmds.push(cmd_args!["SET", format!("new:{i}"), format!("v{i:059}")]);
    }
    for i in 0..TMP {
        cmds.push(cmd_args!["DEL", format!("tmp:{i}")]);
    }
    for f in HASH_BEFORE..HASH_AFTER {
        cmds.push(cmd_args![
            "HSET",
            "config:main",
            format!("f{f}"),
            "v".repeat(30)
        ]);
    }
    c.pipeline_must(&cmds);
    let new = dir.join("new.rdb");
    std::fs::copy(srv.save(), &new).unwrap();
    Some((old, new))
}

fn json_of(stdout: &str) -> Value {
    serde_json::from_str(stdout).expect("diff --json prints JSON")
}

/// The pattern row of `pattern` at `depth` in diff.json.
fn row<'a>(d: &'a Value, pattern: &str, depth: u64) -> &'a Value {
    d["prefixes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["pattern"] == pattern && r["depth"] == depth)
        .unwrap_or_else(|| panic!("no row {pattern} at depth {depth}"))
}

/// Checks the pattern rows against the writes made.
fn check_patterns(d: &Value) {
    for (p, depth) in [("new", 1), ("new:*", 2)] {
        let r = row(d, p, depth);
        assert_eq!(r["keys_before"], 0, "{p}");
        assert_eq!(r["keys_after"], NEW as u64, "{p}");
        assert_eq!(r["keys_delta"], NEW as i64, "{p}");
        assert_eq!(r["memory_bytes_before"], 0, "{p}");
        assert!(r["memory_bytes_delta"].as_i64().unwrap() > 0, "{p}");
        assert_eq!(r["status"], "new", "{p}");
        assert!(r["memory_delta_pct"].is_null(), "{p}");
    }
    for (p, depth) in [("tmp", 1), ("tmp:*", 2)] {
        let r = row(d, p, depth);
        assert_eq!(r["keys_before"], TMP as u64, "{p}");
        assert_eq!(r["keys_after"], 0, "{p}");
        assert_eq!(r["keys_delta"], -(TMP as i64), "{p}");
        assert_eq!(r["status"], "vanished", "{p}");
        assert_eq!(r["memory_delta_pct"], -100.0, "{p}");
    }
    for (p, depth) in [("config", 1), ("config:main", 2)] {
        let r = row(d, p, depth);
        assert_eq!(r["keys_delta"], 0, "{p}");
        assert!(r["memory_bytes_delta"].as_i64().unwrap() > 0, "{p}");
        assert_eq!(r["status"], "changed", "{p}");
    }
    for (p, depth) in [
        ("user", 1),
        ("user:*", 2),
        ("user:*:profile", 3),
        ("cache", 1),
        ("order", 1),
        ("order:*", 2),
    ] {
        let r = row(d, p, depth);
        assert_eq!(r["keys_delta"], 0, "{p}");
        assert_eq!(r["memory_bytes_delta"], 0, "{p}");
        assert_eq!(r["rdb_bytes_delta"], 0, "{p}");
        assert_eq!(r["status"], "unchanged", "{p}");
    }
    // Nothing else changed.
    for r in d["prefixes"].as_array().unwrap() {
        let p = r["pattern"].as_str().unwrap();
        if r["status"] != "unchanged" {
            assert!(
                p.starts_with("new") || p.starts_with("tmp") || p.starts_with("config"),
                "unexpected change {r}"
            );
        }
    }
    let t = &d["totals"];
    assert_eq!(t["keys_delta"], NEW as i64 - TMP as i64);
    assert_eq!(t["expires_delta"], 0);
    let top: Vec<&str> = d["top_growth"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["pattern"].as_str().unwrap())
        .collect();
    assert_eq!(top, ["new:*", "config:main"]);
    assert_eq!(d["new_prefixes"][0]["pattern"], "new:*");
    assert_eq!(d["vanished_prefixes"][0]["pattern"], "tmp:*");
    let strings: i64 = d["types"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["type"] == "string")
        .map(|r| r["keys_delta"].as_i64().unwrap())
        .sum();
    assert_eq!(strings, NEW as i64 - TMP as i64);
    let no_ttl = d["expiry"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["bucket"] == "no_ttl")
        .unwrap();
    assert_eq!(no_ttl["keys_delta"], NEW as i64 - TMP as i64);
    let db0 = &d["dbs"][0];
    assert_eq!(db0["db"], 0);
    assert_eq!(db0["keys_delta"], NEW as i64 - TMP as i64);
}

/// The big-key changes: `config:main` grew; every other change is a
/// `new:*` key that appeared or a `tmp:*` key that went: `new` when OLD
/// has keys.parquet to say it was absent (else `entered_top`), `vanished`
/// when NEW has keys.parquet to say it is gone (else `left_top`).
fn check_big_keys(d: &Value, old_keys: bool, new_keys: bool) {
    let keys = d["big_keys"].as_array().unwrap();
    let hash = keys
        .iter()
        .find(|k| k["key"] == "config:main")
        .expect("the grown hash is a big-key change");
    assert_eq!(hash["change"], "grown");
    assert_eq!(hash["after"]["elements"], HASH_AFTER as u64);
    assert_eq!(hash["before"]["elements"], HASH_BEFORE as u64);
    assert!(hash["memory_bytes_delta"].as_i64().unwrap() > 0);
    let appeared = if old_keys { "new" } else { "entered_top" };
    let went = if new_keys { "vanished" } else { "left_top" };
    let mut seen = BTreeMap::new();
    for k in keys {
        let name = k["key"].as_str().unwrap();
        let change = k["change"].as_str().unwrap();
        *seen.entry(change.to_owned()).or_insert(0) += 1;
        match change {
            "grown" => assert_eq!(name, "config:main"),
            c if c == appeared => {
                assert!(name.starts_with("new:"), "{k}");
                assert_eq!(k["after"]["type"], "string");
            }
            c if c == went => assert!(name.starts_with("tmp:"), "{k}"),
            _ => panic!("unexpected big-key change {k}"),
        }
    }
    assert!(seen.contains_key(appeared), "{seen:?}");
    assert!(seen.contains_key(went), "{seen:?}");
    assert_eq!(d["per_key_diffs"], old_keys && new_keys);
}

fn batches(path: &Path) -> Vec<RecordBatch> {
    ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).expect(".parquet"))
        .unwrap()
        .build()
        .unwrap()
        .map(|b| b.unwrap())
        .collect()
}

/// diff.parquet's rows, keyed by (pattern, depth): keys and memory before
/// and after, memory delta, status.
type PatternRows = BTreeMap<(String, i64), (u64, u64, u64, u64, i64, String)>;

fn parquet_rows(path: &Path) -> PatternRows {
    let mut out = BTreeMap::new();
    for b in batches(path) {
        let s = |n: &str| b.column_by_name(n).unwrap().as_string::<i32>().clone();
        let u = |n: &str| {
            b.column_by_name(n)
                .unwrap()
                .as_primitive::<UInt64Type>()
                .clone()
        };
        let (pattern, status) = (s("pattern"), s("status"));
        let depth = b
            .column_by_name("depth")
            .unwrap()
            .as_primitive::<Int32Type>()
            .clone();
        let delta = b
            .column_by_name("memory_bytes_delta")
            .unwrap()
            .as_primitive::<Int64Type>()
            .clone();
        let (kb, ka) = (u("keys_before"), u("keys_after"));
        let (mb, ma) = (u("memory_bytes_before"), u("memory_bytes_after"));
        for i in 0..b.num_rows() {
            out.insert(
                (pattern.value(i).to_owned(), i64::from(depth.value(i))),
                (
                    kb.value(i),
                    ka.value(i),
                    mb.value(i),
                    ma.value(i),
                    delta.value(i),
                    status.value(i).to_owned(),
                ),
            );
        }
    }
    out
}

fn json_rows(d: &Value) -> PatternRows {
    assert_eq!(d["prefixes_truncated"], false);
    d["prefixes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let u = |n: &str| r[n].as_u64().unwrap();
            (
                (
                    r["pattern"].as_str().unwrap().to_owned(),
                    r["depth"].as_i64().unwrap(),
                ),
                (
                    u("keys_before"),
                    u("keys_after"),
                    u("memory_bytes_before"),
                    u("memory_bytes_after"),
                    r["memory_bytes_delta"].as_i64().unwrap(),
                    r["status"].as_str().unwrap().to_owned(),
                ),
            )
        })
        .collect()
}

/// Every output written, diff.json equal to what --json printed, and the
/// page self-contained with the changed patterns in it.
fn check_outputs(out: &Path, d: &Value) {
    let file: Value =
        serde_json::from_slice(&std::fs::read(out.join("diff.json")).unwrap()).unwrap();
    assert_eq!(&file, d);
    assert_eq!(parquet_rows(&out.join("diff.parquet")), json_rows(d));
    let keys: usize = batches(&out.join("diff_bigkeys.parquet"))
        .iter()
        .map(RecordBatch::num_rows)
        .sum();
    assert_eq!(keys, d["big_keys"].as_array().unwrap().len());
    for t in ["types", "expiry", "dbs", "slots"] {
        let rows: usize = batches(&out.join(format!("diff_{t}.parquet")))
            .iter()
            .map(RecordBatch::num_rows)
            .sum();
        assert!(rows > 0, "diff_{t}.parquet");
    }
    let html = std::fs::read_to_string(out.join("diff.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    for s in [
        "<code>new:*</code>",
        "<code>tmp:*</code>",
        "<code>config:main</code>",
    ] {
        assert!(html.contains(s), "{s}");
    }
    let lower = html.to_ascii_lowercase();
    for bad in ["src=\"http", "href=\"http", "src=\"//", "<link", "@import"] {
        assert!(!lower.contains(bad), "{bad}");
    }
    assert!(std::fs::read_to_string(out.join("diff.txt"))
        .unwrap()
        .contains("top growth: `new:*` +"));
}

#[test]
fn diff_reports_exactly_the_writes_between_two_snapshots() {
    let tmp = testkit::temp_dir("diff");
    let Some((old, new)) = snapshots(&tmp.join("dumps")) else {
        return;
    };
    // Two RDB files, analyzed on the fly (with keys.parquet: per-key diffs).
    let out = tmp.join("rdb-diff");
    let text = ok(&rdbscope(&[
        "diff".as_ref(),
        old.as_os_str(),
        new.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]));
    assert!(text.contains("top growth: `new:*` +"), "{text}");
    assert!(text.contains("keys 0 → 10,000 (+10,000)"), "{text}");
    assert!(text.contains("vanished prefixes: `tmp:*` -"), "{text}");
    let left: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(left.is_empty(), "analyses left behind: {left:?}");
    let o = rdbscope(&[
        "diff".as_ref(),
        old.as_os_str(),
        new.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
        "--json".as_ref(),
    ]);
    let by_files = json_of(&ok(&o));
    check_patterns(&by_files);
    check_big_keys(&by_files, true, true);
    check_outputs(&out, &by_files);

    // Two analysis directories, NEW without keys.parquet: the same
    // patterns, big keys compared by the top lists only.
    let (a, b) = (tmp.join("old-analysis"), tmp.join("new-analysis"));
    ok(&rdbscope(&[
        "analyze".as_ref(),
        old.as_os_str(),
        "--out".as_ref(),
        a.as_os_str(),
    ]));
    ok(&rdbscope(&[
        "analyze".as_ref(),
        new.as_os_str(),
        "--out".as_ref(),
        b.as_os_str(),
        "--no-keys".as_ref(),
    ]));
    let out2 = tmp.join("dir-diff");
    let by_dirs = json_of(&ok(&rdbscope(&[
        "diff".as_ref(),
        a.as_os_str(),
        b.as_os_str(),
        "--out".as_ref(),
        out2.as_os_str(),
        "--json".as_ref(),
    ])));
    check_patterns(&by_dirs);
    check_big_keys(&by_dirs, true, false);
    check_outputs(&out2, &by_dirs);
    assert_eq!(by_dirs["prefixes"], by_files["prefixes"]);
    assert_eq!(by_dirs["totals"], by_files["totals"]);
    assert!(by_dirs["notes"].as_array().unwrap().iter().any(|n| n
        .as_str()
        .unwrap()
        .contains("per-key diffs are not available")));
    let html = std::fs::read_to_string(out2.join("diff.html")).unwrap();
    assert!(html.contains("Per-key diffs are not available"));

    // A side of several files (OLD twice, as two nodes): every count doubles.
    let out3 = tmp.join("set-diff");
    let sets = json_of(&ok(&rdbscope(&[
        "diff".as_ref(),
        "--old".as_ref(),
        old.as_os_str(),
        "--old".as_ref(),
        old.as_os_str(),
        "--new".as_ref(),
        new.as_os_str(),
        "--out".as_ref(),
        out3.as_os_str(),
        "--json".as_ref(),
        "--no-keys".as_ref(),
    ])));
    assert_eq!(sets["old"]["files"].as_array().unwrap().len(), 2);
    let r = row(&sets, "order", 1);
    assert_eq!(r["keys_before"], 2 * ORDERS as u64);
    assert_eq!(r["keys_delta"], -(ORDERS as i64));
}

#[test]
fn missing_or_mismatched_inputs_exit_1_naming_the_file() {
    let tmp = testkit::temp_dir("diff-errors");
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/sample.rdb");
    let out = tmp.join("out");
    let missing = tmp.join("no-such-dir");
    let o = rdbscope(&[
        "diff".as_ref(),
        missing.as_os_str(),
        sample.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("OLD: {}: missing", missing.display())),
        "{err}"
    );
    assert!(!out.join("diff.json").exists());

    // A directory that is not an analysis: its summary.json is named.
    let empty = tmp.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let o = rdbscope(&[
        "diff".as_ref(),
        sample.as_os_str(),
        empty.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    let want = format!("NEW: {}: missing", empty.join("summary.json").display());
    assert!(err.contains(&want), "{err}");

    // An analysis missing one table: that table is named.
    let part = tmp.join("part");
    ok(&rdbscope(&[
        "analyze".as_ref(),
        sample.as_os_str(),
        "--out".as_ref(),
        part.as_os_str(),
    ]));
    std::fs::remove_file(part.join("prefixes.parquet")).unwrap();
    let o = rdbscope(&[
        "diff".as_ref(),
        part.as_os_str(),
        sample.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    let want = format!("OLD: {}: missing", part.join("prefixes.parquet").display());
    assert!(err.contains(&want), "{err}");

    // Neither a directory nor an RDB file, against an RDB file.
    let text = tmp.join("notes.txt");
    std::fs::write(&text, "hello").unwrap();
    let o = rdbscope(&[
        "diff".as_ref(),
        text.as_os_str(),
        sample.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("neither an analysis output directory nor an RDB file")
            && err.contains("(NEW is an RDB file)")
            && err.contains(&text.display().to_string()),
        "{err}"
    );
    assert!(!out.join("diff.json").exists());

    // One side only: a usage error (exit 2).
    let o = rdbscope(&["diff".as_ref(), sample.as_os_str()]);
    assert_eq!(o.status.code(), Some(2));
}

/// The same data in a Redis 6.2 and a Valkey 9 (RDB 9 against
/// `VALKEY080`), plus 50 `extra:*` keys in the Valkey: patterns match
/// across the versions, only `extra` is new, and a note says the memory
/// models differ.
#[test]
fn diff_across_server_versions() {
    let tmp = testkit::temp_dir("diff-versions");
    let mut dumps = Vec::new();
    for (kind, extra) in [(ServerKind::Redis62, 0), (ServerKind::Valkey9, 50)] {
        let Some(bin) = require_server(kind) else {
            return;
        };
        let srv = bin.start(&[]).expect("start server");
        let mut cmds = Vec::new();
        for i in 0..100 {
            cmds.push(cmd_args!["HSET", format!("user:{i}:profile"), "name", "n"]);
            cmds.push(cmd_args!["SET", format!("order:{i}"), "x".repeat(30)]);
            cmds.push(cmd_args![
                "RPUSH",
                format!("queue:{}", i % 5),
                format!("job{i}")
            ]);
        }
        for i in 0..extra {
            cmds.push(cmd_args!["SET", format!("extra:{i}"), "e"]);
        }
        srv.client().pipeline_must(&cmds);
        let path = tmp.join(format!("{}.rdb", kind.name()));
        std::fs::copy(srv.save(), &path).unwrap();
        dumps.push(path);
    }
    let out = tmp.join("out");
    let d = json_of(&ok(&rdbscope(&[
        "diff".as_ref(),
        dumps[0].as_os_str(),
        dumps[1].as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
        "--json".as_ref(),
    ])));
    assert!(d["old"]["files"][0]["server"]
        .as_str()
        .unwrap()
        .starts_with("Redis 6.2"));
    assert!(d["new"]["files"][0]["server"]
        .as_str()
        .unwrap()
        .starts_with("Valkey 9"));
    assert!(
        d["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().starts_with("memory is modelled for")),
        "{}",
        d["notes"]
    );
    for r in d["prefixes"].as_array().unwrap() {
        let p = r["pattern"].as_str().unwrap();
        if p.starts_with("extra") {
            assert_eq!(r["status"], "new");
            assert_eq!(r["keys_after"], 50);
        } else {
            assert_eq!(r["keys_delta"], 0, "{r}");
            assert!(r["keys_before"].as_u64().unwrap() > 0, "{r}");
        }
    }
    assert_eq!(row(&d, "queue:*", 2)["keys_after"], 5);
    assert_eq!(d["totals"]["keys_delta"], 50);
    assert_eq!(d["new_prefixes"][0]["pattern"], "extra:*");
}
