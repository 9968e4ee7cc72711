//! The temporary file a snapshot is written to: checked to start like an
//! RDB file, synced and renamed into place only once complete.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::redis::errors::{protocol, show};

/// The temporary file a snapshot is written to; removed on drop unless
/// committed (so an error or a cancel leaves nothing behind).
pub(super) struct TempFile {
    path: PathBuf,
    file: Option<BufWriter<File>>,
    /// Bytes written so far.
    pub(super) written: u64,
    head: Vec<u8>,
}

impl TempFile {
    /// Creates it beside `dest`.
    pub(super) fn create(dest: &Path) -> Result<TempFile> {
        let dir = match dest.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = dest
            .file_name()
            .ok_or_else(|| Error::internal(format!("bad destination {}", dest.display())))?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = dir.join(format!(
            ".{}.part-{}-{nanos}",
            name.to_string_lossy(),
            std::process::id()
        ));
        let file = File::create(&path)
            .map_err(|e| Error::internal(format!("creating {}: {e}", path.display())))?;
        Ok(TempFile {
            path,
            file: Some(BufWriter::with_capacity(1 << 20, file)),
            written: 0,
            head: Vec::new(),
        })
    }

    /// Appends payload bytes; an error once they cannot start an RDB file.
    pub(super) fn write(&mut self, data: &[u8]) -> Result<()> {
        if self.head.len() < 9 {
            let take = (9 - self.head.len()).min(data.len());
            self.head.extend_from_slice(&data[..take]);
            if !magic_possible(&self.head) {
                return Err(protocol(format!(
                    "the payload is not an RDB file (starts with `{}`)",
                    show(&self.head)
                )));
            }
        }
        if let Some(f) = self.file.as_mut() {
            f.write_all(data).map_err(|e| self.disk_error(e))?;
        }
        self.written += data.len() as u64;
        Ok(())
    }

    fn disk_error(&self, e: io::Error) -> Error {
        // A full or broken disk is not the node's fault, and retrying the
        // same write soon will not help: internal.
        Error::internal(format!("writing {}: {e}", self.path.display()))
    }

    /// Flushes, syncs and renames into `dest`; returns the size.
    pub(super) fn commit(&mut self, dest: &Path) -> Result<u64> {
        if !(self.head.starts_with(b"REDIS") || self.head.starts_with(b"VALKEY"))
            || self.head.len() < 9
        {
            return Err(protocol(format!(
                "the payload ({} bytes) is not an RDB file",
                self.written
            )));
        }
        let f = self.file.take().expect("commit once");
        let file = f
            .into_inner()
            .map_err(|e| self.disk_error(e.into_error()))?;
        file.sync_all().map_err(|e| self.disk_error(e))?;
        drop(file);
        fs::rename(&self.path, dest).map_err(|e| {
            Error::internal(format!(
                "renaming {} to {}: {e}",
                self.path.display(),
                dest.display()
            ))
        })?;
        // Make the rename itself durable.
        if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty()) {
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        self.path = PathBuf::new();
        Ok(self.written)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            self.file = None;
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Whether `head` (the first bytes) can still be the start of an RDB file.
fn magic_possible(head: &[u8]) -> bool {
    [&b"REDIS"[..], b"VALKEY"].iter().any(|m| {
        let n = m.len().min(head.len());
        head[..n] == m[..n]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_prefixes() {
        assert!(magic_possible(b""));
        assert!(magic_possible(b"RED"));
        assert!(magic_possible(b"VALKEY080"));
        assert!(magic_possible(b"REDIS0011"));
        assert!(!magic_possible(b"+OK"));
    }
}
