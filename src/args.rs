//! Command-line arguments, as close to the flags as possible (no logic).
// These doc comments are the commands' --help text, written for a terminal
// (`[abc]`, `<ID>`), not rustdoc markup.
#![allow(rustdoc::broken_intra_doc_links, rustdoc::invalid_html_tags)]

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

mod schedule;
mod ticket;

pub(crate) use schedule::{ScheduleCommand, StatsArgs, TicketRunAtArgs};
pub(crate) use ticket::{
    AmendArgs, ApproveArgs, RejectArgs, ReturnArgs, RollbackArgs, TicketId, WaitArgs,
};

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
    /// (Parquet tables, summary.json and report.html in --out, a report on stdout).
    Analyze(AnalyzeArgs),
    /// Re-render DIR/report.html from an analysis output directory
    /// (its summary.json and aggregate tables).
    Report(ReportDirArgs),
    /// Compare two snapshots: OLD and NEW are analysis output directories
    /// or RDB files (analyzed on the fly); diff.parquet, diff.json,
    /// diff.html and a summary on stdout.
    #[command(after_long_help = DIFF_EXAMPLES)]
    Diff(DiffArgs),
    /// Run the job service: the HTTP API and the scheduler (or, with
    /// --init-admin, create an admin and print its token).
    #[command(after_long_help = SERVE_EXAMPLES)]
    Serve(ServeArgs),
    /// File, follow, approve and download tickets of the job service.
    #[command(after_long_help = TICKET_EXAMPLES)]
    Ticket(TicketArgs),
    /// Register the Redis apps (nodes) tickets act on (admin), list them.
    #[command(after_long_help = NODE_EXAMPLES)]
    Node(NodeArgs),
    /// Create users and their tokens (admin), list them, name stand-ins.
    #[command(after_long_help = USER_EXAMPLES)]
    User(UserArgs),
    /// Teams: their lead and members, who file and approve their apps' tickets.
    #[command(after_long_help = TEAM_EXAMPLES)]
    Team(TeamArgs),
    /// The approval policies: show them, replace them from a JSON file, reset.
    Policy(PolicyArgs),
    /// Recurring analyses of an app (admin): cron schedules whose reports
    /// land in the fleet layout, each diffed against the run before.
    #[command(after_long_help = schedule::SCHEDULE_EXAMPLES)]
    Schedule(ScheduleArgs),
    /// Notification channels (admin), your subscriptions, the outbox.
    #[command(after_long_help = crate::notify_args::NOTIFY_EXAMPLES)]
    Notify(NotifyArgs),
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
    /// Only keys of this type: string, list, set, zset, hash, stream, module or array.
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
pub(crate) struct ReportDirArgs {
    /// The output directory of `rdbscope analyze --out DIR`.
    #[arg(value_name = "DIR")]
    pub(crate) dir: PathBuf,
}

#[derive(clap::Args, Debug)]
pub(crate) struct AnalyzeArgs {
    /// RDB files (several files make one report with a `source` column;
    /// with --layout hive, one partition each).
    #[arg(required = true)]
    pub(crate) files: Vec<PathBuf>,
    /// Directory for keys.parquet, the aggregate tables, summary.json and report.html (created if missing).
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
    /// cut one segment shorter until they fit, after the workers merge (the
    /// same result whatever --threads, unless a worker held 8 times the cap
    /// first: summary.json's `prefix_cut_by_memory` says so); keys.parquet's
    /// `prefix` is never cut.
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
    /// Debian's redis-server), libc, or auto (the one whose modelled total
    /// best matches the file's used-mem; jemalloc when it has none).
    #[arg(long, default_value = "jemalloc", value_parser = ["jemalloc", "jemalloc16", "libc", "auto"])]
    pub(crate) allocator: String,
    /// Model a server freshly restarted from this file (stream nodes at
    /// their exact size, tables presized) instead of one that built its data
    /// with commands, the default.
    #[arg(long)]
    pub(crate) loaded: bool,
    /// The server's redis.conf: its `*-max-*` encoding limits and
    /// list-compress-depth replace the compiled-in defaults.
    #[arg(long, value_name = "PATH")]
    pub(crate) config_file: Option<std::path::PathBuf>,
    /// One encoding limit, e.g. hash-max-listpack-entries=128 (repeatable;
    /// applied after --config-file).
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub(crate) set: Vec<String>,
    /// Do not write keys.parquet (one row per key).
    #[arg(long)]
    pub(crate) no_keys: bool,
    /// Codec of keys.parquet: snappy (fastest to write), zstd (about 30 %
    /// smaller, about 9 % more work), lz4 (LZ4_RAW) or none.
    #[arg(long, value_name = "CODEC", default_value = "snappy", value_parser = ["snappy", "zstd", "lz4", "none"])]
    pub(crate) keys_compression: String,
    /// What to print: the text report, or summary.json.
    #[arg(long, value_parser = ["text", "json"], default_value = "text")]
    pub(crate) format: String,
    /// Where in DIR the outputs go: flat (DIR itself), or hive:
    /// DIR/snapshot_date=YYYY-MM-DD/source=NAME/, one partition per file
    /// (date from the RDB's ctime, else the file's mtime, in UTC), so many
    /// runs in one DIR read as one dataset.
    #[arg(long, value_parser = ["flat", "hive"], default_value = "flat")]
    pub(crate) layout: String,
    /// With --layout hive: the source partition's name (default: the file
    /// name without `.rdb`). Only with one input file.
    #[arg(long, value_name = "NAME")]
    pub(crate) source_name: Option<String>,
}

