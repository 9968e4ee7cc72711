//! The crate's one error type.
//!
//! Every error says *where* (a byte offset in the file) and *what was
//! expected*; errors raised while decoding a value also carry the key.
//! Construction never allocates on the success path: messages are
//! `&'static str`, and the key is attached only once an error exists.

use std::fmt;

/// A parse error with the byte offset at which it was detected.
///
/// Boxed, so that a `Result` of a small value stays two words and comes
/// back in registers: the parser returns millions of them per second.
#[derive(Debug, Clone, PartialEq)]
pub struct Error(Box<Inner>);

#[derive(Debug, Clone, PartialEq)]
struct Inner {
    kind: ErrorKind,
    offset: u64,
    /// Offset inside a decompressed (LZF) blob, when the error is there.
    inner_offset: Option<u64>,
    key: Option<Box<[u8]>>,
    version: Option<u32>,
}

/// What went wrong.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input ended before `expected` could be read.
    Truncated {
        /// What the parser was reading.
        expected: &'static str,
        /// Bytes it needed.
        needed: u64,
        /// Bytes that remained.
        available: u64,
    },
    /// The bytes do not form what the format requires here.
    Malformed {
        /// What the parser expected to find.
        expected: &'static str,
        /// The offending value (a byte, a length, a count), when one exists.
        found: Option<u64>,
    },
    /// The file does not start with `REDIS` or `VALKEY` and a version number.
    BadMagic,
    /// The file starts with the LZ4 frame magic (a whole-file LZ4
    /// compression, such as `lz4 dump.rdb` writes), which this parser does
    /// not decompress (yet).
    Lz4Frame,
    /// A value type byte this parser does not know.
    UnknownValueType(u8),
    /// An opcode this parser does not know.
    UnknownOpcode(u8),
    /// A value written by a pre-GA module API: it has no self-describing
    /// structure, so it cannot be skipped without the module.
    ModulePreGa {
        /// Module name decoded from the module id.
        module: String,
    },
    /// The CRC64 stored after EOF does not match the file's contents.
    ChecksumMismatch {
        /// Checksum stored in the file.
        stored: u64,
        /// Checksum computed over the file.
        computed: u64,
    },
    /// Reading the file failed.
    Io(String),
}

/// Shorthand for results of this crate.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Makes an error of `kind` at absolute `offset`.
    pub fn new(kind: ErrorKind, offset: u64) -> Error {
        Error(Box::new(Inner {
            kind,
            offset,
            inner_offset: None,
            key: None,
            version: None,
        }))
    }

    pub(crate) fn truncated(
        expected: &'static str,
        offset: u64,
        needed: u64,
        available: u64,
    ) -> Error {
        Error::new(
            ErrorKind::Truncated {
                expected,
                needed,
                available,
            },
            offset,
        )
    }

    pub(crate) fn malformed(expected: &'static str, offset: u64, found: Option<u64>) -> Error {
        Error::new(ErrorKind::Malformed { expected, found }, offset)
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.0.kind
    }

    /// Absolute byte offset in the file where the problem was found.
    pub fn offset(&self) -> u64 {
        self.0.offset
    }

    /// Offset inside the decompressed blob, when the error is inside an
    /// LZF-compressed string (then [`Error::offset`] points at that string).
    pub fn inner_offset(&self) -> Option<u64> {
        self.0.inner_offset
    }

    /// Key of the record being decoded, when known.
    pub fn key(&self) -> Option<&[u8]> {
        self.0.key.as_deref()
    }

    /// RDB version of the file, when known.
    pub fn version(&self) -> Option<u32> {
        self.0.version
    }

    /// Attaches the key of the record being decoded (only if none yet).
    pub fn with_key(mut self, key: &[u8]) -> Error {
        if self.0.key.is_none() {
            self.0.key = Some(key.into());
        }
        self
    }

    /// Attaches the file's RDB version (only if none yet).
    pub fn with_version(mut self, version: u32) -> Error {
        if self.0.version.is_none() {
            self.0.version = Some(version);
        }
        self
    }

    /// Moves an error found inside a blob (offsets relative to the blob) to
    /// the file: `blob_offset` is where the blob starts in the file, and
    /// `compressed` says whether the blob was decompressed first (then the
    /// relative offset is kept as the inner offset).
    pub(crate) fn rebase(mut self, blob_offset: u64, compressed: bool) -> Error {
        if compressed {
            if self.0.inner_offset.is_none() {
                self.0.inner_offset = Some(self.0.offset);
            }
            self.0.offset = blob_offset;
        } else {
            self.0.offset += blob_offset;
        }
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at byte offset {}", self.0.offset)?;
        if let Some(inner) = self.0.inner_offset {
            write!(f, " (byte {inner} of the decompressed string there)")?;
        }
        if let Some(key) = &self.0.key {
            write!(f, ", key {:?}", String::from_utf8_lossy(key))?;
        }
        f.write_str(": ")?;
        match &self.0.kind {
            ErrorKind::Truncated { expected, needed, available } => write!(
                f,
                "unexpected end of data reading {expected}: needed {needed} bytes, {available} left"
            )?,
            ErrorKind::Malformed { expected, found: Some(v) } => {
                write!(f, "expected {expected}, found {v} (0x{v:x})")?
            }
            ErrorKind::Malformed { expected, found: None } => write!(f, "expected {expected}")?,
            ErrorKind::BadMagic => {
                f.write_str("not an RDB file: expected \"REDIS\" + 4 digits or \"VALKEY\" + 3 digits")?
            }
            ErrorKind::Lz4Frame => f.write_str(
                "LZ4 frame magic 0x184D2204: the file is LZ4-compressed, which this rdbscope does not read yet; decompress it first (lz4 -d)",
            )?,
            ErrorKind::UnknownValueType(b) => write!(f, "unknown value type byte {b} (0x{b:02x})")?,
            ErrorKind::UnknownOpcode(b) => write!(f, "unknown opcode {b} (0x{b:02x})")?,
            ErrorKind::ModulePreGa { module } => write!(
                f,
                "value of module {module:?} uses the pre-GA module format (type 6), which cannot be read without the module"
            )?,
            ErrorKind::ChecksumMismatch { stored, computed } => write!(
                f,
                "CRC64 mismatch: stored 0x{stored:016x}, computed 0x{computed:016x}"
            )?,
            ErrorKind::Io(msg) => write!(f, "I/O error: {msg}")?,
        }
        if let Some(v) = self.0.version {
            write!(f, " (RDB version {v})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}
