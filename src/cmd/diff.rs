//! `rdbscope diff OLD NEW`: resolves each side to an analysis output
//! directory (analyzing RDB inputs first, as `analyze` does), compares
//! them with the analyzer's diff and writes its outputs.

use std::io::Write;
use std::path::{Path, PathBuf};

use analyzer::diff::{diff, load_side, write_diff};
use analyzer::report::write_report;
use analyzer::Options;
use anyhow::bail;
use rdb_parser::Rdb;

use crate::args::DiffArgs;
use crate::input::Input;
use crate::usage::usage_error;

/// What a side was given as.
enum SideInput {
    /// An analysis output directory.
    Dir(PathBuf),
    /// RDB files, analyzed together.
    Files(Vec<PathBuf>),
}

/// What a path is.
#[derive(PartialEq)]
enum Kind {
    Dir,
    Rdb,
    Other,
}

fn kind_of(label: &str, path: &Path) -> anyhow::Result<Kind> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!(
                "{label}: {}: missing (no such file or directory)",
                path.display()
            )
        }
        Err(e) => bail!("{label}: {}: {e}", path.display()),
    };
    if meta.is_dir() {
        return Ok(Kind::Dir);
    }
    let mut head = [0u8; 6];
    let n = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
        .map_err(|e| anyhow::anyhow!("{label}: {}: {e}", path.display()))?;
    let head = &head[..n];
    Ok(
        if head.starts_with(b"REDIS") || head.starts_with(b"VALKEY") {
            Kind::Rdb
        } else {
            Kind::Other
        },
    )
}

/// The two sides from the arguments: positional paths fill the sides not
/// given with --old / --new, in order.
fn sides(a: &DiffArgs) -> anyhow::Result<(Vec<PathBuf>, Vec<PathBuf>)> {
    use clap::error::ErrorKind;
    let mut paths = a.paths.iter().cloned();
    let mut side = |files: &[PathBuf]| -> Option<Vec<PathBuf>> {
        if files.is_empty() {
            paths.next().map(|p| vec![p])
        } else {
            Some(files.to_vec())
        }
    };
    let (old, new) = (side(&a.old_files), side(&a.new_files));
    let leftover: Vec<PathBuf> = paths.collect();
    match (old, new) {
        (Some(old), Some(new)) if leftover.is_empty() => Ok((old, new)),
        _ => Err(usage_error(
            &["diff"],
            ErrorKind::MissingRequiredArgument,
            "give OLD and NEW once each: `rdbscope diff OLD NEW` (directories or RDB files), \
             or repeat --old FILE / --new FILE for sets of RDB files",
        )),
    }
}

/// Checks a side's paths: one directory, or RDB files only.
fn classify(
    label: &str,
    other: &str,
    paths: Vec<PathBuf>,
    other_paths: &[PathBuf],
) -> anyhow::Result<SideInput> {
    let kinds = paths
        .iter()
        .map(|p| kind_of(label, p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if let ([path], [Kind::Dir]) = (paths.as_slice(), kinds.as_slice()) {
        return Ok(SideInput::Dir(path.clone()));
    }
    for (p, k) in paths.iter().zip(&kinds) {
        match k {
            Kind::Rdb => {}
            Kind::Dir => bail!(
                "{label}: {}: a directory among several inputs (a side is one analysis \
                 directory, or RDB files)",
                p.display()
            ),
            Kind::Other => {
                let hint = match other_paths.first().map(|o| kind_of(other, o)) {
                    Some(Ok(Kind::Rdb)) => format!(" ({other} is an RDB file)"),
                    Some(Ok(Kind::Dir)) => format!(" ({other} is a directory)"),
                    _ => String::new(),
                };
                bail!(
                    "{label}: {}: neither an analysis output directory nor an RDB file \
                     (it does not start with REDIS or VALKEY){hint}",
                    p.display()
                )
            }
        }
    }
    Ok(SideInput::Files(paths))
}

/// A directory removed when dropped (the analyses of RDB inputs).
struct Scratch(Option<PathBuf>);

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Some(dir) = &self.0 {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Analyzes `files` into `dir`, as `analyze --out dir` would.
fn analyze_into(files: &[PathBuf], dir: &Path, a: &DiffArgs) -> anyhow::Result<()> {
    let inputs = files
        .iter()
        .map(|f| Input::open(f))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let named = inputs
        .iter()
        .map(|i| Ok((i.rdb()?, i.path.display().to_string())))
        .collect::<anyhow::Result<Vec<(Rdb<'_>, String)>>>()?;
    let total: u64 = inputs.iter().map(|i| i.bytes().len() as u64).sum();
    let progress = crate::progress::Progress::start("analyze", total);
    write_report(
        &named,
        &Options::default(),
        dir,
        !a.no_keys,
        progress.counter(),
    )?;
    Ok(())
}

/// The side's analysis directory (analyzing RDB inputs into `out/name`),
/// and the names of its inputs.
fn resolve(
    input: &SideInput,
    out: &Path,
    name: &str,
    a: &DiffArgs,
    scratch: &mut Vec<Scratch>,
) -> anyhow::Result<(PathBuf, Vec<String>)> {
    match input {
        SideInput::Dir(dir) => Ok((dir.clone(), vec![dir.display().to_string()])),
        SideInput::Files(files) => {
            let dir = if a.keep_analyses {
                out.join(name)
            } else {
                out.join(format!(".{name}-analysis.tmp"))
            };
            if dir.exists() {
                std::fs::remove_dir_all(&dir)
                    .map_err(|e| anyhow::anyhow!("cannot clear {}: {e}", dir.display()))?;
            }
            if !a.keep_analyses {
                scratch.push(Scratch(Some(dir.clone())));
            }
            analyze_into(files, &dir, a)?;
            Ok((dir, files.iter().map(|f| f.display().to_string()).collect()))
        }
    }
}

pub(crate) fn run(a: DiffArgs) -> anyhow::Result<()> {
    let (old, new) = sides(&a)?;
    let old_in = classify("OLD", "NEW", old.clone(), &new)?;
    let new_in = classify("NEW", "OLD", new, &old)?;
    crate::threads::init_threads(a.threads);
    let mut scratch = Vec::new();
    let (old_dir, old_names) = resolve(&old_in, &a.out, "old", &a, &mut scratch)?;
    let (new_dir, new_names) = resolve(&new_in, &a.out, "new", &a, &mut scratch)?;
    let old_side = load_side("OLD", &old_dir, old_names)?;
    let new_side = load_side("NEW", &new_dir, new_names)?;
    let d = diff(&old_side, &new_side)?;
    let written = write_diff(&a.out, &d)?;
    drop(scratch);
    let mut stdout = std::io::stdout().lock();
    if a.json {
        serde_json::to_writer_pretty(&mut stdout, &written.json)?;
        writeln!(stdout)?;
    } else {
        stdout.write_all(written.text.as_bytes())?;
        let names: Vec<String> = written
            .outputs
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        writeln!(stdout, "\nwrote {}", names.join(", "))?;
    }
    stdout.flush()?;
    Ok(())
}