const DIFF_EXAMPLES: &str = "\
A side is one analysis output directory (what `rdbscope analyze ... --out DIR`
wrote), one RDB file, or several RDB files (a cluster's nodes) given with a
repeated --old / --new. RDB files are analyzed first, as `analyze` does.
Patterns match by their text (`user:*` is the same pattern in both snapshots);
a side analyzed with --no-keys is compared through its aggregate tables only.

Examples:
  rdbscope diff monday/ tuesday/                      # two analysis directories
  rdbscope diff dump-old.rdb dump-new.rdb --out diff/ # two RDB files
  rdbscope diff --old a1.rdb --old a2.rdb --old a3.rdb --new b1.rdb --new b2.rdb --new b3.rdb
  rdbscope diff monday/ --new tuesday-1.rdb --new tuesday-2.rdb --json

Writes into --out: diff.parquet (per pattern), diff_bigkeys, diff_types,
diff_expiry, diff_dbs and diff_slots .parquet, diff.json, diff.txt, diff.html.
Exit codes: 0 done, 1 a missing or unreadable input (the message names it),
2 bad usage.";

#[derive(clap::Args, Debug)]
pub(crate) struct DiffArgs {
    /// OLD then NEW: each an analysis output directory or an RDB file
    /// (a side given with --old / --new takes no path here).
    #[arg(value_names = ["OLD", "NEW"], num_args = 0..=2)]
    pub(crate) paths: Vec<PathBuf>,
    /// An RDB file of the OLD side; repeat for several (one per cluster node).
    #[arg(long = "old", value_name = "FILE")]
    pub(crate) old_files: Vec<PathBuf>,
    /// An RDB file of the NEW side; repeat for several.
    #[arg(long = "new", value_name = "FILE")]
    pub(crate) new_files: Vec<PathBuf>,
    /// Directory for the diff's files (created if missing).
    #[arg(long, value_name = "DIR", default_value = "diff")]
    pub(crate) out: PathBuf,
    /// Print diff.json instead of the text summary.
    #[arg(long)]
    pub(crate) json: bool,
    /// Analyze RDB inputs without keys.parquet (faster; then per-key
    /// diffs are not available: big keys are compared by the top lists).
    #[arg(long)]
    pub(crate) no_keys: bool,
    /// Keep the analyses of RDB inputs in DIR/old and DIR/new (each with
    /// its report.html) instead of removing them.
    #[arg(long)]
    pub(crate) keep_analyses: bool,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub(crate) threads: Option<usize>,
}

const SERVE_EXAMPLES: &str = "\
Examples:
  # Create the first admin (prints its token once), then run the service:
  rdbscope serve --data-dir /var/lib/rdbscope --init-admin admin
  rdbscope serve --data-dir /var/lib/rdbscope --listen 0.0.0.0:7780

  # Everything from a file (see jobsvc/src/config.rs), the store on PostgreSQL:
  rdbscope serve --config /etc/rdbscope.toml --store postgres://rdbscope@db/rdbscope";

#[derive(clap::Args, Debug)]
pub(crate) struct ServeArgs {
    /// TOML configuration file (listen, data_dir, store, allowed_dirs,
    /// auto_approve, workers, ...); the flags below override it.
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Address the HTTP API listens on [default: 127.0.0.1:7780].
    #[arg(long, value_name = "ADDR")]
    pub(crate) listen: Option<std::net::SocketAddr>,
    /// Directory for the SQLite store, reports and fetched RDB files
    /// [default: ./rdbscope-data].
    #[arg(long, value_name = "DIR")]
    pub(crate) data_dir: Option<PathBuf>,
    /// The store: sqlite://FILE or postgres://USER[:PASS]@HOST[:PORT]/DB
    /// [default: sqlite://<data-dir>/jobs.db].
    #[arg(long, value_name = "URL")]
    pub(crate) store: Option<String>,
    /// Create an admin user named NAME, print its token and exit (the service
    /// does not start).
    #[arg(long, value_name = "NAME")]
    pub(crate) init_admin: Option<String>,
}

/// How the client commands reach the service. The flags are accepted before
/// or after the subcommand.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct ClientOpts {
    /// The service's base URL.
    #[arg(
        long,
        global = true,
        value_name = "URL",
        env = "RDBSCOPE_SERVER",
        default_value = "http://127.0.0.1:7780"
    )]
    pub(crate) server: String,
    /// Your API token (from `rdbscope user add` or `rdbscope serve --init-admin`).
    #[arg(
        long,
        global = true,
        value_name = "TOKEN",
        env = "RDBSCOPE_TOKEN",
        hide_env_values = true
    )]
    pub(crate) token: Option<String>,
    /// Print the API's JSON answer as is instead of tables.
    #[arg(long, global = true)]
    pub(crate) json: bool,
}

