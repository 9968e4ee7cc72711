//! Where `analyze --layout hive` puts a run: `snapshot_date=YYYY-MM-DD/source=NAME`
//! partition folders, so a directory of many runs is one dataset.

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use rdb_parser::{Rdb, Record};

/// The partition folder of one file's run under `out`.
pub(crate) fn partition_dir(out: &Path, date: &str, source: &str) -> PathBuf {
    out.join(format!("snapshot_date={}", escape(date)))
        .join(format!("source={}", escape(source)))
}

/// The default source name: the file name without a `.rdb` ending.
pub(crate) fn source_of(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match name.strip_suffix(".rdb") {
        Some(stem) if !stem.is_empty() => stem.to_string(),
        _ => name,
    }
}

/// The snapshot's UTC date: the RDB's `ctime` aux field when present, else
/// the file's modification time.
pub(crate) fn snapshot_date(rdb: &Rdb<'_>, path: &Path) -> anyhow::Result<String> {
    let secs = match ctime(rdb) {
        Some(c) => c,
        None => {
            let modified = std::fs::metadata(path)
                .and_then(|m| m.modified())
                .map_err(|e| anyhow::anyhow!("{}: no ctime and no mtime: {e}", path.display()))?;
            match modified.duration_since(UNIX_EPOCH) {
                Ok(d) => d.as_secs() as i64,
                Err(e) => -(e.duration().as_secs() as i64),
            }
        }
    };
    Ok(utc_date(secs))
}

/// The `ctime` aux field (seconds since the epoch), read from the aux
/// fields at the start of the file.
fn ctime(rdb: &Rdb<'_>) -> Option<i64> {
    let mut name_buf = Vec::new();
    let mut value_buf = Vec::new();
    for r in rdb.records() {
        let Ok(Record::Aux { name, value }) = r else {
            return None;
        };
        if name.bytes(&mut name_buf).ok()? == b"ctime" {
            let v = value.bytes(&mut value_buf).ok()?;
            return std::str::from_utf8(v).ok()?.trim().parse().ok();
        }
    }
    None
}

/// `YYYY-MM-DD` of a Unix time in UTC: the date part of the analyzer's
/// one civil-date conversion (`2024-01-31 10:05 UTC`).
fn utc_date(secs: i64) -> String {
    let minute = analyzer::prefix::utc_minute(secs.saturating_mul(1000));
    minute[..minute.len() - " 00:00 UTC".len()].to_string()
}

/// A partition value as a safe path segment: the characters Hive escapes
/// (and control characters) become `%XX`, as Hive writes them; engines
/// reading the dataset decode them back. An empty value is Hive's
/// `__HIVE_DEFAULT_PARTITION__`; `.` and `..` are escaped whole.
fn escape(value: &str) -> String {
    if value.is_empty() {
        return "__HIVE_DEFAULT_PARTITION__".to_string();
    }
    let all_dots = value.bytes().all(|b| b == b'.');
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        let unsafe_char = c.is_ascii_control()
            || matches!(
                c,
                '"' | '#' | '%' | '\'' | '*' | '/' | ':' | '=' | '?' | '\\' | '{' | '[' | ']' | '^'
            )
            || (all_dots && c == '.');
        if unsafe_char {
            out.push_str(&format!("%{:02X}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc_civil_dates() {
        assert_eq!(utc_date(0), "1970-01-01");
        assert_eq!(utc_date(951_782_400), "2000-02-29");
        assert_eq!(utc_date(1_700_000_000), "2023-11-14");
        assert_eq!(utc_date(-1), "1969-12-31");
    }

    #[test]
    fn values_are_escaped_as_hive_does() {
        assert_eq!(escape("node-1"), "node-1");
        assert_eq!(escape("a/b=c:d"), "a%2Fb%3Dc%3Ad");
        assert_eq!(escape("50%"), "50%25");
        assert_eq!(escape(".."), "%2E%2E");
        assert_eq!(escape("a.b"), "a.b");
        assert_eq!(escape(""), "__HIVE_DEFAULT_PARTITION__");
        assert_eq!(
            partition_dir(Path::new("o"), "2024-01-02", "x/y"),
            Path::new("o/snapshot_date=2024-01-02/source=x%2Fy")
        );
    }

    /// A minimal RDB: the given aux fields, then EOF and a zero checksum.
    fn rdb_with_aux(aux: &[(&str, &str)]) -> Vec<u8> {
        let mut data = b"REDIS0011".to_vec();
        for (name, value) in aux {
            data.push(0xFA);
            for s in [name, value] {
                data.push(s.len() as u8);
                data.extend_from_slice(s.as_bytes());
            }
        }
        data.push(0xFF);
        data.extend_from_slice(&[0; 8]);
        data
    }

    #[test]
    fn the_date_is_ctime_else_the_file_mtime() {
        let with = rdb_with_aux(&[("redis-ver", "7.2.4"), ("ctime", "1700000000")]);
        let rdb = Rdb::new(&with).unwrap();
        assert_eq!(ctime(&rdb), Some(1_700_000_000));
        assert_eq!(
            snapshot_date(&rdb, Path::new("missing.rdb")).unwrap(),
            "2023-11-14"
        );
        let without = rdb_with_aux(&[("redis-ver", "7.2.4")]);
        let rdb = Rdb::new(&without).unwrap();
        assert_eq!(ctime(&rdb), None);
        // No ctime: the file's modification time (this source file's).
        let here = Path::new(file!());
        let modified = std::fs::metadata(here).unwrap().modified().unwrap();
        let secs = modified.duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
        assert_eq!(snapshot_date(&rdb, here).unwrap(), utc_date(secs));
        assert!(snapshot_date(&rdb, Path::new("missing.rdb")).is_err());
    }

    #[test]
    fn source_is_the_file_stem() {
        assert_eq!(source_of(Path::new("/d/node-1.rdb")), "node-1");
        assert_eq!(source_of(Path::new("dump")), "dump");
        assert_eq!(source_of(Path::new(".rdb")), ".rdb");
    }
}
