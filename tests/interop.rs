//! A data team's view: the Parquet outputs read by DuckDB and pyarrow (from
//! PyPI, installed by `.ci/run`), with SQL answers checked against what
//! rdbscope itself reports (summary.json, `info --json`).

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// Runs a Python snippet; `None` (with a loud SKIP) when duckdb/pyarrow are
/// missing outside CI. In CI they must be there.
fn python(script: &str) -> Option<Value> {
    let probe = Command::new("python3")
        .args(["-c", "import duckdb, pyarrow"])
        .output();
    if !probe.as_ref().is_ok_and(|o| o.status.success()) {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install duckdb and pyarrow (python3 -m pip install duckdb pyarrow)"
        );
        eprintln!("SKIP: python3 with duckdb and pyarrow not found; run: python3 -m pip install duckdb pyarrow");
        return None;
    }
    let out = Command::new("python3")
        .args(["-c", script])
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).expect("python printed JSON"))
}

fn analyze(rdb: &Path, out: &Path) {
    let st = Command::new(env!("CARGO_BIN_EXE_rdbscope"))
        .arg("analyze")
        .arg(rdb)
        .arg("--out")
        .arg(out)
        .arg("--format")
        .arg("json")
        .output()
        .expect("run rdbscope analyze");
    assert!(
        st.status.success(),
        "analyze failed: {}",
        String::from_utf8_lossy(&st.stderr)
    );
}

#[test]
fn duckdb_and_pyarrow_read_every_output() {
    let rdb = testkit::workspace_root().join("testdata/sample.rdb");
    let dir = testkit::temp_dir("interop");
    analyze(&rdb, dir.path());
    let summary: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("summary.json")).unwrap()).unwrap();
    let info = Command::new(env!("CARGO_BIN_EXE_rdbscope"))
        .arg("info")
        .arg(&rdb)
        .arg("--json")
        .output()
        .unwrap();
    let info: Value = serde_json::from_slice(&info.stdout).unwrap();
    let d = dir.path().display().to_string();
    let script = format!(
        r#"
import duckdb, pyarrow.parquet as pq, json, glob, os
d = {d:?}
con = duckdb.connect()
q = lambda s: con.sql(s.replace('DIR', d)).fetchall()
res = {{}}
res['totals'] = q("select count(*), sum(memory_bytes), sum(rdb_bytes), count(expire_at_ms) from 'DIR/keys.parquet'")[0]
res['per_db'] = dict(q("select db, count(*) from 'DIR/keys.parquet' group by db"))
res['per_type_keys'] = dict(q("select type, count(*) from 'DIR/keys.parquet' group by type"))
res['types_table'] = dict(q("select type, sum(keys) from 'DIR/types.parquet' group by type"))
res['types_memory'] = q("select sum(memory_bytes) from 'DIR/types.parquet'")[0][0]
res['dbs_table'] = dict(q("select db, keys from 'DIR/dbs.parquet'"))
res['slots_keys'] = q("select sum(keys) from 'DIR/slots.parquet'")[0][0]
res['user_profiles'] = q("select count(*) from 'DIR/keys.parquet' where starts_with(decode(key), 'user:') and type = 'hash'")[0][0]
res['prefix_depth1_keys'] = q("select sum(keys) from 'DIR/prefixes.parquet' where depth = 1")[0][0]
res['user_pattern'] = q("select keys, memory_bytes from 'DIR/prefixes.parquet' where pattern = 'user:*:profile'")[0]
res['user_pattern_from_keys'] = q("select count(*), sum(memory_bytes) from 'DIR/keys.parquet' where prefix = 'user:*:profile'")[0]
res['expiry_overall'] = q("select sum(keys) from 'DIR/expiry.parquet' where prefix is null")[0][0]
res['biggest'] = q("select decode(key), memory_bytes from 'DIR/keys.parquet' order by memory_bytes desc limit 1")[0]
rows = {{}}
for f in sorted(glob.glob(os.path.join(d, '*.parquet'))):
    name = os.path.basename(f)
    rows[name] = [pq.read_table(f).num_rows, q(f"select count(*) from '{{f}}'")[0][0]]
res['rows'] = rows
print(json.dumps(res, default=str))
"#
    );
    let Some(r) = python(&script) else { return };
    let totals = &summary["totals"];
    assert_eq!(r["totals"][0], totals["keys"], "row count of keys.parquet");
    assert_eq!(
        r["totals"][1], totals["memory_bytes_estimate"],
        "memory sum"
    );
    assert_eq!(r["totals"][2], totals["rdb_bytes"], "rdb_bytes sum");
    assert_eq!(r["totals"][3], totals["expires"], "keys with a TTL");
    // Keys per db agree with `info --json` and with dbs.parquet.
    for db in info["dbs"].as_array().unwrap() {
        let n = &db["keys"];
        let id = db["db"].to_string();
        assert_eq!(&r["per_db"][&id], n, "db {id} in keys.parquet");
        assert_eq!(&r["dbs_table"][&id], n, "db {id} in dbs.parquet");
    }
    assert_eq!(
        r["per_type_keys"], r["types_table"],
        "types.parquet agrees with keys.parquet"
    );
    assert_eq!(r["types_memory"], totals["memory_bytes_estimate"]);
    assert_eq!(r["slots_keys"], totals["keys"], "every key is in a slot");
    assert_eq!(
        r["user_profiles"], 600,
        "the sample holds 600 user:<n>:profile hashes"
    );
    assert_eq!(r["biggest"][0], "bigstring");
    // Prefixes: the depth-1 patterns partition the keys; a pattern's row
    // agrees with the keys carrying it; overall TTL rows cover every key.
    assert_eq!(r["prefix_depth1_keys"], totals["keys"]);
    assert_eq!(r["user_pattern"][0], 600);
    assert_eq!(r["user_pattern"], r["user_pattern_from_keys"]);
    assert_eq!(r["expiry_overall"], totals["keys"]);
    // The sample has no LFU/LRU data: the summary must say why hot keys are empty.
    let note = summary["files"][0]["hot_keys_note"]
        .as_str()
        .unwrap_or_default();
    assert!(note.contains("maxmemory-policy"), "hot_keys_note: {note:?}");
    // pyarrow and DuckDB read every file, with the same row counts.
    let rows = r["rows"].as_object().unwrap();
    for name in [
        "keys.parquet",
        "types.parquet",
        "dbs.parquet",
        "expiry.parquet",
        "slots.parquet",
        "bigkeys.parquet",
        "hotkeys.parquet",
    ] {
        let pair = rows.get(name).unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!(pair[0], pair[1], "{name}: pyarrow and DuckDB disagree");
    }
    assert_eq!(rows["keys.parquet"][0], totals["keys"]);
}

