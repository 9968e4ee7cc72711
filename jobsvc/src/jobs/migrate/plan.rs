//! The plan shown to the approver of a migration: the source and what is
//! selected, the target and its format, how values are written, and how
//! long it takes at the rate.

use std::path::Path;
use std::time::Duration;

use rdb_parser::Rdb;
use serde_json::{json, Value};

use super::params::{Conflict, MigrationParams, SourceMethod, WriteMode};
use super::run::check_target_dbs;
use super::target::dump_version;
use crate::error::{Error, Result};
use crate::files::map_file;
use crate::job::check_allowed_file;
use crate::redis::nodes::masters_of;
use crate::registry;
use crate::state::{credentials, ServiceState};
use crate::store::{now_ms, AppRow};

/// The plan shown to the approver.
pub async fn plan(state: &ServiceState, p: &MigrationParams, apps: &[AppRow]) -> Result<Value> {
    let find = |name: &str| {
        apps.iter()
            .find(|a| a.name == name)
            .cloned()
            .ok_or_else(|| Error::bad_request(format!("unknown app {name:?}")))
    };
    let target = find(&p.target)?;
    let source = p.source.app.as_deref().map(find).transpose()?;
    check_target_dbs(p, &target, source.as_ref())?;
    let file = p
        .source
        .file
        .as_ref()
        .map(|f| check_allowed_file(f, &state.config.allowed_dirs))
        .transpose()?;
    let fetched = source.is_some() && p.method() == SourceMethod::Rdb;
    let p = p.clone();
    let mut plan = tokio::task::spawn_blocking(move || {
        plan_blocking(&p, &target, source.as_ref(), file.as_deref())
    })
    .await
    .map_err(|e| Error::internal(format!("plan: {e}")))??;
    if fetched {
        let c = &state.config;
        plan["source"]["fetches"] = json!(format!(
            "shards on different hosts side by side: at most {} at once, {} of one host at a time",
            c.fetches_at_once, c.fetches_per_host
        ));
    }
    Ok(plan)
}

