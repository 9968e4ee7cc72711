//! The crate's one error type: parser, Arrow, Parquet and I/O errors, each
//! with the context (file, output table) in which it happened.

use std::fmt;
use std::path::PathBuf;

/// An analysis failure.
#[derive(Debug)]
pub enum Error {
    /// The RDB file could not be parsed.
    Parse {
        /// Which input (the `source` name).
        source: String,
        /// The parser's error (offset, key, what was expected).
        err: rdb_parser::Error,
    },
    /// Building an Arrow record batch failed (a bug: schemas and builders disagree).
    Arrow {
        /// Which table.
        table: &'static str,
        /// The Arrow error.
        err: arrow_schema::ArrowError,
    },
    /// Writing a Parquet file failed.
    Parquet {
        /// The file being written.
        path: PathBuf,
        /// The Parquet error.
        err: parquet::errors::ParquetError,
    },
    /// Creating or writing an output file failed.
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        err: std::io::Error,
    },
    /// The `keys.parquet` writer thread stopped before the analysis ended
    /// (its own error is reported instead when there is one).
    WriterGone,
    /// An option or input the analyzer cannot honour.
    Invalid(String),
}

/// Shorthand for results of this crate.
pub type Result<T> = std::result::Result<T, Error>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Parse { source, err } => write!(f, "{source}: {err}"),
            Error::Arrow { table, err } => write!(f, "building the {table} table: {err}"),
            Error::Parquet { path, err } => write!(f, "writing {}: {err}", path.display()),
            Error::Io { path, err } => write!(f, "{}: {err}", path.display()),
            Error::WriterGone => f.write_str("the keys.parquet writer stopped early"),
            Error::Invalid(msg) => f.write_str(msg),
        }
    }
}

/// `Display` already includes the wrapped error's message, so `source`
/// skips it and returns *its* source (no message is printed twice by
/// chain-printing callers such as anyhow's `{:#}`).
impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Parse { err, .. } => err.source(),
            Error::Arrow { err, .. } => err.source(),
            Error::Parquet { err, .. } => err.source(),
            Error::Io { err, .. } => err.source(),
            Error::WriterGone | Error::Invalid(_) => None,
        }
    }
}

impl Error {
    pub(crate) fn parse(source: &str, err: rdb_parser::Error) -> Error {
        Error::Parse {
            source: source.to_owned(),
            err,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, err: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            err,
        }
    }

    pub(crate) fn parquet(path: impl Into<PathBuf>, err: parquet::errors::ParquetError) -> Error {
        Error::Parquet {
            path: path.into(),
            err,
        }
    }
}
