//! Arguments of the `rdbscope ticket` subcommands that act on one ticket:
//! approve, return, amend, reject, roll back, wait.
// These doc comments are the commands' --help text, written for a terminal.
#![allow(rustdoc::broken_intra_doc_links, rustdoc::invalid_html_tags)]

#[derive(clap::Args, Debug)]
pub(crate) struct TicketId {
    /// The ticket's id.
    pub(crate) id: u64,
}

#[derive(clap::Args, Debug)]
pub(crate) struct ApproveArgs {
    /// The ticket's id.
    pub(crate) id: u64,
    /// A note for the audit trail.
    #[arg(long, value_name = "TEXT")]
    pub(crate) note: Option<String>,
    /// The approval record's id (see `ticket show`) [default: the first you may decide].
    #[arg(long, value_name = "ID")]
    pub(crate) approval: Option<u64>,
    /// Run not before this time (RFC 3339), setting or moving the
    /// submitter's --run-at.
    #[arg(long, value_name = "TIME")]
    pub(crate) run_at: Option<String>,
}

#[derive(clap::Args, Debug)]
pub(crate) struct ReturnArgs {
    /// The ticket's id.
    pub(crate) id: u64,
    /// What to change (shown to the submitter, kept in the audit trail).
    #[arg(long, value_name = "TEXT", required = true)]
    pub(crate) note: String,
    /// The approval record's id [default: the first you may decide].
    #[arg(long, value_name = "ID")]
    pub(crate) approval: Option<u64>,
}

#[derive(clap::Args, Debug)]
pub(crate) struct AmendArgs {
    /// The ticket's id.
    pub(crate) id: u64,
    /// The whole new parameters, as JSON (`ticket show` has the old ones).
    #[arg(long, value_name = "JSON", required = true)]
    pub(crate) params: String,
}

#[derive(clap::Args, Debug)]
pub(crate) struct RollbackArgs {
    /// The cleanup ticket's id.
    pub(crate) id: u64,
    /// Keys that exist again: skip (default) or replace.
    #[arg(long, value_name = "POLICY")]
    pub(crate) conflict: Option<String>,
    /// Keys per second.
    #[arg(long)]
    pub(crate) rate: Option<u64>,
    /// Replicas each batch must reach (WAIT).
    #[arg(long, value_name = "N")]
    pub(crate) wait_replicas: Option<u32>,
}

#[derive(clap::Args, Debug)]
pub(crate) struct RejectArgs {
    /// The ticket's id.
    pub(crate) id: u64,
    /// Why (shown to the submitter, kept in the audit trail).
    #[arg(long, value_name = "TEXT", required = true)]
    pub(crate) reason: String,
    /// The approval record's id [default: the first you may decide].
    #[arg(long, value_name = "ID")]
    pub(crate) approval: Option<u64>,
}

#[derive(clap::Args, Debug)]
pub(crate) struct WaitArgs {
    /// The ticket's id.
    pub(crate) id: u64,
    /// Give up after this many seconds (exit status 1) [default: wait forever].
    #[arg(long, value_name = "SECS")]
    pub(crate) timeout: Option<u64>,
    /// Seconds between polls.
    #[arg(long, value_name = "SECS", default_value_t = 1.0)]
    pub(crate) interval: f64,
}
