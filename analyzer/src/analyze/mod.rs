//! The driver: one parallel pass over a file ([`analyze_file`],
//! [`analyze_rdb`]) with its settings ([`Options`]). Each worker folds
//! records into its own accumulator (and its own `keys.parquet` rows);
//! the workers' states are merged at the end.

mod allocator;
mod meta;
mod options;
mod run;

pub use allocator::choose_allocator;
pub use options::Options;
pub use run::{analyze_file, analyze_rdb};
