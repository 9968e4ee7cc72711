//! Outputs: `keys.parquet` ([`keys`]), the aggregate Parquet tables
//! ([`parquet`]; schemas next to their builders), `summary.json`
//! ([`summary`]) and the terminal report ([`terminal`]).

pub mod keys;
pub mod parquet;
pub mod snappy;
pub mod summary;
pub mod terminal;
