//! The memory model: what `MEMORY USAGE key SAMPLES 0` answers for a key once
//! the server that wrote the file has loaded it.
//!
//! The server re-applies its encoding rules when it loads a snapshot (old
//! ziplists become listpacks, small hash tables become listpacks, ...), so
//! the model first decides the encoding *after load*, then adds up the
//! allocations Redis counts for it, each rounded to the allocator's size
//! class where Redis measures the allocation rather than the bytes.
//! Skip-list node levels are random on the server: their expected size is
//! used, which is the only irreducible error for Redis.
//!
//! One file per data type (`strings`, `lists`, `sets`, `zsets`, `hashes`,
//! `streams`, `arrays`); what differs between server versions (object and dict
//! layouts, sds headers, the key's own cost) is in `layouts`, and the
//! allocator's size classes in `alloc`.

mod alloc;
mod arrays;
mod compact;
mod estimate;
mod hashes;
mod hll;
mod layouts;
mod lists;
mod measure;
mod modules;
mod scores;
mod sets;
mod streams;
mod strings;
mod tables;
mod walk;
mod zsets;

pub use alloc::Allocator;
pub use estimate::measure;
pub use layouts::{Era, Profile};
pub use measure::Measure;
pub use modules::module_modelled;
pub use streams::{rax_alloc, rax_nodes};
