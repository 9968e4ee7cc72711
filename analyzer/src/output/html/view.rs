//! The report's view: every figure `report.html` shows, filled from a
//! file's `summary.json` section (both when `analyze` writes the report and
//! when `rdbscope report` re-renders it) plus the prefix, slot and expiry
//! cliff tables.

use serde_json::Value;

/// Everything the report shows, one entry per analyzed file.
#[derive(Clone, Debug, Default)]
pub struct ReportView {
    /// One per input file, in order.
    pub files: Vec<FileView>,
}

/// One (type, encoding) row.
#[derive(Clone, Debug, PartialEq)]
pub struct TypeRow {
    /// Type name.
    pub kind: String,
    /// Encoding name.
    pub encoding: String,
    /// Keys.
    pub keys: u64,
    /// Estimated memory.
    pub memory_bytes: u64,
}

/// One database row.
#[derive(Clone, Debug, PartialEq)]
pub struct DbRow {
    /// Database number.
    pub db: i64,
    /// Keys.
    pub keys: u64,
    /// Keys with a TTL.
    pub expires: u64,
    /// Estimated memory.
    pub memory_bytes: u64,
}

/// Keys and memory under a label (TTL bucket, hash tag, expiry minute).
#[derive(Clone, Debug, PartialEq)]
pub struct CountRow {
    /// Bucket name, tag, or the minute's start in ms.
    pub label: String,
    /// Keys.
    pub keys: u64,
    /// Estimated memory.
    pub memory_bytes: u64,
}

/// One node of the prefix tree.
#[derive(Clone, Debug, PartialEq)]
pub struct PrefixNode {
    /// The pattern (`user:*:profile`).
    pub pattern: String,
    /// Segments.
    pub depth: u64,
    /// Keys under it.
    pub keys: u64,
    /// Memory under it.
    pub memory_bytes: u64,
    /// Keys under it with a TTL.
    pub keys_with_ttl: u64,
}

/// A key row (big keys, hot keys).
#[derive(Clone, Debug, PartialEq)]
pub struct KeyRow {
    /// Database.
    pub db: i64,
    /// The key as text: UTF-8 with control characters escaped, or escaped
    /// bytes (`\xff`) for binary keys. Not yet HTML-escaped.
    pub key: String,
    /// Type name.
    pub kind: String,
    /// Encoding name.
    pub encoding: String,
    /// Estimated memory.
    pub memory_bytes: u64,
    /// Elements (string length for strings).
    pub elements: u64,
    /// Largest element.
    pub max_element_bytes: u64,
    /// Expire time, ms since the epoch.
    pub expire_at_ms: Option<i64>,
    /// LFU counter.
    pub lfu_freq: Option<u64>,
    /// LRU idle seconds.
    pub idle_seconds: Option<u64>,
}

/// One file's figures.
#[derive(Clone, Debug, Default)]
pub struct FileView {
    /// The input's name.
    pub source: String,
    /// `Redis 7.2.4`, `Valkey 8.0.1`, or the magic alone.
    pub server: String,
    /// RDB format version.
    pub rdb_version: u64,
    /// File size.
    pub size_bytes: u64,
    /// Snapshot time (aux `ctime`), seconds since the epoch.
    pub ctime: Option<i64>,
    /// Aux `used-mem`.
    pub used_mem: Option<u64>,
    /// The version memory was modelled for.
    pub modelled: String,
    /// Keys.
    pub keys: u64,
    /// Keys with a TTL.
    pub expires: u64,
    /// Estimated memory.
    pub memory_bytes: u64,
    /// Keys whose estimate is their serialized size (module values).
    pub keys_serialized: u64,
    /// The memory of those keys: the loosely estimated share.
    pub memory_bytes_serialized: u64,
    /// Bytes of key records in the file.
    pub rdb_bytes: u64,
    /// Per (type, encoding).
    pub types: Vec<TypeRow>,
    /// Per database.
    pub dbs: Vec<DbRow>,
    /// Per TTL bucket, soonest first.
    pub expiry: Vec<CountRow>,
    /// Minutes with the most expiring keys (label: minute start, ms).
    pub cliffs: Vec<(i64, u64, u64)>,
    /// Prefix tree nodes, most memory first.
    pub prefixes: Vec<PrefixNode>,
    /// `summary.json`'s top prefixes: pattern, how it was formed (`rule`
    /// or `learned`), two example keys.
    pub pattern_notes: Vec<(String, String, Vec<String>)>,
    /// `summary.json`'s `prefix_cut_by_memory`: the memory bound cut the
    /// patterns, which may then depend on `--threads`.
    pub prefix_cut_by_memory: bool,
    /// Big keys: the top by memory of each type and every key over a
    /// threshold, most memory first ([`sort_big_keys`]).
    pub big_keys: Vec<KeyRow>,
    /// Hot keys by LFU counter.
    pub hot_lfu: Vec<KeyRow>,
    /// Hot keys by LRU idle time.
    pub hot_lru: Vec<KeyRow>,
    /// Why there are no hot keys.
    pub hot_note: Option<String>,
    /// Per cluster slot that holds keys: (slot, keys, memory).
    pub slots: Vec<(u16, u64, u64)>,
    /// Hash tags holding the most memory.
    pub hash_tags: Vec<CountRow>,
    /// Collections just over their listpack limit, per type.
    pub near_limit: Vec<LimitRow>,
    /// Those that would save the most, with what each saves.
    pub near_limit_keys: Vec<(KeyRow, u64)>,
    /// Strings the file's LZF compression halved: (keys, memory, saved).
    pub compressible: (u64, u64, u64),
    /// Those that would save the most, with what each saves.
    pub compressible_keys: Vec<(KeyRow, u64)>,
}

