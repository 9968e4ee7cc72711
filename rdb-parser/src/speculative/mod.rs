//! Parallel reading with no boundary scan: the file is cut at fixed
//! offsets into segments, and each thread finds a record start near the
//! beginning of its segment by trial, steps over the segment's head by
//! lengths alone, and folds the rest (the body). Whether the guess was
//! right is known once the segment before it has been read: the thread
//! that verifies the segment reads its head from where the true records
//! of the segment before end, and the body counts only if those true
//! records reach its first record exactly. A start guessed inside a value
//! (bytes that happen to read as records) mostly falls in step with the
//! true records within the head, so the body still counts; otherwise the
//! segment is read again from the right place. Either way the result
//! equals a sequential read.
//!
//! A guessed start does not know its database: the body's records before
//! its first SELECTDB are folded into an accumulator of their own,
//! labelled with the database once the head has been read.
//!
//! Layers, lowest first: the callbacks a caller gives ([`callbacks`]); the
//! fold's shared state ([`state`]); plain reading between record starts
//! ([`read`]); guessing ([`guess`]) and verification ([`verify`]); and the
//! threads' loop with the entry point, [`Rdb::par_fold_speculative`]
//! ([`run`]).

mod callbacks;
mod guess;
mod read;
mod run;
mod state;
mod verify;

pub use callbacks::{FoldCallbacks, SpeculativeFold, UNKNOWN_DB};
