//! Command-line arguments, as close to the flags as possible (no logic).

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Turn Redis and Valkey RDB snapshots into answers.
#[derive(Parser, Debug)]
#[command(name = "rdbscope", version, about, propagate_version = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Print every key of an RDB file as JSON lines or as Redis commands.
    Dump(DumpArgs),
    /// Summarize an RDB file: version, aux fields, databases, types, modules, checksum.
    Info(InfoArgs),
    /// Analyze RDB files: memory estimate, big keys, TTLs, types, databases, slots
    /// (Parquet tables and summary.json in --out, a report on stdout).
    Analyze(AnalyzeArgs),
}

/// Output formats of `dump`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DumpFormat {
    /// One JSON object per key.
    Jsonl,
    /// Redis commands in the RESP protocol, for `redis-cli --pipe`.
    Resp,
}

#[derive(clap::Args, Debug)]
pub(crate) struct DumpArgs {
    /// The RDB file.
    pub(crate) file: PathBuf,
    /// Only keys of this database.
    #[arg(long)]
    pub(crate) db: Option<u64>,
    /// Only keys matching this glob (Redis syntax: * ? [abc] [^a] [a-z] \x).
    #[arg(long = "match", value_name = "GLOB")]
    pub(crate) pattern: Option<String>,
    /// Only keys of this type: string, list, set, zset, hash, stream or module.
    #[arg(long = "type", value_name = "TYPE")]
    pub(crate) kind: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "jsonl")]
    pub(crate) format: DumpFormat,
    /// Do not verify the CRC64 checksum.
    #[arg(long)]
    pub(crate) no_checksum: bool,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub(crate) threads: Option<usize>,
}

#[derive(clap::Args, Debug)]
pub(crate) struct InfoArgs {
    /// The RDB file.
    pub(crate) file: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub(crate) json: bool,
    /// Do not verify the CRC64 checksum.
    #[arg(long)]
    pub(crate) no_checksum: bool,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub(crate) threads: Option<usize>,
}

#[derive(clap::Args, Debug)]
pub(crate) struct AnalyzeArgs {
    /// RDB files (several files make one report with a `source` column).
    #[arg(required = true)]
    pub(crate) files: Vec<PathBuf>,
    /// Directory for keys.parquet, the aggregate tables and summary.json (created if missing).
    #[arg(long, value_name = "DIR")]
    pub(crate) out: PathBuf,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub(crate) threads: Option<usize>,
    /// Keys per type in the top lists (by memory, by elements).
    #[arg(long, default_value_t = 10)]
    pub(crate) top: usize,
    /// Key prefix separators: the characters that split keys into segments
    /// (e.g. ":|"), or `auto` (the default): split on `:`, `|` and `/` (not
    /// `.`, `-` or `_`, which occur inside names, dates and UUIDs). In both
    /// modes, segments (or their parts between `-_.@+=,#`) that look like
    /// identifiers become `*`: numbers, dates and timestamps, UUIDs, hex
    /// strings, e-mail addresses, random tokens, binary bytes, segments over
    /// 64 bytes. `user:1234:profile` counts under `user:*:profile`.
    #[arg(long, value_name = "CHARS|auto", default_value = "auto")]
    pub(crate) separators: String,
    /// Depth of the "Top prefixes" tree in the report, and of the prefixes
    /// given their own TTL rows in expiry.parquet and summary.json.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub(crate) prefix_depth: usize,
    /// Most distinct key patterns kept per file. Beyond, every pattern is
    /// cut one segment shorter until they fit (deterministic: the same
    /// result whatever --threads); keys.parquet's `prefix` is never cut.
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    pub(crate) prefix_cap: usize,
    /// Strings longer than this many bytes are big keys.
    #[arg(long, value_name = "B", default_value_t = 102_400)]
    pub(crate) bigkey_bytes: u64,
    /// Collections with more elements than this are big keys.
    #[arg(long, value_name = "E", default_value_t = 50_000)]
    pub(crate) bigkey_elements: u64,
    /// Model encodings and memory for this Redis version (default: the file's redis-ver).
    #[arg(long, value_name = "X.Y")]
    pub(crate) redis_version: Option<String>,
    /// The server's allocator, for memory estimates: jemalloc (as Redis and
    /// Valkey vendor it), jemalloc16 (a distribution's shared jemalloc, e.g.
    /// Debian's redis-server) or libc.
    #[arg(long, default_value = "jemalloc", value_parser = ["jemalloc", "jemalloc16", "libc"])]
    pub(crate) allocator: String,
    /// Model a server freshly restarted from this file (stream nodes at
    /// their exact size, tables presized) instead of one that built its data
    /// with commands, the default.
    #[arg(long)]
    pub(crate) loaded: bool,
    /// Do not write keys.parquet (one row per key).
    #[arg(long)]
    pub(crate) no_keys: bool,
    /// What to print: the text report, or summary.json.
    #[arg(long, value_parser = ["text", "json"], default_value = "text")]
    pub(crate) format: String,
}