/// Runs `rdbscope analyze` with `args`, returning its output.
fn rdbscope(args: &[&OsStr]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rdbscope"))
        .arg("analyze")
        .args(args)
        .output()
        .expect("run rdbscope analyze")
}

/// Whether `s` looks like a `YYYY-MM-DD` partition value (DuckDB checks
/// the date itself against the ctime in the fleet test).
fn is_date(s: &str) -> bool {
    s.len() == 10 && s.as_bytes()[4] == b'-' && s.as_bytes()[7] == b'-'
}

/// The fleet layout: two snapshots (the sample and one saved by a real
/// server) analyzed into one DIR with `--layout hive` read back by DuckDB as
/// one dataset, partitioned by snapshot_date and source.
#[test]
fn hive_layout_is_one_dataset_for_duckdb() {
    use testkit::{cmd_args, require_server, ServerKind};
    let Some(bin) = require_server(ServerKind::Redis70) else {
        return;
    };
    let srv = bin.without_modules().start(&[]).expect("start server");
    let mut c = srv.client();
    let cmds: Vec<_> = (0..1234u64)
        .map(|i| {
            cmd_args![
                "SET",
                format!("fleetcheck:{i}"),
                "x".repeat(10 + i as usize % 40)
            ]
        })
        .collect();
    c.pipeline_must(&cmds);
    let saved = srv.save();
    let dir = testkit::temp_dir("hive");
    let out = dir.join("fleet");
    let sample = testkit::workspace_root().join("testdata/sample.rdb");
    // The source name holds characters Hive escapes (`/`, `:`).
    let runs = [
        (sample.as_path(), None),
        (saved.as_path(), Some("shop/node:1")),
    ];
    let mut expected = Vec::new();
    for (rdb, name) in runs {
        let mut args = vec![
            rdb.as_os_str(),
            OsStr::new("--out"),
            out.as_os_str(),
            OsStr::new("--layout"),
            OsStr::new("hive"),
            OsStr::new("--format"),
            OsStr::new("json"),
        ];
        if let Some(n) = name {
            args.extend([OsStr::new("--source-name"), OsStr::new(n)]);
        }
        let st = rdbscope(&args);
        assert!(
            st.status.success(),
            "analyze --layout hive failed: {}",
            String::from_utf8_lossy(&st.stderr)
        );
        let summary: Value = serde_json::from_slice(&st.stdout).expect("summary JSON");
        let file = &summary["files"][0];
        expected.push((
            name.unwrap_or("sample").to_string(),
            file["ctime"].as_i64().expect("both files have a ctime"),
            summary["totals"]["keys"].clone(),
            summary["totals"]["memory_bytes_estimate"].clone(),
        ));
    }
    // Each partition holds that run's summary.json and report.html too.
    let partitions: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .flat_map(|d| std::fs::read_dir(d.unwrap().path()).unwrap())
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(partitions.len(), 2, "{partitions:?}");
    for p in &partitions {
        let leaf = p.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            leaf == "source=sample" || leaf == "source=shop%2Fnode%3A1",
            "{leaf}"
        );
        let date = p.parent().unwrap().file_name().unwrap().to_string_lossy();
        assert!(
            is_date(date.strip_prefix("snapshot_date=").unwrap()),
            "{date}"
        );
        for f in [
            "keys.parquet",
            "prefixes.parquet",
            "summary.json",
            "report.html",
        ] {
            assert!(p.join(f).is_file(), "{} missing", p.join(f).display());
        }
    }
    let d = out.display().to_string();
    let script = format!(
        r#"
import duckdb, json
con = duckdb.connect()
q = lambda s: con.sql(s.replace('DIR', {d:?})).fetchall()
res = {{}}
res['rows'] = [[s, str(dt), n, int(m)] for s, dt, n, m in q("select source, snapshot_date, count(*), sum(memory_bytes) from read_parquet('DIR/**/keys.parquet', hive_partitioning=true) group by all order by source")]
res['dates'] = dict(q("select source, strftime(to_timestamp(ctime)::timestamp, '%Y-%m-%d') from (values ('sample', {c0}), ('shop/node:1', {c1})) t(source, ctime)"))
res['prefixes'] = q("select count(distinct source) from read_parquet('DIR/**/prefixes.parquet', hive_partitioning=true) where pattern = 'fleetcheck:*'")[0][0]
# The fleet queries of docs/analyze.md, as printed there.
docs = open({docs:?}).read()
blocks = [b.split('```')[0] for b in docs.split('```sql')[1:]]
runs = [con.sql(b.replace("'fleet/", "'" + {d:?} + "/")).fetchall() for b in blocks]
res['docs_queries'] = len(blocks)
res['over_time_memory'] = int(sum(r[2] for r in runs[0]))
res['growth_rows'] = len(runs[1])
print(json.dumps(res))
"#,
        docs = testkit::workspace_root()
            .join("docs/analyze.md")
            .display()
            .to_string(),
        c0 = expected[0].1,
        c1 = expected[1].1,
    );
    let Some(r) = python(&script) else { return };
    let rows = r["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "one group per source: {rows:?}");
    for (name, _, keys, memory) in &expected {
        let row = rows
            .iter()
            .find(|row| row[0] == name.as_str())
            .unwrap_or_else(|| panic!("source {name} missing from {rows:?}"));
        assert_eq!(&row[2], keys, "{name}: keys as summary.json says");
        assert_eq!(&row[3], memory, "{name}: memory as summary.json says");
        assert_eq!(
            row[1], r["dates"][name],
            "{name}: snapshot_date is the ctime's date"
        );
    }
    assert_eq!(
        r["prefixes"], 1,
        "fleetcheck:* is only in the server's snapshot"
    );
    // The documented queries run: memory by prefix over time adds up to
    // both runs' memory; the growth query runs.
    assert_eq!(r["docs_queries"], 2, "docs/analyze.md's fleet SQL blocks");
    let memory: u64 = expected.iter().map(|e| e.3.as_u64().unwrap()).sum();
    assert_eq!(r["over_time_memory"], memory, "memory by prefix over time");
    assert!(
        r["growth_rows"].as_u64().unwrap() > 0,
        "the growth query lists patterns"
    );
}