const TICKET_EXAMPLES: &str = "\
Examples:
  export RDBSCOPE_SERVER=http://rdbscope.internal:7780 RDBSCOPE_TOKEN=rdbs_...

  # Analyze a fresh RDB of the app `shop` (fetched from one of its replicas):
  rdbscope ticket submit analysis --app shop --separators : --top 50
  # ... or a file on the service host (inside its allowed_dirs):
  rdbscope ticket submit analysis --file /data/backups/dump.rdb --no-keys
  # Hot keys, sampled for 60 s:
  rdbscope ticket submit hotkeys --app shop --duration 60 --method auto

  rdbscope ticket list --state pending
  rdbscope ticket approve 7 --note 'ok, off-peak'        # admin
  rdbscope ticket reject 8 --reason 'too big, run at night'
  rdbscope ticket wait 7 --timeout 600 && rdbscope ticket report 7 --all -o ./report-7
  rdbscope ticket audit 7";

#[derive(clap::Args, Debug)]
pub(crate) struct ScheduleArgs {
    #[command(flatten)]
    pub(crate) client: ClientOpts,
    #[command(subcommand)]
    pub(crate) command: ScheduleCommand,
}

#[derive(clap::Args, Debug)]
pub(crate) struct TicketArgs {
    #[command(flatten)]
    pub(crate) client: ClientOpts,
    #[command(subcommand)]
    pub(crate) command: TicketCommand,
}

#[derive(Subcommand, Debug)]
pub(crate) enum TicketCommand {
    /// File a ticket: TYPE is analysis, hotkeys, cleanup or migration. It
    /// waits for an admin's approval unless the service auto-approves its type.
    #[command(after_long_help = SUBMIT_EXAMPLES)]
    Submit(SubmitArgs),
    /// List tickets (submitters see their own), newest first.
    List(ListTicketsArgs),
    /// One ticket: state, parameters, plan, progress, error, result.
    Show(TicketId),
    /// Approve a pending ticket: the first of its approvals you (or the
    /// user you stand in for) may decide, or --approval ID.
    Approve(ApproveArgs),
    /// Reject a pending ticket, with a reason (an admin or an approver).
    Reject(RejectArgs),
    /// Return a pending ticket to its submitter for changes, with a note.
    Return(ReturnArgs),
    /// Amend a returned ticket's parameters (new plan; earlier approvals void).
    Amend(AmendArgs),
    /// Send a returned ticket to approval again.
    Resubmit(TicketId),
    /// Cancel a ticket that has not finished (its submitter or an admin).
    Cancel(TicketId),
    /// Wait until a ticket is finished. Exit status 0 when it succeeded, 1
    /// otherwise (its error is printed), also on --timeout.
    Wait(WaitArgs),
    /// List a ticket's report files, or download one (NAME) or all (--all).
    #[command(after_long_help = REPORT_EXAMPLES)]
    Report(ReportArgs),
    /// A ticket's audit trail: every state change, when and by whom.
    Audit(TicketId),
    /// Set or move when a pending or approved ticket runs (admin).
    RunAt(TicketRunAtArgs),
    /// Ticket statistics over a period (admin): by type and state, approval
    /// and completion times, rejection and failure rates, per app figures.
    Stats(StatsArgs),
    /// Roll a finished cleanup back: files a restore ticket that puts its
    /// backup back (deleted keys, or previous TTLs), approved like any other.
    Rollback(RollbackArgs),
}

