//! `summary.json`: per-file metadata, totals, tables and big keys, plus
//! throughput, built as a `serde_json::Value`.

use serde_json::{json, Map, Value};

use crate::accumulator::{FileReport, Saving, LIMITED_KINDS, NEAR_LIMIT_FACTOR};
use crate::model::{BigKey, ExpiryBucket, TypeKey};
use crate::output::parquet::expiring_keys;
use crate::prefix::utc_minute;

/// Prefixes listed in `top_prefixes`.
pub const TOP_PREFIXES: usize = 20;
/// Minutes listed in `expiry_cliffs` (and in the report).
pub const TOP_CLIFFS: usize = 3;

fn share(part: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        part as f64 / total as f64
    }
}

/// The top prefixes (depth 1 to the prefix depth) by memory, each with how
/// its `*`s were formed (`rule`: the identifier rules only; `learned`: one
/// stands for a position with many distinct values) and its two smallest
/// keys.
fn top_prefixes_json(r: &FileReport) -> Value {
    let a = &r.acc;
    let tree = a.prefixes.tree();
    let rows: Vec<Value> = tree
        .top_by_memory(a.prefixes.config().depth, TOP_PREFIXES)
        .into_iter()
        .map(|p| {
            json!({
                "pattern": String::from_utf8_lossy(&p.pattern),
                "depth": p.depth,
                "keys": p.stat.keys,
                "memory_bytes": p.stat.memory_bytes,
                "rdb_bytes": p.stat.rdb_bytes,
                "keys_with_ttl": p.stat.keys_with_ttl,
                "share_of_memory": share(p.stat.memory_bytes, a.memory_bytes),
                "share_of_keys": share(p.stat.keys, a.keys),
                "formed": if p.learned { "learned" } else { "rule" },
                "examples": p.examples.iter().map(|k| key_json(k)).collect::<Vec<_>>(),
            })
        })
        .collect();
    Value::Array(rows)
}

/// The minutes in which the most keys expire.
fn cliffs_json(r: &FileReport) -> Value {
    let expiring = expiring_keys(r);
    Value::Array(
        r.acc
            .cliffs
            .top(TOP_CLIFFS)
            .into_iter()
            .map(|(m, b)| {
                json!({
                    "minute_start_ms": m,
                    "minute_start": utc_minute(m),
                    "keys": b.keys,
                    "memory_bytes": b.memory_bytes,
                    "share_of_expiring_keys": share(b.keys, expiring),
                })
            })
            .collect(),
    )
}

/// A Redis key for JSON: a string when UTF-8, else `{"hex": "…"}`.
pub fn key_json(key: &[u8]) -> Value {
    match std::str::from_utf8(key) {
        Ok(s) => Value::String(s.to_owned()),
        Err(_) => {
            let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
            json!({ "hex": hex })
        }
    }
}

fn big_key_json(k: &BigKey) -> Value {
    json!({
        "db": k.db,
        "key": key_json(&k.key),
        "type": k.type_key.name(),
        "encoding": k.encoding.as_str(),
        "memory_bytes": k.memory_bytes,
        "elements": k.elements,
        "rdb_bytes": k.rdb_bytes,
        "max_element_bytes": k.max_element_bytes,
        "expire_at_ms": k.expire_at_ms,
        "lfu_freq": k.lfu_freq,
        "idle_seconds": k.idle_seconds,
    })
}

/// The `n` keys with the most estimated memory across all types, best first.
pub fn overall_top_by_memory(r: &FileReport, n: usize) -> Vec<&BigKey> {
    let mut all: Vec<&BigKey> = r
        .acc
        .top_by_memory()
        .into_iter()
        .flat_map(|(_, v)| v)
        .collect();
    all.sort_by(|a, b| {
        b.memory_bytes
            .cmp(&a.memory_bytes)
            .then_with(|| (a.db, &a.key).cmp(&(b.db, &b.key)))
    });
    all.truncate(n);
    all
}

