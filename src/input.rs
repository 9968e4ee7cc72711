//! Opening RDB files and wording parse errors for people.

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::Context;
use rdb_parser::mmap::{self, Mmap};
use rdb_parser::{Entry, Rdb};

/// An RDB file mapped into memory.
pub(crate) struct Input {
    pub(crate) path: PathBuf,
    map: Mmap,
}

impl Input {
    pub(crate) fn open(path: &Path) -> anyhow::Result<Input> {
        let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        #[allow(unsafe_code)]
        // Safety: snapshots are written under a temporary name and renamed
        // into place, so a finished RDB file is not modified while we read it.
        let map = unsafe { mmap::map(&file) }
            .with_context(|| format!("cannot map {}", path.display()))?;
        Ok(Input {
            path: path.to_path_buf(),
            map,
        })
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.map
    }

    /// The file as an RDB whose pages are given back once read, so resident
    /// memory does not grow with the file.
    pub(crate) fn rdb(&self) -> anyhow::Result<Rdb<'_>> {
        Ok(Rdb::new(&self.map)
            .map_err(|e| self.error(e))?
            .with_page_release(&self.map))
    }

    /// Wraps a parse error with the file name.
    pub(crate) fn error(&self, e: rdb_parser::Error) -> anyhow::Error {
        anyhow::anyhow!("{}: {}", self.path.display(), e)
    }
}

/// Attaches the entry's key to an error raised while decoding its value.
pub(crate) fn with_key(e: rdb_parser::Error, entry: &Entry<'_>) -> rdb_parser::Error {
    let mut buf = Vec::new();
    match entry.key.bytes(&mut buf) {
        Ok(k) => e.with_key(k),
        Err(_) => e,
    }
}
