//! One module per subcommand.

mod analyze;
mod client;
mod diff;
mod dump;
mod info;
mod layout;
mod node;
mod notify;
mod report;
mod rollback;
mod schedule;
mod serve;
mod stats;
mod team;
mod ticket;
mod user;

use crate::args::{Cli, Command};

pub(crate) fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Dump(a) => dump::run(a),
        Command::Info(a) => info::run(a),
        Command::Analyze(a) => analyze::run(a),
        Command::Report(a) => report::run(a),
        Command::Diff(a) => diff::run(a),
        Command::Serve(a) => serve::run(a),
        Command::Ticket(a) => ticket::run(a),
        Command::Node(a) => node::run(a),
        Command::User(a) => user::run(a),
        Command::Team(a) => team::run(a),
        Command::Policy(a) => team::policy(a),
        Command::Schedule(a) => schedule::run(a),
        Command::Notify(a) => notify::run(a),
    }
}
