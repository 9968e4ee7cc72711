//! `rdbscope diff`: two analyses compared, pattern by pattern ([`diff`]),
//! and written out: `diff.parquet` and the other `diff_*.parquet` tables,
//! `diff.json`, `diff.txt` (the terminal summary) and `diff.html`
//! ([`write_diff`]).
//!
//! A side is an analysis output directory ([`load_side`]): its
//! `summary.json` and aggregate tables summed over every source (several
//! cluster nodes make one side), so a side analyzed with `--no-keys`
//! still compares; `keys.parquet`, when both sides have it, tells a big
//! key that vanished from one that only left the top lists.

pub mod compute;
pub mod highlights;
pub mod html;
pub mod json;
pub mod keys;
pub mod matching;
pub mod model;
pub mod parquet;
pub mod read;
pub mod side;
pub mod terminal;

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

pub use compute::diff;
pub use model::{Diff, Fig, KeyChange, KeyChangeKind, KeySide, Pattern, Row, Status};
pub use side::{load_side, Side};

/// What [`write_diff`] wrote.
#[derive(Debug)]
pub struct DiffOutput {
    /// Every file written.
    pub outputs: Vec<PathBuf>,
    /// The content of `diff.json`.
    pub json: serde_json::Value,
    /// The terminal summary (also in `diff.txt`).
    pub text: String,
}

/// Writes `path` through a temporary file renamed into place.
fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|err| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path, err)
    })
}

/// Writes every output of `d` into `out` (created if missing).
pub fn write_diff(out: &Path, d: &Diff) -> Result<DiffOutput> {
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let mut outputs = parquet::write_tables(out, d)?;
    let json_path = out.join("diff.json");
    let text_path = out.join("diff.txt");
    let html_path = out.join("diff.html");
    outputs.extend([json_path.clone(), text_path.clone(), html_path.clone()]);
    let names: Vec<String> = outputs.iter().map(|p| p.display().to_string()).collect();
    let json = json::diff_json(d, &names);
    let mut bytes = serde_json::to_vec_pretty(&json).map_err(|e| Error::Invalid(e.to_string()))?;
    bytes.push(b'\n');
    write_file(&json_path, &bytes)?;
    let text = terminal::render(d);
    write_file(&text_path, text.as_bytes())?;
    write_file(&html_path, html::render(d).as_bytes())?;
    Ok(DiffOutput {
        outputs,
        json,
        text,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU64;

    use super::*;
    use crate::testutil::{sample, TempDir};
    use crate::Options;

    #[test]
    fn a_snapshot_against_itself_changes_nothing() {
        let dir = TempDir::new("diff-self");
        let data = sample();
        let rdb = rdb_parser::Rdb::new(&data).unwrap();
        let inputs = [(rdb, "sample.rdb".to_owned())];
        let done = AtomicU64::new(0);
        let (a, b) = (dir.0.join("a"), dir.0.join("b"));
        let opts = Options::default();
        crate::report::write_report(&inputs, &opts, &a, true, &done).unwrap();
        crate::report::write_report(&inputs, &opts, &b, false, &done).unwrap();
        let old = load_side("OLD", &a, vec!["a".into()]).unwrap();
        let new = load_side("NEW", &b, vec!["b".into()]).unwrap();
        assert!(old.meta.has_keys && !new.meta.has_keys);
        let d = diff(&old, &new).unwrap();
        assert!(!d.prefixes.is_empty() && !d.types.is_empty() && !d.dbs.is_empty());
        assert!(d.prefixes.iter().all(|r| r.status() == Status::Unchanged));
        assert!(d.types.iter().all(|r| r.before == r.after));
        assert!(d.expiry.iter().all(|r| r.before == r.after));
        assert!(d.keys.is_empty(), "{:?}", d.keys);
        assert!(!d.per_key);
        assert_eq!(d.notes.len(), 1, "{:?}", d.notes);
        assert_eq!(d.totals().memory_delta(), 0);
        let out = write_diff(&dir.0.join("d"), &d).unwrap();
        assert_eq!(out.outputs.len(), parquet::TABLES.len() + 3);
        assert!(out.outputs.iter().all(|p| p.is_file()));
        assert_eq!(out.json["totals"]["keys_delta"], 0);
        assert!(out.text.contains("top growth: none"));

        let err = load_side("OLD", &dir.0.join("nope"), Vec::new()).unwrap_err();
        assert!(err.to_string().contains("summary.json: missing"), "{err}");
    }
}
