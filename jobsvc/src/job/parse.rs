//! What checking a ticket's parameters depends on besides the parameters,
//! and the check of an RDB file a ticket may read.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// What checking parameters depends on besides the parameters.
#[derive(Clone, Copy, Debug)]
pub struct ParseCtx<'a> {
    /// Directories RDB files may be read from.
    pub allowed_dirs: &'a [PathBuf],
    /// Longest MONITOR window.
    pub max_monitor_secs: u64,
    /// Whether the submitter is an admin (some switches, e.g. a cleanup's
    /// `force`, are theirs alone).
    pub is_admin: bool,
}

/// An RDB file a ticket may read: absolute, existing, a regular file, and
/// (after resolving links) inside one of `allowed_dirs`.
pub fn check_allowed_file(file: &Path, allowed_dirs: &[PathBuf]) -> Result<PathBuf> {
    if !file.is_absolute() {
        return Err(Error::bad_request(format!(
            "file {} must be an absolute path",
            file.display()
        )));
    }
    let real = file
        .canonicalize()
        .map_err(|e| Error::bad_request(format!("file {}: {e}", file.display())))?;
    if !real.is_file() {
        return Err(Error::bad_request(format!(
            "file {} is not a regular file",
            file.display()
        )));
    }
    let inside = allowed_dirs.iter().any(|d| {
        d.canonicalize()
            .map(|d| real.starts_with(d))
            .unwrap_or(false)
    });
    if !inside {
        return Err(Error::forbidden(format!(
            "file {} is outside the service's allowed_dirs",
            file.display()
        )));
    }
    Ok(real)
}