/// Collections of one type just over its `*-max-listpack-entries` limit.
#[derive(Clone, Debug, PartialEq)]
pub struct LimitRow {
    /// Type name.
    pub kind: String,
    /// The limit the server was modelled with.
    pub entries: u64,
    /// Its `*-max-listpack-value`.
    pub value: u64,
    /// The element count a raised limit would have to reach.
    pub up_to: u64,
    /// Keys.
    pub keys: u64,
    /// Their memory now.
    pub memory_bytes: u64,
    /// Memory a raised limit would free.
    pub saved_bytes: u64,
}

fn u(v: &Value, name: &str) -> u64 {
    v[name].as_u64().unwrap_or(0)
}

fn s(v: &Value, name: &str) -> String {
    v[name].as_str().unwrap_or_default().to_owned()
}

fn rows<T>(v: &Value, name: &str, f: impl Fn(&Value) -> T) -> Vec<T> {
    v[name]
        .as_array()
        .map(|a| a.iter().map(f).collect())
        .unwrap_or_default()
}

/// A key as readable text: control characters and, for keys that are not
/// UTF-8, every byte outside printable ASCII escaped (`\x00`).
pub fn display_key(key: &[u8]) -> String {
    match std::str::from_utf8(key) {
        Ok(text) => text
            .chars()
            .flat_map(|c| {
                if c.is_control() {
                    c.escape_default().collect::<Vec<_>>()
                } else {
                    vec![c]
                }
            })
            .collect(),
        Err(_) => key
            .iter()
            .flat_map(|&b| std::ascii::escape_default(b))
            .map(char::from)
            .collect(),
    }
}

/// A key from `summary.json` (a string, or `{"hex": "…"}` when not UTF-8).
fn json_key(v: &Value) -> String {
    if let Some(text) = v.as_str() {
        return display_key(text.as_bytes());
    }
    let hex = v["hex"].as_str().unwrap_or_default().as_bytes();
    let bytes: Vec<u8> = hex
        .chunks(2)
        .filter_map(|p| u8::from_str_radix(std::str::from_utf8(p).ok()?, 16).ok())
        .collect();
    display_key(&bytes)
}

fn key_row(v: &Value) -> KeyRow {
    KeyRow {
        db: v["db"].as_i64().unwrap_or(0),
        key: json_key(&v["key"]),
        kind: s(v, "type"),
        encoding: s(v, "encoding"),
        memory_bytes: u(v, "memory_bytes"),
        elements: u(v, "elements"),
        max_element_bytes: u(v, "max_element_bytes"),
        expire_at_ms: v["expire_at_ms"].as_i64(),
        lfu_freq: v["lfu_freq"].as_u64(),
        idle_seconds: v["idle_seconds"].as_u64(),
    }
}

fn saved_row(v: &Value) -> (KeyRow, u64) {
    (key_row(v), u(v, "saved_bytes"))
}

/// Rows of the big-key table at most (the page stays small on a file with
/// many keys over the thresholds; `bigkeys.parquet` has them all).
pub const BIG_KEY_ROWS: usize = 1000;

/// Orders big keys by memory (most first), then database and key, drops
/// repeats of a (database, key), and keeps the first [`BIG_KEY_ROWS`].
pub fn sort_big_keys(keys: &mut Vec<KeyRow>) {
    keys.sort_by(|a, b| {
        b.memory_bytes
            .cmp(&a.memory_bytes)
            .then(a.db.cmp(&b.db))
            .then_with(|| a.key.cmp(&b.key))
    });
    keys.dedup_by(|a, b| a.db == b.db && a.key == b.key);
    keys.truncate(BIG_KEY_ROWS);
}

