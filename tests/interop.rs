//! A data team's view: the Parquet outputs read by DuckDB and pyarrow (from
//! PyPI, installed by `.ci/run`), with SQL answers checked against what
//! rdbscope itself reports (summary.json, `info --json`).

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
