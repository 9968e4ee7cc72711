//! Check 2: `rdbscope info --json` against DBSIZE and the server's own view.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::Path;

use serde_json::Value as Json;

use super::cli::{cli, describe};
use super::model::{Features, Snapshot, Val};
use super::report::trunc;

/// Per-db key counts out of `info --json`, accepting a few plausible shapes:
/// `"dbs": [{"db": 0, "keys": N, ..}]` or `"dbs": {"0": N | {"keys": N}}` (also under
/// "databases"/"keyspace", at the top level or one level down).
pub(super) fn info_db_counts(j: &Json) -> Option<BTreeMap<u32, u64>> {
    const LISTS: [&str; 4] = ["dbs", "databases", "keyspace", "db"];
    const IDX: [&str; 4] = ["db", "index", "id", "number"];
    const CNT: [&str; 5] = ["keys", "key_count", "count", "num_keys", "entries"];
    let count = |v: &Json| -> Option<u64> {
        v.as_u64()
            .or_else(|| CNT.iter().find_map(|c| v.get(*c).and_then(Json::as_u64)))
    };
    let parse = |v: &Json| -> Option<BTreeMap<u32, u64>> {
        let mut m = BTreeMap::new();
        match v {
            Json::Array(items) => {
                for it in items {
                    let db = IDX.iter().find_map(|i| it.get(*i).and_then(Json::as_u64))?;
                    m.insert(db as u32, count(it)?);
                }
            }
            Json::Object(o) => {
                for (k, v) in o {
                    let db: u32 = k.trim_start_matches("db").parse().ok()?;
                    m.insert(db, count(v)?);
                }
            }
            _ => return None,
        }
        Some(m)
    };
    let top = j.as_object()?;
    for l in LISTS {
        if let Some(m) = top.get(l).and_then(parse) {
            return Some(m);
        }
    }
    for v in top.values() {
        if let Some(o) = v.as_object() {
            for l in LISTS {
                if let Some(m) = o.get(l).and_then(parse) {
                    return Some(m);
                }
            }
        }
    }
    None
}

pub(super) fn info_problems(
    rdb: &Path,
    dbsizes: &BTreeMap<u32, u64>,
    expected: &Snapshot,
    f: &Features,
    version: &str,
) -> Vec<String> {
    let mut p = Vec::new();
    let text = cli([OsStr::new("info"), rdb.as_os_str()]);
    if !text.status.success() || text.stdout.is_empty() {
        p.push(format!("info (text): {}", describe(&text)));
    }
    let out = cli([OsStr::new("info"), rdb.as_os_str(), OsStr::new("--json")]);
    if !out.status.success() {
        p.push(format!("info --json: {}", describe(&out)));
        return p;
    }
    let j: Json = match serde_json::from_slice(&out.stdout) {
        Ok(j) => j,
        Err(e) => {
            p.push(format!(
                "info --json is not one JSON document ({e}): {}",
                trunc(&String::from_utf8_lossy(&out.stdout))
            ));
            return p;
        }
    };
    match info_db_counts(&j) {
        None => p.push(format!(
            "info --json: cannot find per-db key counts in {}",
            trunc(&j.to_string())
        )),
        Some(m) => {
            let m: BTreeMap<u32, u64> = m.into_iter().filter(|&(_, n)| n > 0).collect();
            if &m != dbsizes {
                p.push(format!(
                    "info --json key counts {m:?} vs DBSIZE {dbsizes:?}"
                ));
            }
        }
    }
    // Expiring keys per db, totals.
    let mut want_exp: BTreeMap<u64, u64> = BTreeMap::new();
    for ((db, _), kv) in expected {
        if kv.expire.is_some() {
            *want_exp.entry(*db as u64).or_default() += 1;
        }
    }
    if let Some(dbs) = j.get("dbs").and_then(Json::as_array) {
        let got: BTreeMap<u64, u64> = dbs
            .iter()
            .filter_map(|d| Some((d.get("db")?.as_u64()?, d.get("expires")?.as_u64()?)))
            .filter(|&(_, n)| n > 0)
            .collect();
        if got != want_exp {
            p.push(format!(
                "info --json expires per db {got:?} vs server {want_exp:?}"
            ));
        }
    }
    let total_exp: u64 = want_exp.values().sum();
    for (field, want) in [("keys", expected.len() as u64), ("expires", total_exp)] {
        if j.get(field).and_then(Json::as_u64) != Some(want) {
            p.push(format!(
                "info --json {field:?}: {:?}, want {want}",
                j.get(field)
            ));
        }
    }
    if j.get("checksum").and_then(Json::as_str) != Some("verified") {
        p.push(format!(
            "info --json checksum: {:?}, want \"verified\"",
            j.get("checksum")
        ));
    }
    // Keys per type (module values count as "module").
    let mut want_types: BTreeMap<String, u64> = BTreeMap::new();
    let mut want_modules: BTreeMap<String, u64> = BTreeMap::new();
    for kv in expected.values() {
        if let Val::Module { name, .. } = &kv.val {
            *want_types.entry("module".into()).or_default() += 1;
            *want_modules.entry(name.clone()).or_default() += 1;
        } else {
            *want_types.entry(kv.ty.clone()).or_default() += 1;
        }
    }
    let sum_by = |list: Option<&Json>, name: &str| -> BTreeMap<String, u64> {
        let mut m = BTreeMap::new();
        for t in list
            .and_then(Json::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let k = t
                .get(name)
                .and_then(Json::as_str)
                .unwrap_or("?")
                .to_string();
            *m.entry(k).or_default() += t.get("keys").and_then(Json::as_u64).unwrap_or(0);
        }
        m
    };
    let got_types = sum_by(j.get("types"), "type");
    if got_types != want_types {
        p.push(format!(
            "info --json keys per type {got_types:?} vs server {want_types:?}"
        ));
    }
    let got_modules = sum_by(j.get("modules"), "module");
    if got_modules != want_modules {
        p.push(format!(
            "info --json modules {got_modules:?} vs server {want_modules:?}"
        ));
    }
    if f.modules
        && j.get("module_aux")
            .and_then(Json::as_array)
            .is_none_or(Vec::is_empty)
    {
        p.push(format!(
            "info --json module_aux is empty with RediSearch loaded: {:?}",
            j.get("module_aux")
        ));
    }
    // The server's version is one of the aux fields (redis-ver / valkey-ver).
    let aux_has_version = j
        .get("aux")
        .and_then(Json::as_object)
        .is_some_and(|a| a.values().any(|v| v.as_str() == Some(version)));
    if !aux_has_version {
        p.push(format!(
            "info --json aux has no field equal to the server version {version:?}: {:?}",
            j.get("aux")
        ));
    }
    if f.v7 {
        let funcs = j.get("functions").map(Json::to_string).unwrap_or_default();
        if !funcs.contains("rdbscopelib") {
            p.push(format!(
                "info --json functions lacks the loaded library rdbscopelib: {}",
                trunc(&funcs)
            ));
        }
    }
    p
}
