//! The codec of `keys.parquet` ([`KeysCompression`]) and the page
//! compressor each worker reuses.

use parquet::basic::{Compression, ZstdLevel};

use crate::error::{Error, Result};
use crate::output::snappy::KeyPageSnappy;

/// The codec of `keys.parquet`, the one big output: speed against size.
/// (The small tables are always zstd.)
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum KeysCompression {
    /// Snappy: the fastest to write that every reader knows.
    #[default]
    Snappy,
    /// Zstandard level 1: the smallest file.
    Zstd,
    /// LZ4 (the `LZ4_RAW` codec; Spark needs 3.4 or later).
    Lz4,
    /// No compression.
    None,
}

impl KeysCompression {
    /// Parses `snappy`, `zstd`, `lz4` or `none`.
    pub fn from_name(s: &str) -> Option<KeysCompression> {
        match s {
            "snappy" => Some(KeysCompression::Snappy),
            "zstd" => Some(KeysCompression::Zstd),
            "lz4" => Some(KeysCompression::Lz4),
            "none" => Some(KeysCompression::None),
            _ => None,
        }
    }

    /// The codec as the footer names it.
    pub fn parquet(self) -> Compression {
        match self {
            KeysCompression::Snappy => Compression::SNAPPY,
            KeysCompression::Zstd => Compression::ZSTD(ZstdLevel::default()),
            KeysCompression::Lz4 => Compression::LZ4_RAW,
            KeysCompression::None => Compression::UNCOMPRESSED,
        }
    }
}

/// A page codec, reused for every page of a worker.
pub(super) enum Compressor {
    None,
    Snappy(Box<KeyPageSnappy>),
    /// Made at the first page (making it can fail).
    Zstd(Option<Box<zstd::bulk::Compressor<'static>>>),
    Lz4,
}

impl Compressor {
    pub(super) fn new(c: KeysCompression) -> Compressor {
        match c {
            KeysCompression::None => Compressor::None,
            KeysCompression::Snappy => Compressor::Snappy(Box::default()),
            KeysCompression::Zstd => Compressor::Zstd(None),
            KeysCompression::Lz4 => Compressor::Lz4,
        }
    }

    /// Compresses `body` into `out` (reused: it only grows); returns the
    /// compressed length, or `None` when pages are stored as they are.
    pub(super) fn compress(&mut self, body: &[u8], out: &mut Vec<u8>) -> Result<Option<usize>> {
        let n = match self {
            Compressor::None => return Ok(None),
            Compressor::Snappy(enc) => {
                // Only the key column is compressed with Snappy.
                enc.compress(body, out)
            }
            Compressor::Zstd(enc) => {
                let enc = match enc {
                    Some(enc) => enc,
                    None => enc.insert(Box::new(
                        zstd::bulk::Compressor::new(ZstdLevel::default().compression_level())
                            .map_err(compress_error)?,
                    )),
                };
                // Writes from the start of `out`, within its capacity.
                out.clear();
                out.reserve(zstd::zstd_safe::compress_bound(body.len()));
                enc.compress_to_buffer(body, out).map_err(compress_error)?
            }
            Compressor::Lz4 => {
                let max = lz4_flex::block::get_maximum_output_size(body.len());
                if out.len() < max {
                    out.resize(max, 0);
                }
                lz4_flex::block::compress_into(body, out)
                    .map_err(|e| compress_error(std::io::Error::other(e)))?
            }
        };
        Ok(Some(n))
    }
}

fn compress_error(err: std::io::Error) -> Error {
    Error::Io {
        path: "keys.parquet".into(),
        err,
    }
}
