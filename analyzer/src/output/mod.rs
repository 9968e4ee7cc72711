//! Outputs: `keys.parquet` ([`keys`]), the aggregate Parquet tables
//! ([`parquet`]; schemas next to their builders), `summary.json`
//! ([`summary`]), the terminal report ([`terminal`]) and `report.html`
//! ([`html`]).

pub mod html;
pub mod keys;
pub mod parquet;
pub mod snappy;
pub mod summary;
pub mod terminal;
