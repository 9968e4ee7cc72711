//! One module per subcommand.

mod analyze;
mod client;
mod dump;
mod info;
mod node;
mod serve;
mod ticket;
mod user;

use clap::CommandFactory;

use crate::args::{Cli, Command};

pub(crate) fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Dump(a) => dump::run(a),
        Command::Info(a) => info::run(a),
        Command::Analyze(a) => analyze::run(a),
        Command::Serve(a) => serve::run(a),
        Command::Ticket(a) => ticket::run(a),
        Command::Node(a) => node::run(a),
        Command::User(a) => user::run(a),
    }
}

/// A usage error found after parsing, formatted by clap for the subcommand at
/// `path` (e.g. `["ticket", "submit"]`); `main` prints it and exits with 2.
pub(crate) fn usage_error(
    path: &[&str],
    kind: clap::error::ErrorKind,
    message: impl std::fmt::Display,
) -> anyhow::Error {
    let mut cmd = Cli::command();
    cmd.build();
    let mut sub = &mut cmd;
    for name in path {
        sub = sub
            .find_subcommand_mut(name)
            .expect("usage_error: unknown subcommand path");
    }
    sub.error(kind, message).into()
}

/// Sets the size of the global rayon pool once.
pub(crate) fn init_threads(threads: Option<usize>) {
    if let Some(n) = threads.filter(|&n| n > 0) {
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global();
    }
}
