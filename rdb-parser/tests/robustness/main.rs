//! Bad input never panics, never hangs and never allocates by an unchecked
//! length.
//!
//! * (a) every prefix of every corpus file under 64 KB (about 300 spread
//!   prefixes of larger ones) fails cleanly, at or before the cut;
//! * (b) thousands of seeded random mutations of every corpus file under
//!   200 KB: no panic, no internal inconsistency, bounded memory and time;
//!   a failure names the file, the seed and the mutation, and
//!   `RDB_REPLAY=<corpus path>:<seed>` replays one (see `replay_one_mutation`);
//! * (c) hand-made adversarial inputs (huge LZF lengths, a listpack claiming
//!   4 GB, 2^60 consumer groups, huge nested counts) are errors;
//! * length fields of real files overwritten with huge values are errors,
//!   found quickly and without a big allocation.
//!
//! A counting global allocator measures, per thread, the peak memory a walk
//! takes. Budgets are sized for `cargo test --release` on 2 cores;
//! `RDB_MUTATION_SCALE=10` runs ten times as many mutations.

mod adversarial;
mod alloc;
mod craft;
mod guard;
mod harness;
mod huge_lengths;
mod known_bad;
mod mutations;
mod new_formats;
mod prefixes;
mod redis88;
mod walk;
