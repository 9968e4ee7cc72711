//! `rdbscope analyze`: one parallel pass per file through the analyzer
//! crate, then the aggregate tables, summary.json and a report.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use analyzer::output::{parquet, summary, terminal};
use analyzer::{analyze_rdb, with_keys_writer, FileReport, Options, RedisVersion};
use anyhow::{bail, Context};

use crate::args::AnalyzeArgs;
use std::sync::atomic::AtomicU64;

use rdb_parser::Rdb;

use crate::input::Input;

/// Checks the arguments and turns them into analyzer options.
fn options(a: &AnalyzeArgs) -> anyhow::Result<Options> {
    let Some(separators) = analyzer::prefix::Separators::parse(&a.separators) else {
        bail!(
            "--separators: give the separator characters (ASCII, not `*`, e.g. \":|\") or `auto`"
        );
    };
    if a.prefix_depth == 0 || a.prefix_cap == 0 {
        bail!("--prefix-depth and --prefix-cap must be at least 1");
    }
    let redis_version = match &a.redis_version {
        None => None,
        Some(v) => Some(
            RedisVersion::parse(v)
                .with_context(|| format!("--redis-version {v:?}: expected X.Y, e.g. 7.2"))?,
        ),
    };
    Ok(Options {
        top_n: a.top,
        bigkey_bytes: a.bigkey_bytes,
        bigkey_elements: a.bigkey_elements,
        redis_version,
        allocator: analyzer::memory::Allocator::from_name(&a.allocator)
            .unwrap_or(analyzer::memory::Allocator::Jemalloc),
        separators,
        prefix_cap: a.prefix_cap,
        prefix_depth: a.prefix_depth,
        fresh_load: a.loaded,
        ..Options::default()
    })
}

fn analyze_all(
    inputs: &[(&Input, Rdb<'_>)],
    opts: &Options,
    sink: Option<&analyzer::KeysSink>,
    progress: &AtomicU64,
) -> analyzer::Result<Vec<FileReport>> {
    inputs
        .iter()
        .map(|(i, rdb)| {
            analyze_rdb(
                *rdb,
                &i.path.display().to_string(),
                opts,
                sink,
                Some(progress),
            )
        })
        .collect()
}

fn write_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

pub(crate) fn run(a: AnalyzeArgs) -> anyhow::Result<()> {
    let opts = options(&a)?;
    super::init_threads(a.threads);
    let started = Instant::now();
    std::fs::create_dir_all(&a.out)
        .with_context(|| format!("cannot create {}", a.out.display()))?;
    let inputs = a
        .files
        .iter()
        .map(|f| Input::open(f))
        .collect::<anyhow::Result<Vec<_>>>()?;
    // Each file gives its pages back as it is read, so memory stays bounded.
    let rdbs = inputs
        .iter()
        .map(|i| Ok((i, i.rdb()?)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let total: u64 = inputs.iter().map(|i| i.bytes().len() as u64).sum();
    let progress = crate::progress::Progress::start("analyze", total);
    let mut outputs = Vec::new();
    let reports = if a.no_keys {
        analyze_all(&rdbs, &opts, None, progress.counter())?
    } else {
        let path = a.out.join("keys.parquet");
        let (reports, _rows) = with_keys_writer(&path, |sink| {
            analyze_all(&rdbs, &opts, Some(sink), progress.counter())
        })?;
        outputs.push(path);
        reports
    };
    drop(progress);
    outputs.extend(parquet::write_aggregates(&a.out, &reports)?);
    let summary_path = a.out.join("summary.json");
    outputs.push(summary_path.clone());
    let outputs: Vec<String> = outputs.iter().map(|p| p.display().to_string()).collect();
    let json = summary::summary_json(&reports, a.top, started.elapsed().as_secs_f64(), &outputs);
    let mut text = serde_json::to_vec_pretty(&json).context("cannot format summary.json")?;
    text.push(b'\n');
    write_file(&summary_path, &text)?;
    let mut stdout = std::io::stdout().lock();
    if a.format == "json" {
        stdout.write_all(&text)?;
    } else {
        stdout.write_all(terminal::render(&reports, a.top).as_bytes())?;
        writeln!(stdout, "\nwrote {}", outputs.join(", "))?;
    }
    stdout.flush()?;
    Ok(())
}
