//! `rdbscope analyze`: one parallel pass per file through the analyzer
//! crate, then the aggregate tables, summary.json and a report.

use std::io::Write;

use analyzer::report::write_report;
use analyzer::{Options, RedisVersion};
use anyhow::{bail, Context};
use rdb_parser::Rdb;

use super::layout;
use crate::args::AnalyzeArgs;
use crate::input::Input;
use crate::usage::usage_error;

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
    let mut limits = analyzer::EncodingLimits::default();
    if let Some(path) = &a.config_file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("--config-file {}", path.display()))?;
        analyzer::limits_config::apply_config_file(&mut limits, &text)
            .map_err(|e| anyhow::anyhow!("--config-file {}: {e}", path.display()))?;
    }
    for s in &a.set {
        let Some((name, value)) = s.split_once('=') else {
            bail!("--set {s:?}: expected NAME=VALUE, e.g. hash-max-listpack-entries=128");
        };
        if !analyzer::limits_config::apply_setting(&mut limits, name, value)
            .map_err(|e| anyhow::anyhow!("--set: {e}"))?
        {
            bail!("--set {name}: not an encoding limit (*-max-* or list-compress-depth)");
        }
    }
    Ok(Options {
        limits,
        top_n: a.top,
        bigkey_bytes: a.bigkey_bytes,
        bigkey_elements: a.bigkey_elements,
        redis_version,
        allocator: analyzer::memory::Allocator::from_name(&a.allocator)
            .unwrap_or(analyzer::memory::Allocator::Jemalloc),
        allocator_auto: a.allocator == "auto",
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

/// Checks the layout flags (`--source-name` names one file's partition)
/// and that no file is given twice.
fn check_layout(a: &AnalyzeArgs) -> anyhow::Result<()> {
    use clap::error::ErrorKind;
    if a.source_name.is_some() && a.layout != "hive" {
        return Err(usage_error(
            &["analyze"],
            ErrorKind::ArgumentConflict,
            "--source-name names a partition of --layout hive; add --layout hive",
        ));
    }
    if a.source_name.is_some() && a.files.len() > 1 {
        return Err(usage_error(
            &["analyze"],
            ErrorKind::ArgumentConflict,
            format!(
                "--source-name names one file's partition, but {} files were given; \
                 drop it (each file's partition is named after the file) or analyze one file per run",
                a.files.len()
            ),
        ));
    }
    // The same file twice would give two sources of one name, whose rows
    // the tables could not tell apart.
    let mut seen = std::collections::HashMap::new();
    for (i, f) in a.files.iter().enumerate() {
        let real = std::fs::canonicalize(f).unwrap_or_else(|_| f.clone());
        if let Some(first) = seen.insert(real, i) {
            return Err(usage_error(
                &["analyze"],
                ErrorKind::ArgumentConflict,
                format!(
                    "{} is given twice (files {} and {}): each file is one source of the tables; \
                     give it once",
                    f.display(),
                    first + 1,
                    i + 1
                ),
            ));
        }
    }
    Ok(())
}

/// Where each group of inputs is written, and the name its rows carry:
/// flat, all files together in `--out`; hive, one partition per file.
fn targets(a: &AnalyzeArgs, inputs: &[(&Input, Rdb<'_>)]) -> anyhow::Result<Vec<Target>> {
    if a.layout != "hive" {
        return Ok(vec![Target {
            dir: a.out.clone(),
            members: (0..inputs.len()).collect(),
            names: inputs
                .iter()
                .map(|(i, _)| i.path.display().to_string())
                .collect(),
        }]);
    }
    let targets = inputs
        .iter()
        .enumerate()
        .map(|(n, (i, rdb))| {
            let source = a
                .source_name
                .clone()
                .unwrap_or_else(|| layout::source_of(&i.path));
            let date = layout::snapshot_date(rdb, &i.path)?;
            Ok(Target {
                dir: layout::partition_dir(&a.out, &date, &source),
                members: vec![n],
                names: vec![source],
            })
        })
        .collect::<anyhow::Result<Vec<Target>>>()?;
    for (n, t) in targets.iter().enumerate() {
        if let Some(first) = targets[..n].iter().find(|f| f.dir == t.dir) {
            bail!(
                "{} and {} fall into the same partition {}: give the files distinct names",
                inputs[first.members[0]].0.path.display(),
                inputs[t.members[0]].0.path.display(),
                t.dir.display()
            );
        }
    }
    Ok(targets)
}

/// One report to write: into `dir`, from the inputs at `members`, their rows
/// named `names`.
struct Target {
    dir: std::path::PathBuf,
    members: Vec<usize>,
    names: Vec<String>,
}

pub(crate) fn run(a: AnalyzeArgs) -> anyhow::Result<()> {
    check_layout(&a)?;
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
    let targets = targets(&a, &rdbs)?;
    let progress = crate::progress::Progress::start("analyze", total);
    let mut reports = Vec::new();
    for t in &targets {
        let named: Vec<(Rdb<'_>, String)> = t
            .members
            .iter()
            .zip(&t.names)
            .map(|(&n, name)| (rdbs[n].1, name.clone()))
            .collect();
        reports.push(write_report(
            &named,
            &opts,
            &t.dir,
            !a.no_keys,
            progress.counter(),
        )?);
    }
    drop(progress);
    let mut stdout = std::io::stdout().lock();
    if a.format == "json" {
        // One summary as before; several hive partitions print a JSON array.
        match &reports[..] {
            [one] => serde_json::to_writer_pretty(&mut stdout, &one.summary)?,
            many => {
                let all: Vec<&serde_json::Value> = many.iter().map(|r| &r.summary).collect();
                serde_json::to_writer_pretty(&mut stdout, &all)?
            }
        }
        writeln!(stdout)?;
    } else {
        for (n, report) in reports.iter().enumerate() {
            if n > 0 {
                writeln!(stdout)?;
            }
            let outputs: Vec<String> = report
                .outputs
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            stdout.write_all(report.text.as_bytes())?;
            writeln!(stdout, "\nwrote {}", outputs.join(", "))?;
        }
    }
    stdout.flush()?;
    Ok(())
}
