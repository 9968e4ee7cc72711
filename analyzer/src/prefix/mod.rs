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
//! Identifier rules, for a segment (checked whole first, then for each part
//! of it between `-`, `_`, `.`, `@`, `+`, `=`, `,`, `#` or a space):
//! - decimal numbers, and "numeric" tokens: digits with `-._+,TZ` between
//!   them and at least as many digits as other characters (`2024-01-31`,
//!   `20240131`, `1700000000`, `3.14`, `10.0.0.1`, `2024-01-31T10:00Z`'s parts);
//! - UUIDs (`8-4-4-4-12` hex digits);
//! - hex strings of 8 or more characters, or of 4 or more containing both a
//!   digit and a letter (`9f86d081884c7d65`, `a1b2`);
//! - random-looking tokens: letters and digits (and `+/=`) with at least one
//!   of each, 12 characters or more, or 8 or more alternating between
//!   letters and digits at least 3 times (`k3j4h5g6`);
//! - e-mail addresses (a `@` with something on both sides);
//! - segments longer than 64 bytes, and segments with control bytes or
//!   invalid UTF-8 (binary ids).
//!
//! A segment whose parts all became `*` becomes one `*` (`2024-01-31` →
//! `*`, not `*-*-*`). Plain words are kept (`profile`, `reply.to`,
//! `v2`). Keys with more than [`MAX_DEPTH`] segments: the last kept
//! segment is `*` and stands for the rest.
//!
//! Tree: a pattern of `d` segments is counted at every depth `1..=d`, under
//! its first `k` segments (`user`, `user:*`, `user:*:profile`); the row of
//! a node counts the keys whose pattern is that node or lies under it.
//!
//! Bounded memory, deterministic whatever the threads: the number of
//! distinct patterns an accumulator holds never passes the cap. When it
//! would, every pattern is cut one level coarser (depth 8 → 7 → … → 1, then
//! the first segment cut to 2 bytes + `*` (kept when 2 bytes or less), then `*` alone) and the map is
//! rebuilt. A worker only coarsens when the keys *it* saw exceed the cap at
//! that level, so the whole file does too; merging takes the coarser level
//! of the two and coarsens further while over the cap. The result is
//! always the finest level at which the whole file fits the cap, whatever
//! the split into chunks and threads. `keys.parquet`'s `prefix` column is
//! never coarsened (it is computed per key).

mod acc;
mod cliffs;
mod config;
mod hasher;
mod identifiers;
mod stat;
mod template;
mod tree;

pub use acc::{PatternSlot, PrefixAcc};
pub use cliffs::{utc_minute, CliffAcc, CLIFF_HORIZON_MS};
pub use config::{PrefixConfig, Separators, DEFAULT_CAP, MAX_DEPTH, MAX_SEGMENT_BYTES};
pub use hasher::{FastHasher, FastState};
pub use stat::{kind_index, KeyStat, PrefixStat};
pub use tree::{PrefixRow, PrefixTree};
