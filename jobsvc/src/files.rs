//! Where a ticket's files live on the service host, and how an RDB file is
//! mapped for the parser.

use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::error::{Error, Result};

/// Where a ticket's report files live.
pub fn report_dir(config: &Config, id: i64) -> PathBuf {
    config.ticket_dir(id).join("report")
}

/// Maps a file read-only for the parser.
#[allow(unsafe_code)]
pub(crate) fn map_file(path: &Path) -> Result<rdb_parser::mmap::Mmap> {
    let file = std::fs::File::open(path)
        .map_err(|e| Error::internal(format!("cannot open {}: {e}", path.display())))?;
    // SAFETY: the mapping is read-only, and the files mapped here are either
    // fetched by this job into its own directory (nothing else writes them)
    // or an admin-provided snapshot in an allowed directory, which by
    // contract is not modified while tickets read it.
    unsafe { rdb_parser::mmap::map(&file) }
        .map_err(|e| Error::internal(format!("cannot map {}: {e}", path.display())))
}
