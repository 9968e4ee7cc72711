//! `keys.parquet`: its schema, the column encoders that fill it, and the
//! writer thread that appends their row groups to the file.
//!
//! There is one row per key, millions per file, so this table is most of
//! the output work. The generic Arrow writer spent about 2 400
//! instructions per row here: it copies each row into Arrow builders,
//! hashes every string into a dictionary and runs a generic bit-packer.
//! These encoders know each column's shape instead (about 1 000 per row):
//! - the type and encoding names are dictionary ids known without
//!   hashing, and the source is one constant;
//! - a pattern is hashed once and found in a dictionary stored as its
//!   page will hold it;
//! - integers are delta bit-packed in 128-value blocks;
//! - the key bytes are copied once, into the page;
//! - with Snappy or LZ4, only the key column is compressed, and Snappy
//!   matches key by key ([`super::snappy`]).
//!
//! The workers encode whole column chunks ([`KeysEncoder`]) and send them
//! through a [`KeysSink`] to one thread ([`with_keys_writer`]). The
//! `parquet` crate still writes the file, the schema and the footer
//! ([`KeysFileWriter`]), so any reader sees an ordinary Parquet file.
//!
//! Pages are data pages v1, the most widely read layout. The string
//! columns are dictionary-encoded (`RLE_DICTIONARY`, the dictionary page
//! first), the key is `PLAIN`, and the integers are `DELTA_BINARY_PACKED`
//! with min/max statistics. A page holds at most [`PAGE_ROWS`] rows.

mod buffers;
mod column;
mod compression;
mod dictionary;
mod encoder;
mod file;
mod pack;
mod page;
mod sink;
#[cfg(test)]
mod tests;

pub use buffers::PageBuffers;
pub use column::{EncodedColumn, EncodedRowGroup, PAGE_ROWS};
pub use compression::KeysCompression;
pub use encoder::{
    keys_schema, KeysEncoder, PAGE_KEY_BYTES, ROW_GROUP_ROWS, WORKER_ROW_GROUP_BYTES,
};
pub use file::KeysFileWriter;
pub use sink::{with_keys_writer, KeysSink, Superseded};
