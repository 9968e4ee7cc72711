//! One module per subcommand.

mod analyze;
mod dump;
mod info;

use crate::args::{Cli, Command};

pub(crate) fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Dump(a) => dump::run(a),
        Command::Info(a) => info::run(a),
        Command::Analyze(a) => analyze::run(a),
    }
}

/// Sets the size of the global rayon pool once.
pub(crate) fn init_threads(threads: Option<usize>) {
    if let Some(n) = threads.filter(|&n| n > 0) {
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global();
    }
}
