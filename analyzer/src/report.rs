//! A whole analysis written to a directory: what `rdbscope analyze` and the
//! job service's analysis tickets both produce from one or more RDB files.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use rdb_parser::Rdb;

use crate::error::{Error, Result};
use crate::output::{parquet, summary, terminal};
use crate::{analyze_rdb, with_keys_writer, FileReport, KeysSink, Options};

/// What [`write_report`] wrote.
#[derive(Debug)]
pub struct Report {
    /// One per input, in order.
    pub files: Vec<FileReport>,
    /// Every file written, `keys.parquet` first when asked for.
    pub outputs: Vec<PathBuf>,
    /// The content of `summary.json`.
    pub summary: serde_json::Value,
    /// The text report (also in `summary.txt`).
    pub text: String,
}

/// Analyzes `inputs` (each an opened file and the name its rows carry) in
/// one parallel pass each, and writes into `out`: `keys.parquet` (when
/// `keys_table`), the aggregate tables, `summary.json` and `summary.txt`.
/// `progress` counts the bytes done.
pub fn write_report(
    inputs: &[(Rdb<'_>, String)],
    opts: &Options,
    out: &Path,
    keys_table: bool,
    progress: &AtomicU64,
) -> Result<Report> {
    let started = Instant::now();
    std::fs::create_dir_all(out).map_err(|err| Error::Io {
        path: out.to_path_buf(),
        err,
    })?;
    let analyze_all = |sink: Option<&KeysSink>| -> Result<Vec<FileReport>> {
        inputs
            .iter()
            .map(|(rdb, source)| analyze_rdb(*rdb, source, opts, sink, Some(progress)))
            .collect()
    };
    let mut outputs = Vec::new();
    let (files, superseded) = if keys_table {
        let path = out.join("keys.parquet");
        let (files, _rows, superseded) =
            with_keys_writer(&path, opts.keys_compression, |sink| analyze_all(Some(sink)))?;
        outputs.push(path);
        (files, Some(superseded))
    } else {
        (analyze_all(None)?, None)
    };
    // The previous keys.parquet is removed while the other outputs are
    // written (ext4 takes 10-30 ms to free a large file).
    let (summary, text) = std::thread::scope(|s| {
        if let Some(old) = superseded {
            s.spawn(move || drop(old));
        }
        write_rest(out, &files, opts, started, &mut outputs)
    })?;
    Ok(Report {
        files,
        outputs,
        summary,
        text,
    })
}

/// Writes the aggregate tables, `summary.json` and `summary.txt`, adding
/// their paths to `outputs`; returns the summary and the text report.
fn write_rest(
    out: &Path,
    files: &[FileReport],
    opts: &Options,
    started: Instant,
    outputs: &mut Vec<PathBuf>,
) -> Result<(serde_json::Value, String)> {
    outputs.extend(parquet::write_aggregates(out, files)?);
    let summary_path = out.join("summary.json");
    let text_path = out.join("summary.txt");
    outputs.push(summary_path.clone());
    outputs.push(text_path.clone());
    let names: Vec<String> = outputs.iter().map(|p| p.display().to_string()).collect();
    let summary = summary::summary_json(files, opts.top_n, started.elapsed().as_secs_f64(), &names);
    let mut json =
        serde_json::to_vec_pretty(&summary).map_err(|e| Error::Invalid(e.to_string()))?;
    json.push(b'\n');
    let text = terminal::render(files, opts.top_n);
    for (path, bytes) in [(&summary_path, &json[..]), (&text_path, text.as_bytes())] {
        std::fs::write(path, bytes).map_err(|err| Error::Io {
            path: path.clone(),
            err,
        })?;
    }
    Ok((summary, text))
}
