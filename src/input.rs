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
        let map = if rdb_parser::lz4frame::is_lz4_frame(&map) {
            decompressed(path, &map)?
        } else {
            map
        };
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

/// An LZ4-framed file, decompressed in bounded memory into an unnamed
/// temporary file (created in the temporary directory, `TMPDIR`, and
/// unlinked at once: it goes when the map does), then mapped, so it is read
/// in parallel like any RDB file.
fn decompressed(path: &Path, compressed: &[u8]) -> anyhow::Result<Mmap> {
    let name = format!(
        "rdbscope-lz4-{}-{}.rdb",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    );
    let tmp = std::env::temp_dir().join(name);
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&tmp)
        .with_context(|| format!("cannot create {}", tmp.display()))?;
    let _ = std::fs::remove_file(&tmp);
    let mut out = std::io::BufWriter::with_capacity(1 << 20, &file);
    rdb_parser::lz4frame::decompress_to(compressed, &mut out)
        .map_err(|e| anyhow::anyhow!("{} (LZ4 frame): {e}", path.display()))?;
    std::io::Write::flush(&mut out)
        .with_context(|| format!("writing the decompressed {}", path.display()))?;
    drop(out);
    #[allow(unsafe_code)]
    // Safety: the file is ours alone, unlinked, and no longer written.
    let map = unsafe { mmap::map(&file) }
        .with_context(|| format!("cannot map the decompressed {}", path.display()))?;
    Ok(map)
}

/// Attaches the entry's key to an error raised while decoding its value.
pub(crate) fn with_key(e: rdb_parser::Error, entry: &Entry<'_>) -> rdb_parser::Error {
    let mut buf = Vec::new();
    match entry.key.bytes(&mut buf) {
        Ok(k) => e.with_key(k),
        Err(_) => e,
    }
}