const SUBMIT_EXAMPLES: &str = "\
Examples:
  rdbscope ticket submit analysis --app shop
  rdbscope ticket submit analysis --file /data/backups/dump.rdb --separators ':|' --prefix-depth 3
  rdbscope ticket submit hotkeys --app shop --duration 30 --top 100 --method lfu
  # Parameters without a flag (cleanup, migration: see docs/job-service.md), merged with the flags:
  rdbscope ticket submit cleanup --app shop --params '{\"patterns\":[{\"prefix\":\"login:\"}]}'
  # Safe to retry: the same key with the same parameters returns the same ticket.
  rdbscope ticket submit analysis --app shop --idempotency-key nightly-2026-11-22";

#[derive(clap::Args, Debug)]
pub(crate) struct SubmitArgs {
    /// Ticket type: analysis, hotkeys, cleanup or migration.
    #[arg(value_name = "TYPE")]
    pub(crate) kind: String,
    /// The app to act on (any type).
    #[arg(long, value_name = "NAME", help_heading = "Analysis and hot keys")]
    pub(crate) app: Option<String>,
    /// analysis: an RDB file on the service host, inside its allowed_dirs,
    /// instead of --app (a relative path is made absolute here).
    #[arg(
        long,
        value_name = "PATH",
        conflicts_with = "app",
        help_heading = "Analysis and hot keys"
    )]
    pub(crate) file: Option<PathBuf>,
    /// analysis: key prefix separators (e.g. ":|") or auto.
    #[arg(
        long,
        value_name = "CHARS|auto",
        help_heading = "Analysis and hot keys"
    )]
    pub(crate) separators: Option<String>,
    /// analysis: depth of the prefix tree.
    #[arg(long, value_name = "N", help_heading = "Analysis and hot keys")]
    pub(crate) prefix_depth: Option<u64>,
    /// analysis: keys per top list; hotkeys: keys reported.
    #[arg(long, value_name = "N", help_heading = "Analysis and hot keys")]
    pub(crate) top: Option<u64>,
    /// analysis: do not write keys.parquet (keys_table: false).
    #[arg(long, help_heading = "Analysis and hot keys")]
    pub(crate) no_keys: bool,
    /// analysis: model a server freshly restarted from the file (loaded: true).
    #[arg(long, help_heading = "Analysis and hot keys")]
    pub(crate) loaded: bool,
    /// hotkeys: how long to sample, in seconds.
    #[arg(long, value_name = "SECS", help_heading = "Analysis and hot keys")]
    pub(crate) duration: Option<u64>,
    /// hotkeys: lfu (OBJECT FREQ, needs an LFU maxmemory-policy), monitor
    /// (MONITOR, costs the node throughput) or auto.
    #[arg(long, value_name = "METHOD", value_parser = ["auto", "lfu", "monitor"], help_heading = "Analysis and hot keys")]
    pub(crate) method: Option<String>,
    /// More parameters as a JSON object, merged with the typed flags (a key
    /// may not be given both ways).
    #[arg(long, value_name = "JSON")]
    pub(crate) params: Option<String>,
    /// Makes the submission safe to retry: the same key with the same type
    /// and parameters returns the existing ticket.
    #[arg(long, value_name = "KEY")]
    pub(crate) idempotency_key: Option<String>,
    /// Run not before this time: RFC 3339, e.g. 2026-11-23T03:00:00Z (the
    /// approver may move it; the app's maintenance window still applies).
    #[arg(long, value_name = "TIME")]
    pub(crate) run_at: Option<String>,
}

