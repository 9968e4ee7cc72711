//! Outputs: Parquet tables (schemas next to their builders), `summary.json`
//! and the terminal report.

pub mod keys;
pub mod parquet;
pub mod snappy;
pub mod summary;
pub mod terminal;
