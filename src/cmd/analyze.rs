//! `rdbscope analyze`: one parallel pass per file through the analyzer
//! crate, then the aggregate tables, summary.json and a report.

use std::io::Write;

use analyzer::report::write_report;
use analyzer::{Options, RedisVersion};
use anyhow::{bail, Context};
use rdb_parser::Rdb;

use crate::args::AnalyzeArgs;

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
        keys_compression: analyzer::output::parquet::KeysCompression::from_name(
            &a.keys_compression,
        )
        .unwrap_or_default(),
        ..Options::default()
    })
}

pub(crate) fn run(a: AnalyzeArgs) -> anyhow::Result<()> {
    let opts = options(&a)?;
    crate::threads::init_threads(a.threads);
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
    let named: Vec<(Rdb<'_>, String)> = rdbs
        .into_iter()
        .map(|(i, rdb)| (rdb, i.path.display().to_string()))
        .collect();
    let progress = crate::progress::Progress::start("analyze", total);
    let report = write_report(&named, &opts, &a.out, !a.no_keys, progress.counter())?;
    drop(progress);
    let outputs: Vec<String> = report
        .outputs
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let mut stdout = std::io::stdout().lock();
    if a.format == "json" {
        serde_json::to_writer_pretty(&mut stdout, &report.summary)?;
        writeln!(stdout)?;
    } else {
        stdout.write_all(report.text.as_bytes())?;
        writeln!(stdout, "\nwrote {}", outputs.join(", "))?;
    }
    stdout.flush()?;
    Ok(())
}