#[derive(clap::Args, Debug)]
pub(crate) struct ListTicketsArgs {
    /// Only tickets in this state (pending, approved, running, succeeded,
    /// failed, cancelled, rejected).
    #[arg(long, value_name = "STATE")]
    pub(crate) state: Option<String>,
    /// Only tickets of this type.
    #[arg(long = "type", value_name = "TYPE")]
    pub(crate) kind: Option<String>,
    /// Only pending tickets waiting for your approval (or for the user you
    /// stand in for).
    #[arg(long)]
    pub(crate) needs_me: bool,
}

const REPORT_EXAMPLES: &str = "\
Examples:
  rdbscope ticket report 7                          # list the files
  rdbscope ticket report 7 summary.json             # download to ./summary.json
  rdbscope ticket report 7 summary.txt -o -         # print to stdout
  rdbscope ticket report 7 --all -o ./report-7      # everything, into a directory";

#[derive(clap::Args, Debug)]
pub(crate) struct ReportArgs {
    /// The ticket's id.
    pub(crate) id: u64,
    /// The file to download (as listed).
    #[arg(value_name = "NAME", conflicts_with = "all")]
    pub(crate) name: Option<String>,
    /// Download every file into the directory -o (default ./ticket-<ID>).
    #[arg(long)]
    pub(crate) all: bool,
    /// Where to write: a file for NAME (`-` for stdout; default ./<NAME's
    /// file name>), a directory for --all.
    #[arg(short, long, value_name = "PATH")]
    pub(crate) output: Option<PathBuf>,
}

const NODE_EXAMPLES: &str = "\
Examples:
  # A master and its replicas (give any member; the rest is discovered):
  rdbscope node add shop --kind replicated --addr 10.0.0.5:6379 --maintenance-window 01:00-05:00
  # A cluster, from one seed node, with ACL credentials:
  RDBSCOPE_NODE_PASSWORD=... rdbscope node add orders --kind cluster --addr 10.0.1.7:7000 --user rdbscope
  rdbscope node list
  rdbscope node show shop
  rdbscope node refresh shop        # discover the topology again";

#[derive(clap::Args, Debug)]
pub(crate) struct NodeArgs {
    #[command(flatten)]
    pub(crate) client: ClientOpts,
    #[command(subcommand)]
    pub(crate) command: NodeCommand,
}

/// Kinds of app.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AppKind {
    /// One node.
    Standalone,
    /// A master with replicas (topology from INFO replication).
    Replicated,
    /// A Redis Cluster (topology from CLUSTER SHARDS / SLOTS).
    Cluster,
}

#[derive(Subcommand, Debug)]
pub(crate) enum NodeCommand {
    /// Register an app (admin): its topology is discovered now.
    Add(NodeAddArgs),
    /// List the registered apps.
    List,
    /// One app and its nodes.
    Show(NodeName),
    /// Discover an app's topology again (admin).
    Refresh(NodeName),
    /// Unregister an app (admin).
    Remove(NodeName),
    /// Set who owns an app (admin): its team, tags, extra approvers.
    Owner(NodeOwnerArgs),
}

#[derive(clap::Args, Debug)]
pub(crate) struct NodeOwnerArgs {
    /// The app's name.
    pub(crate) name: String,
    /// The owning team (its members file tickets for the app) [default: none].
    #[arg(long, value_name = "TEAM")]
    pub(crate) team: Option<String>,
    /// A tag approval policies match, e.g. production (repeat for more).
    #[arg(long = "tag", value_name = "TAG")]
    pub(crate) tags: Vec<String>,
    /// A user who fills `app_approver` approvals (repeat for more).
    #[arg(long = "approver", value_name = "USER")]
    pub(crate) approvers: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub(crate) struct NodeAddArgs {
    /// The app's name, as tickets will name it.
    pub(crate) name: String,
    /// What it is.
    #[arg(long, value_enum)]
    pub(crate) kind: AppKind,
    /// HOST:PORT of a member (for a cluster: a seed node).
    #[arg(long, value_name = "HOST:PORT")]
    pub(crate) addr: String,
    /// ACL user for AUTH.
    #[arg(long, value_name = "USER")]
    pub(crate) user: Option<String>,
    /// Password for AUTH (stored by the service, never shown again).
    #[arg(
        long,
        value_name = "PASSWORD",
        env = "RDBSCOPE_NODE_PASSWORD",
        hide_env_values = true
    )]
    pub(crate) password: Option<String>,
    /// HH:MM-HH:MM in UTC (may wrap midnight) when heavy jobs may run
    /// [default: any time].
    #[arg(long, value_name = "HH:MM-HH:MM")]
    pub(crate) maintenance_window: Option<String>,
}

