//! A zero-copy, parallel-ready reader for Redis and Valkey RDB files.
//!
//! Everything a caller sees borrows from the input bytes (usually a
//! memory-mapped file): keys, raw value bytes, listpack/ziplist/intset
//! blobs. Only LZF-compressed strings are decompressed, into a [`Scratch`]
//! the caller reuses. Reading a record never decodes its value: a fast skip
//! finds where it ends, and [`Value`] decodes lazily when asked. That same
//! skip lets [`Rdb::chunks`] cut a file into runs of whole records that
//! threads decode in parallel, and lets [`Rdb::par_fold_speculative`]
//! read a file on all cores with no scan first (each thread guesses where
//! records start in its part of the file; guesses are checked, so the
//! result equals a sequential read).
//!
//! Bad input never panics: every error is an [`Error`] with the byte offset,
//! the key when known, and what was expected.
//!
//! ```
//! use rdb_parser::{Element, Rdb, Record, Scratch};
//!
//! // A tiny RDB version 9 file: one string key "k" => "v", then EOF with the
//! // checksum set to 0 (disabled).
//! let mut file = b"REDIS0009".to_vec();
//! file.extend_from_slice(&[0xfe, 0x00, 0x00, 0x01, b'k', 0x01, b'v', 0xff]);
//! file.extend_from_slice(&[0; 8]);
//!
//! let rdb = Rdb::new(&file)?;
//! let mut scratch = Scratch::new();
//! let mut keys = 0;
//! for record in rdb.records() {
//!     if let Record::Entry(entry) = record? {
//!         let key = entry.key.as_raw().unwrap();
//!         let value = entry.value.as_string()?;
//!         assert_eq!((key, value.as_raw().unwrap()), (&b"k"[..], &b"v"[..]));
//!         // Collections are walked element by element:
//!         entry.value.for_each_element(&mut scratch, |_e: Element<'_>| {})?;
//!         keys += 1;
//!     }
//! }
//! assert_eq!(keys, 1);
//! # Ok::<(), rdb_parser::Error>(())
//! ```
//!
//! A snapshot on disk is read the same way (a large one is better mapped,
//! with [`mmap::map`]); the checksum after EOF is checked on request:
//!
//! ```
//! use rdb_parser::{ChecksumStatus, Rdb, Record};
//!
//! let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/sample.rdb");
//! let file = std::fs::read(path)?;
//! let rdb = Rdb::new(&file)?;
//! let (mut keys, mut checksum) = (0, ChecksumStatus::Skipped);
//! for record in rdb.records() {
//!     match record? {
//!         Record::Entry(_) => keys += 1,
//!         Record::Eof { offset, stored_checksum, .. } => {
//!             checksum = rdb.checksum_status(offset, stored_checksum);
//!         }
//!         _ => {}
//!     }
//! }
//! assert_eq!(keys, 2642);
//! assert!(matches!(checksum, ChecksumStatus::Verified(_)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod checksum;
pub mod crc64;
mod cursor;
mod error;
pub mod lz4frame;
mod lzf;
pub mod mmap;
mod parallel;
mod reader;
pub mod reencode;
pub mod restore;
mod speculative;
mod string;
mod types;
mod value;
pub mod writer;

pub use checksum::ChecksumStatus;
pub use cursor::{Cursor, Length};
pub use error::{Error, ErrorKind, Result};
pub use parallel::{Chunk, DEFAULT_CHUNK_BYTES};
pub use reader::{Enterprise, Entry, Rdb, Record, Records};
pub use speculative::{FoldCallbacks, SpeculativeFold, UNKNOWN_DB};
pub use string::{
    decimal_len, format_decimal, parse_canonical_i64, push_decimal, RdbString, Scalar,
};
pub use types::{opcode, Kind, Magic, ValueType, NEWEST_REDIS_VERSION, NEWEST_VALKEY_VERSION};
pub use value::{
    format_float, intset::Intset, listpack::Listpack, ziplist::Ziplist, zipmap::Zipmap,
    ArrayHeader, ArrayItem, CompactShape, Element, ModuleId, ModuleOperand, QuicklistNode, Scratch,
    StreamId, StreamMeta, StreamVisitor, Value,
};

/// Decompresses LZF data (as found in RDB strings) into `out`.
pub fn lzf_decompress(input: &[u8], expected_len: usize, out: &mut Vec<u8>) -> Result<()> {
    lzf::decompress_into(input, expected_len, out)
}
