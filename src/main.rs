//! `rdbscope`: turn Redis and Valkey RDB snapshots into answers.

mod args;
mod cmd;
use analyzer::glob;
mod input;
mod json;
mod notify_args;
mod progress;
mod threads;
mod usage;

use std::process::ExitCode;

use clap::Parser;

/// Exit status for a file that cannot be read as RDB (or any other failure).
const EXIT_BAD_INPUT: u8 = 1;

fn main() -> ExitCode {
    let cli = match args::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help/version to stdout (exit 0) and usage errors to stderr (exit 2).
            let _ = e.print();
            return ExitCode::from(e.exit_code() as u8);
        }
    };
    match cmd::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if let Some(usage) = err.downcast_ref::<clap::Error>() {
                let _ = usage.print();
                return ExitCode::from(usage.exit_code() as u8);
            }
            if err.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("rdbscope: error: {err:#}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}