impl FileView {
    /// The figures `summary.json` holds for one file (its `files[i]`); the
    /// prefix, slot and cliff tables are added by the caller.
    pub fn from_summary(f: &Value) -> FileView {
        let magic = s(f, "magic");
        let server = match (f["valkey_ver"].as_str(), f["redis_ver"].as_str()) {
            (Some(v), _) => format!("Valkey {v}"),
            (None, Some(v)) => format!("Redis {v}"),
            (None, None) => magic,
        };
        let mut big_keys = rows(f, "top_keys_by_memory", key_row);
        big_keys.extend(rows(f, "over_threshold", key_row));
        big_keys
            .iter_mut()
            .for_each(|k| (k.lfu_freq, k.idle_seconds) = (None, None));
        sort_big_keys(&mut big_keys);
        FileView {
            source: s(f, "source"),
            server,
            rdb_version: u(f, "rdb_version"),
            size_bytes: u(f, "size_bytes"),
            ctime: f["ctime"].as_i64(),
            used_mem: f["used_mem"].as_u64(),
            modelled: s(f, "modelled_redis_version"),
            keys: u(f, "keys"),
            expires: u(f, "expires"),
            memory_bytes: u(f, "memory_bytes_estimate"),
            keys_serialized: u(f, "keys_serialized"),
            memory_bytes_serialized: u(f, "memory_bytes_serialized"),
            rdb_bytes: u(f, "rdb_bytes"),
            types: rows(f, "types", |t| TypeRow {
                kind: s(t, "type"),
                encoding: s(t, "encoding"),
                keys: u(t, "keys"),
                memory_bytes: u(t, "memory_bytes"),
            }),
            dbs: rows(f, "dbs", |d| DbRow {
                db: d["db"].as_i64().unwrap_or(0),
                keys: u(d, "keys"),
                expires: u(d, "expires"),
                memory_bytes: u(d, "memory_bytes"),
            }),
            expiry: rows(f, "expiry", |b| CountRow {
                label: s(b, "bucket"),
                keys: u(b, "keys"),
                memory_bytes: u(b, "memory_bytes"),
            }),
            cliffs: rows(f, "expiry_cliffs", |c| {
                (
                    c["minute_start_ms"].as_i64().unwrap_or(0),
                    u(c, "keys"),
                    u(c, "memory_bytes"),
                )
            }),
            prefixes: Vec::new(),
            prefix_cut_by_memory: f["prefix_cut_by_memory"].as_bool().unwrap_or(false),
            pattern_notes: rows(f, "top_prefixes", |p| {
                (
                    s(p, "pattern"),
                    s(p, "formed"),
                    rows(p, "examples", json_key),
                )
            }),
            big_keys,
            hot_lfu: rows(f, "hot_keys_by_lfu", key_row),
            hot_lru: rows(f, "hot_keys_by_lru", key_row),
            hot_note: f["hot_keys_note"].as_str().map(str::to_owned),
            slots: rows(f, "top_slots", |t| {
                (u(t, "slot") as u16, u(t, "keys"), u(t, "memory_bytes"))
            }),
            hash_tags: rows(f, "top_hash_tags", |t| CountRow {
                label: s(t, "tag"),
                keys: u(t, "keys"),
                memory_bytes: u(t, "memory_bytes"),
            }),
            near_limit: rows(&f["savings"], "near_listpack_limit", |r| LimitRow {
                kind: s(r, "type"),
                entries: u(r, "max_listpack_entries"),
                value: u(r, "max_listpack_value"),
                up_to: u(r, "up_to_entries"),
                keys: u(r, "keys"),
                memory_bytes: u(r, "memory_bytes"),
                saved_bytes: u(r, "saved_bytes"),
            }),
            near_limit_keys: rows(&f["savings"], "top_near_listpack_limit", saved_row),
            compressible: {
                let c = &f["savings"]["compressible_strings"];
                (u(c, "keys"), u(c, "memory_bytes"), u(c, "saved_bytes"))
            },
            compressible_keys: rows(&f["savings"], "top_compressible_strings", saved_row),
        }
    }

    /// The views of every file of a `summary.json`.
    pub fn all_from_summary(summary: &Value) -> Vec<FileView> {
        rows(summary, "files", FileView::from_summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_keys_by_memory_without_repeats() {
        let row = |db, key: &str, memory_bytes| KeyRow {
            db,
            key: key.into(),
            kind: "string".into(),
            encoding: "raw".into(),
            memory_bytes,
            elements: 1,
            max_element_bytes: 1,
            expire_at_ms: None,
            lfu_freq: None,
            idle_seconds: None,
        };
        let mut v = vec![
            row(0, "b", 5),
            row(0, "a", 9),
            row(1, "b", 5),
            row(0, "b", 5),
        ];
        sort_big_keys(&mut v);
        let order: Vec<(i64, &str)> = v.iter().map(|k| (k.db, k.key.as_str())).collect();
        assert_eq!(order, vec![(0, "a"), (0, "b"), (1, "b")]);
        let mut many: Vec<KeyRow> = (0..BIG_KEY_ROWS as u64 + 5)
            .map(|i| row(0, &i.to_string(), i))
            .collect();
        sort_big_keys(&mut many);
        assert_eq!(many.len(), BIG_KEY_ROWS);
        assert_eq!(many[0].memory_bytes, BIG_KEY_ROWS as u64 + 4);
    }

    #[test]
    fn keys_display_as_text_or_escaped_bytes() {
        assert_eq!(display_key(b"user:1"), "user:1");
        assert_eq!(display_key(b"a\nb"), "a\\nb");
        assert_eq!(display_key(b"\xff\x00k"), "\\xff\\x00k");
        assert_eq!(
            json_key(&serde_json::json!({"hex": "ff006b"})),
            "\\xff\\x00k"
        );
        assert_eq!(json_key(&serde_json::json!("</script>")), "</script>");
    }
}
