//! The file's header facts ([`FileMeta`]), read from its aux fields
//! before the parallel pass.

use std::time::{SystemTime, UNIX_EPOCH};

use rdb_parser::{Magic, Rdb, Record};

use super::options::Options;
use crate::error::{Error, Result};
use crate::model::FileMeta;
use crate::server::RedisVersion;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Reads the aux fields at the start of the file (sequentially, up to the
/// first record that is not one).
pub(super) fn read_meta(rdb: &Rdb<'_>, opts: &Options, source: &str) -> Result<FileMeta> {
    let mut aux = Vec::new();
    let mut buf = Vec::new();
    let mut buf2 = Vec::new();
    for r in rdb.records() {
        match r.map_err(|e| Error::parse(source, e))? {
            Record::Aux { name, value } => {
                let n = name.bytes(&mut buf).map_err(|e| Error::parse(source, e))?;
                let v = value
                    .bytes(&mut buf2)
                    .map_err(|e| Error::parse(source, e))?;
                aux.push((
                    String::from_utf8_lossy(n).into_owned(),
                    String::from_utf8_lossy(v).into_owned(),
                ));
            }
            _ => break,
        }
    }
    let get = |k: &str| aux.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let redis_ver = get("redis-ver");
    let ctime = get("ctime").and_then(|v| v.parse().ok());
    let used_mem = get("used-mem").and_then(|v| v.parse().ok());
    let valkey_ver = get("valkey-ver");
    // An explicit --redis-version targets Redis. Otherwise a file written
    // by Valkey (valkey-ver aux, or the VALKEY magic of 9.0+) is modelled
    // as loaded into that Valkey, whose encodings follow Redis 7.2.
    let target_valkey = match opts.redis_version {
        Some(_) => None,
        None => valkey_ver
            .as_deref()
            .and_then(RedisVersion::parse)
            .or((rdb.magic() == Magic::Valkey).then_some(RedisVersion::new(9, 0))),
    };
    let target_version = match (opts.redis_version, target_valkey) {
        (Some(v), _) => v,
        (None, Some(_)) => RedisVersion::new(7, 2),
        (None, None) => redis_ver
            .as_deref()
            .and_then(RedisVersion::parse)
            .unwrap_or_else(|| RedisVersion::from_rdb_version(rdb.magic(), rdb.version())),
    };
    let now_ms = opts
        .now_ms
        .or(ctime.map(|c: i64| c.saturating_mul(1000)))
        .unwrap_or_else(now_ms);
    Ok(FileMeta {
        allocator_choice: None,
        magic: match rdb.magic() {
            Magic::Redis => "REDIS",
            Magic::Valkey => "VALKEY",
        },
        rdb_version: rdb.version(),
        size_bytes: rdb.data().len() as u64,
        aux,
        redis_ver,
        valkey_ver,
        ctime,
        used_mem,
        target_version,
        target_valkey,
        now_ms,
    })
}
