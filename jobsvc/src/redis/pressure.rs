//! When to leave a node alone for now: a fork in progress or a lagging
//! replica, read from `INFO`.

/// Why a node should be left alone for now, if it should: a fork in
/// progress (RDB save, AOF rewrite, module fork) or a replica lagging by
/// more than `max_lag` bytes.
pub fn pressure(
    persistence: &[(String, String)],
    replication: &[(String, String)],
    max_lag: u64,
) -> Option<String> {
    let get = |info: &[(String, String)], k: &str| {
        info.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    for (field, what) in [
        (
            "rdb_bgsave_in_progress",
            "an RDB save (fork) is in progress",
        ),
        (
            "aof_rewrite_in_progress",
            "an AOF rewrite (fork) is in progress",
        ),
        ("module_fork_in_progress", "a module fork is in progress"),
    ] {
        if get(persistence, field).as_deref() == Some("1") {
            return Some(what.into());
        }
    }
    let master_offset: u64 = get(replication, "master_repl_offset")?.parse().ok()?;
    for (k, v) in replication {
        if !(k.starts_with("slave") && k.len() > 5 && k[5..].bytes().all(|b| b.is_ascii_digit())) {
            continue;
        }
        let field = |name: &str| {
            v.split(',')
                .filter_map(|kv| kv.split_once('='))
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        };
        let offset: u64 = field("offset").and_then(|o| o.parse().ok()).unwrap_or(0);
        let lag = master_offset.saturating_sub(offset);
        if lag > max_lag {
            return Some(format!(
                "replica {}:{} lags {lag} bytes (more than {max_lag})",
                field("ip").unwrap_or_default(),
                field("port").unwrap_or_default()
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pressure_from_info() {
        let kv = |s: &str| -> Vec<(String, String)> {
            s.lines()
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.into(), v.into()))
                .collect()
        };
        let calm = kv("rdb_bgsave_in_progress:0\naof_rewrite_in_progress:0");
        let fork = kv("rdb_bgsave_in_progress:1\naof_rewrite_in_progress:0");
        let repl = kv("role:master\nmaster_repl_offset:5000000\nslave0:ip=10.0.0.2,port=6380,state=online,offset=4999000,lag=0");
        let lagging = kv("role:master\nmaster_repl_offset:5000000\nslave0:ip=10.0.0.2,port=6380,state=online,offset=1000,lag=3");
        assert_eq!(pressure(&calm, &repl, 1 << 20), None);
        assert!(pressure(&fork, &repl, 1 << 20).unwrap().contains("fork"));
        assert!(pressure(&calm, &lagging, 1 << 20)
            .unwrap()
            .contains("10.0.0.2:6380"));
    }
}