#[derive(clap::Args, Debug)]
pub(crate) struct NodeName {
    /// The app's name.
    pub(crate) name: String,
}

#[derive(clap::Args, Debug)]
pub(crate) struct NotifyArgs {
    #[command(flatten)]
    pub(crate) client: ClientOpts,
    #[command(subcommand)]
    pub(crate) command: crate::notify_args::NotifyCommand,
}

const USER_EXAMPLES: &str = "\
Examples:
  rdbscope user add alice --role submitter    # prints alice's token, once
  rdbscope user add bob --role admin
  rdbscope user list
  rdbscope user me                            # who this token is";

#[derive(clap::Args, Debug)]
pub(crate) struct UserArgs {
    #[command(flatten)]
    pub(crate) client: ClientOpts,
    #[command(subcommand)]
    pub(crate) command: UserCommand,
}

/// User roles.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UserRole {
    /// Files tickets, sees their own.
    Submitter,
    /// Approves, rejects, manages apps and users, sees everything.
    Admin,
}

#[derive(Subcommand, Debug)]
pub(crate) enum UserCommand {
    /// Create a user and print its token, shown this once (admin).
    Add(UserAddArgs),
    /// List the users (admin).
    List,
    /// The user the token belongs to.
    Me,
    /// Name a stand-in who approves for NAME while they are away.
    StandIn(StandInArgs),
    /// End NAME's stand-in.
    StandInEnd(NodeName),
}

#[derive(clap::Args, Debug)]
pub(crate) struct StandInArgs {
    /// The user who is away.
    pub(crate) name: String,
    /// Who approves for them.
    #[arg(long, value_name = "USER")]
    pub(crate) by: String,
    /// YYYY-MM-DD or RFC 3339 [default: now].
    #[arg(long, value_name = "TIME")]
    pub(crate) from: Option<String>,
    /// YYYY-MM-DD (the whole day) or RFC 3339.
    #[arg(long, value_name = "TIME")]
    pub(crate) until: String,
}

const TEAM_EXAMPLES: &str = "\
Examples:
  rdbscope team add payments --lead carol --member alice --member bob
  rdbscope node owner shop --team payments --tag production
  rdbscope team join payments dave
  rdbscope team list";

#[derive(clap::Args, Debug)]
pub(crate) struct TeamArgs {
    #[command(flatten)]
    pub(crate) client: ClientOpts,
    #[command(subcommand)]
    pub(crate) command: TeamCommand,
}

#[derive(Subcommand, Debug)]
pub(crate) enum TeamCommand {
    /// Create a team (admin).
    Add(TeamAddArgs),
    /// List the teams.
    List,
    /// One team.
    Show(NodeName),
    /// Set a team's lead (admin); without USER, clear it.
    Lead {
        /// The team.
        team: String,
        /// The new lead.
        user: Option<String>,
    },
    /// Add a member (admin).
    Join {
        /// The team.
        team: String,
        /// The user.
        user: String,
    },
    /// Remove a member (admin).
    Leave {
        /// The team.
        team: String,
        /// The user.
        user: String,
    },
    /// Delete a team (admin); its apps then have no team.
    Remove(NodeName),
}

#[derive(clap::Args, Debug)]
pub(crate) struct TeamAddArgs {
    /// The team's name.
    pub(crate) name: String,
    /// Its lead.
    #[arg(long, value_name = "USER")]
    pub(crate) lead: Option<String>,
    /// A member (repeat for more).
    #[arg(long = "member", value_name = "USER")]
    pub(crate) members: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub(crate) struct PolicyArgs {
    #[command(flatten)]
    pub(crate) client: ClientOpts,
    #[command(subcommand)]
    pub(crate) command: PolicyCommand,
}

#[derive(Subcommand, Debug)]
pub(crate) enum PolicyCommand {
    /// The rules in force and where they come from.
    Show,
    /// Replace the rules (admin) with FILE's: a JSON array of rules.
    Set {
        /// The rules (`-` for standard input).
        file: std::path::PathBuf,
    },
    /// Go back to the config file's rules (admin).
    Reset,
}

#[derive(clap::Args, Debug)]
pub(crate) struct UserAddArgs {
    /// The user's name.
    pub(crate) name: String,
    /// What the user may do.
    #[arg(long, value_enum, default_value = "submitter")]
    pub(crate) role: UserRole,
}