fn plan_blocking(
    p: &MigrationParams,
    target: &AppRow,
    source: Option<&AppRow>,
    file: Option<&Path>,
) -> Result<Value> {
    let timeout = Duration::from_secs(3);
    let mut notes: Vec<String> = Vec::new();
    // The target's format.
    let tmasters = masters_of(target);
    let (tversion, tdump) = match tmasters.first().map(|a| {
        registry::connect(a, &credentials(target), timeout)
            .and_then(|mut c| registry::info(&mut c, "server"))
    }) {
        Some(Ok(info)) => (
            info.iter()
                .find(|(k, _)| k == "redis_version")
                .map(|(_, v)| v.clone())
                .unwrap_or_default(),
            Some(dump_version(&info)),
        ),
        Some(Err(e)) => {
            notes.push(format!("the target did not answer at submission: {e}"));
            (String::new(), None)
        }
        None => (String::new(), None),
    };
    // What the target holds now, per db: a db that holds nothing when the
    // ticket starts is written without an `EXISTS` per key.
    let mut target_keys: std::collections::BTreeMap<u32, u64> = Default::default();
    for m in &tmasters {
        match registry::connect(m, &credentials(target), timeout)
            .and_then(|mut c| registry::keyspace(&mut c))
        {
            Ok(ks) => ks
                .into_iter()
                .for_each(|(db, n)| *target_keys.entry(db).or_default() += n),
            Err(e) => notes.push(format!(
                "target master {m} did not answer at submission: {e}"
            )),
        }
    }
    if target_keys.is_empty() {
        notes.push("the target holds no key now: if so when the ticket starts, keys are written without an EXISTS each, and counted by DBSIZE".into());
    } else {
        notes.push(format!(
            "the target already holds keys ({}): in those dbs each batch asks EXISTS of its keys, the conflict policy applies to the ones there, and the count is a SCAN of the matching keys",
            target_keys
                .iter()
                .map(|(db, n)| format!("db {db}: {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let mut keys_estimate: Option<u64> = None;
    let mut source_version: Option<u32> = None;
    let source_json = match (file, source) {
        (Some(f), _) => {
            let mut v =
                json!({"file": f, "bytes": std::fs::metadata(f).map(|m| m.len()).unwrap_or(0)});
            if let Ok(map) = map_file(f) {
                if let Ok(rdb) = Rdb::new(&map) {
                    source_version = Some(rdb.version());
                    v["rdb_version"] = json!(rdb.version());
                    if map.len() <= 1 << 30 {
                        let now = now_ms();
                        let mut n = 0u64;
                        let mut kb = Vec::new();
                        for e in rdb.entries().flatten() {
                            if let Ok(k) = e.key.bytes(&mut kb) {
                                if p.selects_db(e.db as u32)
                                    && p.selects_key(k)
                                    && p.selects_type(e.kind().name())
                                    && e.expire_at_ms.is_none_or(|t| t > now)
                                {
                                    n += 1;
                                }
                            }
                        }
                        keys_estimate = Some(n);
                        v["keys_selected"] = json!(n);
                    }
                }
            }
            v
        }
        (None, Some(app)) => {
            let masters = masters_of(app);
            let mut n = 0u64;
            for m in &masters {
                match registry::connect(m, &credentials(app), timeout).and_then(|mut c| {
                    let ks = registry::keyspace(&mut c)?;
                    let srv = registry::info(&mut c, "server")?;
                    Ok((ks, srv))
                }) {
                    Ok((ks, srv)) => {
                        source_version = source_version.max(Some(dump_version(&srv)));
                        n += ks
                            .iter()
                            .filter(|(db, _)| p.selects_db(*db))
                            .map(|(_, keys)| keys)
                            .sum::<u64>();
                    }
                    Err(e) => notes.push(format!(
                        "source master {m} did not answer at submission: {e}"
                    )),
                }
            }
            keys_estimate = Some(n);
            if !p.patterns.is_empty() || p.key_type.is_some() {
                notes.push("keys_in_dbs counts every key of the selected dbs; the pattern and type filters select fewer".into());
            }
            json!({
                "app": app.name,
                "kind": app.kind,
                "method": p.method(),
                "masters": masters,
                "keys_in_dbs": n,
                "reads": match p.method() {
                    SourceMethod::Scan => "SCAN + PTTL + DUMP on each master",
                    SourceMethod::Rdb => "each shard's RDB fetched as a replica (the node read from forks to write it)",
                },
            })
        }
        _ => Value::Null,
    };
    let write = match (p.write, source_version, tdump) {
        (WriteMode::Restore, _, _) => "restore".to_string(),
        (WriteMode::Commands, _, _) => "commands".to_string(),
        (WriteMode::Auto, Some(s), Some(t)) if s > t && t < 9 => format!(
            "commands: the target writes RDB version {t}, older than the source's {s}, and its RESTORE takes no ABSTTL; collections are written into a temporary key of their own in their slot, in commands of at most {} bytes, then RENAMEd into place",
            p.max_command_bytes
        ),
        (WriteMode::Auto, Some(s), Some(t)) if s > t => format!(
            "re-encoded: the target writes RDB version {t}, older than the source's {s}; strings, lists, sets, sorted sets and hashes are re-encoded in version {t}'s plain types and written with RESTORE … ABSTTL, one atomic command each; streams, module values and hashes with field expiry as commands into a temporary key of their own in their slot, in commands of at most {} bytes, then RENAMEd into place",
            p.max_command_bytes
        ),
        (WriteMode::Auto, Some(s), Some(_)) => format!("RESTORE … ABSTTL (source format: RDB version {s})"),
        _ => "RESTORE … ABSTTL, or commands if the target refuses the source's format".to_string(),
    };
    if p.conflict == Conflict::Replace {
        notes.push("conflict \"replace\": keys already on the target are overwritten".into());
    }
    let db_map: Value = if p.db_map.is_empty() {
        json!("same db numbers")
    } else {
        json!(p.db_map)
    };
    Ok(json!({
        "source": source_json,
        "target": {
            "app": target.name,
            "kind": target.kind,
            "masters": tmasters,
            "redis_version": tversion,
            "dump_rdb_version": tdump,
            "keys_now": target_keys,
        },
        "write": write,
        "filters": {"dbs": p.dbs, "patterns": p.patterns, "type": p.key_type},
        "db_map": db_map,
        "conflict": p.conflict,
        "ttl": "absolute expire times are kept; keys already expired are not written",
        "rate_keys_per_sec": p.rate,
        "keys_estimate": keys_estimate,
        "estimated_seconds": keys_estimate.map(|n| n.div_ceil(p.rate)),
        "checkpoint": format!("after every batch of at most {} keys; a restart resumes without losing or doubling a key", p.chunk()),
        "verification": format!(
            "key counts per db on both sides, and {}% of the written keys plus every key over {} bytes compared by value and TTL; the ticket fails if a mismatch remains",
            p.verify_percent, p.big_key_bytes
        ),
        "notes": notes,
    }))
}