/// What a raised listpack limit or compressed strings would save
/// (`savings` in a file's section), with the keys that would save most.
fn savings_json(r: &FileReport) -> Value {
    let s = &r.acc.savings;
    let l = r.acc.encoding_limits();
    let limits = [
        (l.hash_max_listpack_entries, l.hash_max_listpack_value),
        (l.set_max_listpack_entries, l.set_max_listpack_value),
        (l.zset_max_listpack_entries, l.zset_max_listpack_value),
    ];
    let saving = |v: &Saving| {
        json!({"keys": v.keys, "memory_bytes": v.memory_bytes,
            "after_bytes": v.after_bytes, "saved_bytes": v.saved_bytes()})
    };
    let top = |v: Vec<(&BigKey, u64)>| {
        v.into_iter()
            .map(|(k, saved)| {
                let mut j = big_key_json(k);
                j["saved_bytes"] = json!(saved);
                j
            })
            .collect::<Vec<_>>()
    };
    json!({
        "near_listpack_limit": LIMITED_KINDS.iter().zip(limits).zip(&s.near_limit)
            .map(|((kind, (entries, value)), v)| {
                let mut j = saving(v);
                j["type"] = json!(TypeKey { kind: *kind, module: None }.name());
                j["max_listpack_entries"] = json!(entries);
                j["max_listpack_value"] = json!(value);
                j["up_to_entries"] = json!(entries.saturating_mul(NEAR_LIMIT_FACTOR));
                j
            })
            .collect::<Vec<_>>(),
        "top_near_listpack_limit": top(s.top_near_limit()),
        "compressible_strings": saving(&s.compressible),
        "top_compressible_strings": top(s.top_compressible()),
    })
}

fn per_second(n: f64, secs: f64) -> f64 {
    if secs > 0.0 {
        n / secs
    } else {
        0.0
    }
}

/// `--allocator auto`'s choice and every candidate's distance to used-mem.
fn allocator_choice_json(c: &crate::model::AllocatorChoice) -> Value {
    let candidates: Vec<Value> = c
        .candidates
        .iter()
        .map(|k| {
            json!({"allocator": k.allocator.name(), "modelled_bytes": k.modelled_bytes,
                   "overhead_bytes": k.overhead_bytes, "distance": k.distance})
        })
        .collect();
    json!({"chosen": c.chosen.name(), "reason": c.reason, "candidates": candidates})
}

