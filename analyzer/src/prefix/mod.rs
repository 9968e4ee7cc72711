//! Key prefixes: every key is turned into a *pattern* by splitting it on
//! separator bytes and replacing the segments that look like identifiers
//! by `*` (`user:1234:profile` → `user:*:profile`), then patterns are
//! counted per worker and aggregated into a tree at the end.
//!
//! Separators ([`Separators`]): `auto` (the default) splits on `:`, `|` and
//! `/`; `.`, `-` and `_` are *not* separators (Redis' own naming advice
//! uses them inside a field, `comment:4321:reply.to`, and they occur inside
//! dates, UUIDs and floats). Explicit separators (`--separators ":|"`)
//! replace that set; templating applies in both modes.
//!
//! Identifier rules, for a segment (checked whole first, then part by
//! part between `-`, `_`, `.`, `@`, `+`, `=`, `,`, `#` or a space):
//! - decimal numbers, and "numeric" tokens: digits with `-._+,TZ:` between
//!   them and at least as many digits as other characters, signed or not
//!   (`2024-01-31`, `20240131`, `1700000000`, `-3.14`, `10.0.0.1`);
//! - times and IPv6 addresses, which hold the separator `:` and are found
//!   before the key is split (`12:30:00`, `2024-11-05T12:30:00Z`, `::1`);
//! - UUIDs (`8-4-4-4-12` hex digits, any case), also inside a segment
//!   (`job-<uuid>-result` → `job-*-result`);
//! - hex strings of 8 or more characters, or of 4 or more containing both a
//!   digit and a letter (`9f86d081884c7d65`, `a1b2`);
//! - random-looking tokens: letters and digits (and `+/=`) with at least one
//!   of each, 12 characters or more, or 8 or more alternating between
//!   letters and digits at least 3 times (`k3j4h5g6`, ULIDs); base64url
//!   tokens of 16 bytes or more (both cases, digits, `-_` allowed);
//! - e-mail addresses (a `@` with something on both sides);
//! - binary ids (control bytes or invalid UTF-8).
//!
//! A part from which the rest of the segment is one identifier ends the
//! segment's pattern with `*` (`celery-task-meta-<uuid>` →
//! `celery-task-meta-*`); identifiers next to each other are one `*`, and
//! a segment whose parts all are becomes one `*` (`2024-01-31` → `*`, not
//! `*-*-*`). A segment or part with an alphabetic stem and an identifier
//! tail keeps the stem (`usercart12345` → `usercart*`). Segments over 64
//! bytes are split the same way, keeping at most 16 parts and 128 bytes
//! before a final `*`. Plain words are kept (`profile`, `reply.to`, `v2`).
//! Keys with more than [`MAX_DEPTH`] segments: the last kept segment is `*`
//! and stands for the rest.
//!
//! Learned wildcards: under one parent pattern, a position
//! with more than [`WIDE_CHILDREN`] distinct literal values, or more than
//! [`WIDE_BESIDE_IDS`] beside ids the rules made `*`, becomes `*`
//! (`user:alice`, `user:bob`, … → `user:*`) as the accumulator counts keys;
//! the tree says which patterns hold such a `*` and keeps the two smallest
//! keys of each node ([`PrefixRow`]).
//!
//! Tree: a pattern of `d` segments is counted at every depth `1..=d`, under
//! its first `k` segments (`user`, `user:*`, `user:*:profile`); the row of
//! a node counts the keys whose pattern is that node or lies under it.
//!
//! Bounded memory, deterministic whatever the threads: a finished
//! accumulator ([`PrefixAcc::finish`]) holds at most the cap's distinct
//! patterns, cut one level coarser while over it (depth 8 → 7 → … → 1,
//! then the first segment cut to 2 bytes + `*` (kept when 2 bytes or
//! less), then `*` alone): the finest level at which the whole file's
//! patterns, folded, fit the cap. Before it is finished, a worker or merge
//! cuts a level only when the *shapes* it holds (first segment and
//! separators, which folds never change) pass the cap, so the whole file
//! does too whatever is learned later; memory is bounded by
//! [`held_bound`] (8 × the cap, at least 4,096), past which it cuts anyway
//! and says so ([`PrefixAcc::forced`]): only then may the level depend on
//! the split into chunks and threads. `keys.parquet`'s `prefix` column is
//! never coarsened (it is computed per key).

mod acc;
mod cliffs;
mod config;
mod examples;
mod hasher;
mod identifiers;
mod learn;
mod stat;
mod template;
mod tree;

pub use acc::{held_bound, PatternSlot, PrefixAcc, CAP_SLACK, MIN_HELD};
pub use cliffs::{utc_minute, CliffAcc, CLIFF_HORIZON_MS};
pub use config::{
    PrefixConfig, Separators, CUT_BY_MEMORY_NOTE, DEFAULT_CAP, MAX_DEPTH, MAX_SEGMENT_BYTES,
};
pub use hasher::{FastHasher, FastState};
pub use learn::{WIDE_BESIDE_IDS, WIDE_CHILDREN};
pub use stat::{kind_index, KeyStat, PrefixStat};
pub use tree::{PrefixRow, PrefixTree};
