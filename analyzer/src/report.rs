//! A whole analysis written to a directory: what `rdbscope analyze` and the
//! job service's analysis tickets both produce from one or more RDB files.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use rdb_parser::Rdb;

use crate::accumulator::FileReport;
use crate::analyze::{analyze_rdb, Options};
use crate::error::{Error, Result};
use crate::output::keys::{with_keys_writer, KeysSink};
use crate::output::{html, parquet, summary, terminal};

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
/// `keys_table`), the aggregate tables, `summary.json`, `summary.txt` and
/// `report.html`.
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

/// Writes the aggregate tables, `summary.json`, `summary.txt` and
/// `report.html`, adding
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
    outputs.push(out.join(html::REPORT_HTML));
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
    html::write_html(out, &html::view_of(&summary, files))?;
    Ok((summary, text))
}

#[cfg(test)]
mod tests {
    use ::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Int32Type, Int64Type, UInt64Type};
    use arrow_array::Array;
    use std::fs::File;

    use ::parquet::basic::ZstdLevel;
    use arrow_array::RecordBatch;

    use super::*;
    use crate::analyze::analyze_file;
    use crate::output::keys::{keys_schema, KeysCompression};
    use crate::output::parquet::{write_aggregates, EXPIRY_PREFIXES};
    use crate::testutil::{sample, TempDir};

    fn read_all(path: &Path) -> Vec<RecordBatch> {
        let f = File::open(path).unwrap();
        ParquetRecordBatchReaderBuilder::try_new(f)
            .unwrap()
            .build()
            .unwrap()
            .map(|b| b.unwrap())
            .collect()
    }

    #[test]
    fn every_keys_codec_reads_back() {
        let dir = TempDir::new("codecs");
        let data = sample();
        for (name, codec) in [
            ("snappy", ::parquet::basic::Compression::SNAPPY),
            (
                "zstd",
                ::parquet::basic::Compression::ZSTD(ZstdLevel::default()),
            ),
            ("lz4", ::parquet::basic::Compression::LZ4_RAW),
            ("none", ::parquet::basic::Compression::UNCOMPRESSED),
        ] {
            let opts = Options {
                keys_compression: KeysCompression::from_name(name).unwrap(),
                ..Options::default()
            };
            let path = dir.0.join(format!("keys-{name}.parquet"));
            let (_, rows, _) = with_keys_writer(&path, opts.keys_compression, |sink| {
                analyze_file(&data, "sample.rdb", &opts, Some(sink))
            })
            .unwrap();
            let reader =
                ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap()).unwrap();
            let meta = reader.metadata().clone();
            let column = meta.row_group(0).column(2);
            assert_eq!(column.compression(), codec, "{name}");
            assert!(
                column.statistics().is_none(),
                "the key column has no statistics"
            );
            let read: usize = read_all(&path).iter().map(|b| b.num_rows()).sum();
            assert_eq!(read as u64, rows, "{name}");
        }
        assert_eq!(KeysCompression::from_name("gzip"), None);
    }

    #[test]
    fn keys_and_aggregates_round_trip() {
        let dir = TempDir::new("parquet");
        let data = sample();
        let opts = Options {
            chunk_bytes: 64, // several chunks, several worker batches
            ..Options::default()
        };
        let keys_path = dir.0.join("keys.parquet");
        let (report, rows, _) = with_keys_writer(&keys_path, opts.keys_compression, |sink| {
            analyze_file(&data, "sample.rdb", &opts, Some(sink))
        })
        .unwrap();
        assert_eq!(rows, 11);
        let batches = read_all(&keys_path);
        assert_eq!(*batches[0].schema(), *keys_schema());
        let mut found = Vec::new();
        for b in &batches {
            let src = b.column(0).as_string::<i32>();
            let db = b.column(1).as_primitive::<Int32Type>();
            let key = b.column(2).as_binary::<i32>();
            let ty = b.column(3).as_string::<i32>();
            let enc = b.column(4).as_string::<i32>();
            let elements = b.column(7).as_primitive::<UInt64Type>();
            let exp = b.column(9).as_primitive::<Int64Type>();
            for i in 0..b.num_rows() {
                assert_eq!(src.value(i), "sample.rdb");
                found.push((
                    db.value(i),
                    key.value(i).to_vec(),
                    ty.value(i).to_owned(),
                    enc.value(i).to_owned(),
                    elements.value(i),
                    exp.is_valid(i).then(|| exp.value(i)),
                ));
            }
        }
        found.sort();
        assert_eq!(found.len(), 11);
        let get = |k: &[u8]| found.iter().find(|r| r.1 == k).unwrap().clone();
        assert_eq!(
            get(b"big"),
            (
                0,
                b"big".to_vec(),
                "string".into(),
                "raw".into(),
                200 * 1024,
                None
            )
        );
        assert_eq!(get(b"set").3, "intset");
        assert_eq!(get(b"set").4, 4);
        assert_eq!(get(b"hash").4, 2);
        assert_eq!(get(b"other-db").0, 3);
        assert_eq!(get(b"ttl:soon").5, Some(1_700_000_000_000 + 60_000));

        let written = write_aggregates(&dir.0, std::slice::from_ref(&report)).unwrap();
        assert_eq!(written.len(), 8);
        let rows_of = |name: &str| -> usize {
            read_all(&dir.0.join(name))
                .iter()
                .map(|b| b.num_rows())
                .sum()
        };
        assert_eq!(rows_of("dbs.parquet"), 2);
        assert_eq!(rows_of("hotkeys.parquet"), 0);
        let tree = report.acc.prefixes.tree();
        let prefix_rows = tree.top_by_memory(3, EXPIRY_PREFIXES).len();
        assert!(prefix_rows > 0);
        assert_eq!(rows_of("expiry.parquet"), 7 * (1 + prefix_rows));
        assert_eq!(rows_of("prefixes.parquet"), tree.rows.len());
        // ttl:soon expires a minute after the snapshot; the other TTL key
        // of the sample is far away or expired.
        assert_eq!(rows_of("expiry_cliffs.parquet"), 1);
        assert_eq!(rows_of("types.parquet"), report.acc.types.len());
        assert_eq!(
            rows_of("slots.parquet"),
            report.acc.slots.iter().filter(|s| s.keys > 0).count()
        );
        let big = read_all(&dir.0.join("bigkeys.parquet"));
        let reasons: Vec<String> = big
            .iter()
            .flat_map(|b| {
                let r = b.column(1).as_string::<i32>();
                (0..b.num_rows())
                    .map(|i| r.value(i).to_owned())
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(reasons.iter().filter(|r| *r == "over_threshold").count(), 1);
        assert!(reasons.iter().any(|r| r == "top_memory"));
    }
}
