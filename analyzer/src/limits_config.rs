//! The server's encoding limits from its configuration: `redis.conf`
//! lines (`--config-file`) and `name=value` settings (`--set`), for the
//! `*-max-*` limits and `list-compress-depth`; other directives are ignored.

use crate::server::EncodingLimits;

/// Applies one setting to `limits`. Both names of a limit are accepted
/// (`hash-max-listpack-entries` and 6.x's `hash-max-ziplist-entries`).
/// `Ok(false)` for a directive that is not an encoding limit; an error
/// for a limit whose value is not a number the server would take.
pub fn apply_setting(limits: &mut EncodingLimits, name: &str, value: &str) -> Result<bool, String> {
    let name = name
        .trim()
        .to_ascii_lowercase()
        .replace("ziplist", "listpack");
    let value = value.trim().trim_matches('"');
    let number = || -> Result<i64, String> {
        value
            .parse::<i64>()
            .map_err(|_| format!("{name} {value:?}: expected an integer"))
    };
    let count = || -> Result<u64, String> {
        u64::try_from(number()?).map_err(|_| format!("{name} {value:?}: must not be negative"))
    };
    match name.as_str() {
        "hash-max-listpack-entries" => limits.hash_max_listpack_entries = count()?,
        "hash-max-listpack-value" => limits.hash_max_listpack_value = count()?,
        "zset-max-listpack-entries" => limits.zset_max_listpack_entries = count()?,
        "zset-max-listpack-value" => limits.zset_max_listpack_value = count()?,
        "set-max-intset-entries" => limits.set_max_intset_entries = count()?,
        "set-max-listpack-entries" => limits.set_max_listpack_entries = count()?,
        "set-max-listpack-value" => limits.set_max_listpack_value = count()?,
        "list-compress-depth" => limits.list_compress_depth = count()?,
        "list-max-listpack-size" => {
            // -1..-5: 4, 8, 16, 32 or 64 KB nodes. A positive size caps the
            // entries per node instead, which the model does not follow:
            // taken as 8 KB nodes.
            limits.list_max_listpack_bytes = match number()? {
                n @ -5..=-1 => 4096 << (-n - 1),
                n if n > 0 => 8192,
                _ => return Err(format!("{name} {value:?}: expected -5..-1 or a count")),
            }
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// Applies every encoding limit set in a `redis.conf` text (one
/// `directive value` a line, `#` comments); returns how many were set.
/// Errors name the line.
pub fn apply_config_file(limits: &mut EncodingLimits, text: &str) -> Result<usize, String> {
    let mut set = 0;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.splitn(2, char::is_whitespace);
        let (Some(name), Some(value)) = (parts.next(), parts.next()) else {
            continue;
        };
        if apply_setting(limits, name, value).map_err(|e| format!("line {}: {e}", i + 1))? {
            set += 1;
        }
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_limits_from_a_config_file() {
        let mut l = EncodingLimits::default();
        let n = apply_config_file(
            &mut l,
            "# sample\nport 6379\nhash-max-ziplist-entries 128\n\
             zset-max-listpack-value 32\nlist-max-listpack-size -3\nlist-compress-depth 1\n",
        )
        .unwrap();
        assert_eq!(n, 4);
        assert_eq!(l.hash_max_listpack_entries, 128);
        assert_eq!(l.zset_max_listpack_value, 32);
        assert_eq!(l.list_max_listpack_bytes, 16384);
        assert_eq!(l.list_compress_depth, 1);
        assert_eq!(l.set_max_intset_entries, 512);
        assert!(apply_setting(&mut l, "set-max-intset-entries", "-4").is_err());
        let e = apply_config_file(&mut l, "\nhash-max-listpack-value lots\n").unwrap_err();
        assert!(e.starts_with("line 2:"), "{e}");
        assert_eq!(apply_setting(&mut l, "maxmemory", "1gb"), Ok(false));
    }
}
