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