/// The summary of one file.
pub fn file_json(r: &FileReport, top_n: usize) -> Value {
    let m = &r.meta;
    let a = &r.acc;
    let aux: Map<String, Value> = m
        .aux
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let ratio = m
        .used_mem
        .filter(|&u| u > 0)
        .map(|u| a.memory_bytes as f64 / u as f64);
    let types: Vec<Value> = a
        .types
        .iter()
        .map(|((tk, enc), t)| {
            json!({"type": tk.name(), "encoding": enc.as_str(), "keys": t.keys,
                   "memory_bytes": t.memory_bytes, "rdb_bytes": t.rdb_bytes, "elements": t.elements})
        })
        .collect();
    let dbs: Vec<Value> = a
        .dbs
        .iter()
        .map(|(db, d)| {
            json!({"db": db, "keys": d.keys, "expires": d.expires,
                   "memory_bytes": d.memory_bytes, "rdb_bytes": d.rdb_bytes})
        })
        .collect();
    let expiry: Vec<Value> = ExpiryBucket::ALL
        .iter()
        .zip(&a.expiry)
        .map(|(b, s)| json!({"bucket": b.name(), "keys": s.keys, "memory_bytes": s.memory_bytes}))
        .collect();
    let top: Vec<Value> = overall_top_by_memory(r, top_n)
        .into_iter()
        .map(big_key_json)
        .collect();
    let (lfu, lru) = a.hot_keys();
    let hot = |v: Vec<&BigKey>| v.into_iter().map(big_key_json).collect::<Vec<_>>();
    let over: Vec<Value> = a
        .over_threshold_sorted()
        .into_iter()
        .take(1000)
        .map(big_key_json)
        .collect();
    let serialized = a.serialized();
    let mut file = json!({
        "source": r.source,
        "magic": m.magic,
        "rdb_version": m.rdb_version,
        "size_bytes": m.size_bytes,
        "aux": aux,
        "redis_ver": m.redis_ver,
        "ctime": m.ctime,
        "used_mem": m.used_mem,
        "valkey_ver": m.valkey_ver,
        "modelled_redis_version": m.target_version.to_string(),
        "modelled_valkey_version": m.target_valkey.map(|v| v.to_string()),
        "allocator_choice": m.allocator_choice.as_ref().map(allocator_choice_json),
        "expiry_now_ms": m.now_ms,
        "keys": a.keys,
        "expires": a.expires,
        "enterprise_opcode_keys": a.enterprise_opcode_keys,
        "elements": a.elements,
        "rdb_bytes": a.rdb_bytes,
        "memory_bytes_estimate": a.memory_bytes,
        "memory_bytes_serialized": serialized.memory_bytes,
        "keys_serialized": serialized.keys,
        "estimate_to_used_mem": ratio,
        "seconds": r.seconds,
        "mb_per_s": per_second(m.size_bytes as f64 / 1e6, r.seconds),
        "keys_per_s": per_second(a.keys as f64, r.seconds),
        "types": types,
        "dbs": dbs,
        "expiry": expiry,
        "expiry_cliffs": cliffs_json(r),
        "top_prefixes": top_prefixes_json(r),
        "prefix_patterns": a.prefixes.len(),
        "prefix_level": a.prefixes.level(),
        "top_keys_by_memory": top,
        "hot_keys_by_lfu": hot(lfu),
        "hot_keys_by_lru": hot(lru),
        "hot_keys_note": a.hot_keys_note(),
        "top_slots": a.top_slots(10).into_iter().map(|(slot, b)| json!({
            "slot": slot, "keys": b.keys, "memory_bytes": b.memory_bytes,
            "share_of_memory": if a.memory_bytes == 0 { 0.0 } else { b.memory_bytes as f64 / a.memory_bytes as f64 },
        })).collect::<Vec<_>>(),
        "top_hash_tags": a.hash_tags.top(10).into_iter().map(|(tag, b)| json!({
            "tag": String::from_utf8_lossy(tag), "keys": b.keys, "memory_bytes": b.memory_bytes,
        })).collect::<Vec<_>>(),
        "hash_tags": a.hash_tags.len(),
        "hash_tags_overflowed": a.hash_tags.overflowed(),
        "savings": savings_json(r),
        "over_threshold_keys": a.over_threshold.len(),
        "over_threshold": over,
    });
    // A worker passed the memory bound before the whole file was seen:
    // only then may `prefix_level` depend on the threads.
    file["prefix_cut_by_memory"] = json!(a.prefixes.forced());
    file
}

/// `summary.json` for all files: per-file sections and overall totals.
/// `outputs` lists the files written.
pub fn summary_json(
    reports: &[FileReport],
    top_n: usize,
    seconds: f64,
    outputs: &[String],
) -> Value {
    let keys: u64 = reports.iter().map(|r| r.acc.keys).sum();
    let size: u64 = reports.iter().map(|r| r.meta.size_bytes).sum();
    json!({
        "tool": "rdbscope",
        "memory_model": "first cut: Redis 7.x on 64-bit jemalloc; streams and module values use their RDB size; estimates, not measurements",
        "files": reports.iter().map(|r| file_json(r, top_n)).collect::<Vec<_>>(),
        "totals": {
            "files": reports.len(),
            "size_bytes": size,
            "keys": keys,
            "expires": reports.iter().map(|r| r.acc.expires).sum::<u64>(),
            "elements": reports.iter().map(|r| r.acc.elements).sum::<u64>(),
            "rdb_bytes": reports.iter().map(|r| r.acc.rdb_bytes).sum::<u64>(),
            "memory_bytes_estimate": reports.iter().map(|r| r.acc.memory_bytes).sum::<u64>(),
            "seconds": seconds,
            "mb_per_s": per_second(size as f64 / 1e6, seconds),
            "keys_per_s": per_second(keys as f64, seconds),
        },
        "outputs": outputs,
    })
}
