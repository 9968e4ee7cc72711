//! Usage errors found after parsing, formatted by clap like its own.

use clap::CommandFactory;

use crate::args::Cli;

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
