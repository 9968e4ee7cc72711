//! [`Options`]: the settings of an analysis.

use rdb_parser::DEFAULT_CHUNK_BYTES;

use crate::memory::Allocator;
use crate::output::keys::KeysCompression;
use crate::prefix::{Separators, DEFAULT_CAP};
use crate::server::{EncodingLimits, RedisVersion};

/// Settings of an analysis.
#[derive(Clone, Debug)]
pub struct Options {
    /// Keys kept per type in each top-N list (by memory, by elements).
    pub top_n: usize,
    /// Strings longer than this many bytes are big keys.
    pub bigkey_bytes: u64,
    /// Collections with more elements than this are big keys.
    pub bigkey_elements: u64,
    /// Version the file is assumed to be loaded into; `None` = the
    /// `redis-ver` aux field, else a guess from the RDB version.
    pub redis_version: Option<RedisVersion>,
    /// The server's encoding limits.
    pub limits: EncodingLimits,
    /// The server's allocator (jemalloc as Redis vendors it, unless told).
    pub allocator: Allocator,
    /// `--allocator auto`: pick the allocator from the file's `used-mem`
    /// (see [`crate::analyze::choose_allocator`]); `allocator` is then the
    /// fallback when the file has no `used-mem`.
    pub allocator_auto: bool,
    /// Model a server freshly restarted from the file instead of one that
    /// built its data with commands.
    pub fresh_load: bool,
    /// Target chunk size for parallel reading.
    pub chunk_bytes: u64,
    /// "Now" for expiry buckets, ms since the epoch; `None` = the `ctime`
    /// aux field (when the snapshot was taken), else the clock.
    pub now_ms: Option<i64>,
    /// How keys are split into prefix segments ([`crate::prefix`]).
    pub separators: Separators,
    /// Most distinct key patterns kept; beyond, patterns are cut coarser
    /// (see [`crate::prefix`]).
    pub prefix_cap: usize,
    /// Prefix depth of the report's tree and of the per-prefix expiry rows.
    pub prefix_depth: usize,
    /// Codec of `keys.parquet`.
    pub keys_compression: KeysCompression,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            top_n: 10,
            bigkey_bytes: 100 * 1024,
            bigkey_elements: 50_000,
            redis_version: None,
            limits: EncodingLimits::default(),
            allocator: Allocator::Jemalloc,
            allocator_auto: false,
            fresh_load: false,
            chunk_bytes: DEFAULT_CHUNK_BYTES,
            now_ms: None,
            separators: Separators::Auto,
            prefix_cap: DEFAULT_CAP,
            prefix_depth: 3,
            keys_compression: KeysCompression::default(),
        }
    }
}
