//! Temp dirs, workspace paths, the shared RDB corpus.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The workspace root (`testkit/..`).
pub fn workspace_root() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    p.canonicalize().unwrap_or(p)
}

/// True when `RDBSCOPE_KEEP_TMP` is set (temp dirs and server dirs are then kept for inspection).
pub(crate) fn keep_tmp() -> bool {
    std::env::var_os("RDBSCOPE_KEEP_TMP").is_some()
}

/// A fresh directory under `std::env::temp_dir()`, removed on drop
/// (kept when env `RDBSCOPE_KEEP_TMP` is set).
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates `<tmp>/rdbscope-<tag>-<pid>-<counter>-<nanos>`.
    pub fn new(tag: &str) -> std::io::Result<TempDir> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let tag: String = tag
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        loop {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = std::env::temp_dir()
                .join(format!("rdbscope-{tag}-{}-{n}-{nanos}", std::process::id()));
            match std::fs::create_dir(&path) {
                Ok(()) => return Ok(TempDir { path }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `self.path().join(name)`.
    pub fn join(&self, name: impl AsRef<Path>) -> PathBuf {
        self.path.join(name)
    }

    /// Keeps the directory on disk and returns its path.
    pub fn into_path(self) -> PathBuf {
        let p = self.path.clone();
        std::mem::forget(self);
        p
    }
}

impl AsRef<Path> for TempDir {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if keep_tmp() {
            eprintln!(
                "testkit: keeping {} (RDBSCOPE_KEEP_TMP)",
                self.path.display()
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// A fresh temp dir (see [`TempDir::new`]); panics if it cannot be created.
#[track_caller]
pub fn temp_dir(tag: &str) -> TempDir {
    TempDir::new(tag).unwrap_or_else(|e| panic!("cannot create temp dir for {tag:?}: {e}"))
}

/// The RDB corpus folder: `$RDB_CORPUS` if set, else `<workspace>/../shared/rdb-corpus` if it
/// exists. When there is none, prints a loud SKIP line and returns `None` (never panics, also in CI).
pub fn corpus_dir() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("RDB_CORPUS") {
        let p = PathBuf::from(p);
        if p.is_dir() {
            return Some(p);
        }
        eprintln!(
            "SKIP: RDB_CORPUS={} is not a directory; corpus tests skipped",
            p.display()
        );
        return None;
    }
    let p = workspace_root()
        .join("..")
        .join("shared")
        .join("rdb-corpus");
    if p.is_dir() {
        return Some(p.canonicalize().unwrap_or(p));
    }
    eprintln!(
        "SKIP: no RDB corpus (set RDB_CORPUS or provide {}); corpus tests skipped",
        p.display()
    );
    None
}

/// Every `*.rdb` file under [`corpus_dir`], recursively, sorted; empty when there is no corpus.
pub fn corpus_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(d) = corpus_dir() {
        collect_rdb(&d, &mut out);
    }
    out.sort();
    out
}

fn collect_rdb(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            collect_rdb(&p, out);
        } else if p.extension().is_some_and(|x| x.eq_ignore_ascii_case("rdb")) && p.is_file() {
            out.push(p);
        }
    }
}