#[test]
fn source_name_with_several_files_is_a_usage_error() {
    let sample = testkit::workspace_root().join("testdata/sample.rdb");
    let dir = testkit::temp_dir("hive-usage");
    let st = rdbscope(&[
        sample.as_os_str(),
        sample.as_os_str(),
        OsStr::new("--out"),
        dir.path().as_os_str(),
        OsStr::new("--layout"),
        OsStr::new("hive"),
        OsStr::new("--source-name"),
        OsStr::new("x"),
    ]);
    assert_eq!(st.status.code(), Some(2), "usage error exits 2");
    let err = String::from_utf8_lossy(&st.stderr);
    assert!(
        err.contains("--source-name") && err.contains("2 files"),
        "{err}"
    );
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "nothing written"
    );
}

#[test]
fn flat_layout_keeps_the_file_names() {
    let sample = testkit::workspace_root().join("testdata/sample.rdb");
    let dir = testkit::temp_dir("flat");
    let names = |layout: Option<&str>| {
        let out = dir.join(layout.unwrap_or("default"));
        let mut args = vec![
            sample.as_os_str(),
            OsStr::new("--out"),
            out.as_os_str(),
            OsStr::new("--format"),
            OsStr::new("json"),
        ];
        if let Some(l) = layout {
            args.extend([OsStr::new("--layout"), OsStr::new(l)]);
        }
        assert!(rdbscope(&args).status.success());
        let mut names: Vec<String> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let expected = [
        "bigkeys.parquet",
        "dbs.parquet",
        "expiry.parquet",
        "expiry_cliffs.parquet",
        "hotkeys.parquet",
        "keys.parquet",
        "prefixes.parquet",
        "report.html",
        "slots.parquet",
        "summary.json",
        "summary.txt",
        "types.parquet",
    ];
    assert_eq!(names(None), expected);
    assert_eq!(names(Some("flat")), expected);
}
