//! Writing a value as commands instead of `RESTORE` (for a target that
//! does not read the source's `DUMP` format): the commands that rebuild a
//! payload's value under a key.

use rdb_parser::restore::{payload_as_rdb, CommandOptions, CommandSink};
use rdb_parser::{Rdb, Scratch};

use crate::error::{Error, Result};

/// One command: its name and arguments.
pub(crate) type Cmd = Vec<Vec<u8>>;

pub(super) fn cmd_of(args: &[&[u8]]) -> Cmd {
    args.iter().map(|a| a.to_vec()).collect()
}

pub(super) struct CmdCollect(Vec<Cmd>);

impl CommandSink for CmdCollect {
    fn command(&mut self, args: &[&[u8]]) {
        self.0.push(cmd_of(args));
    }
}

/// The commands that write a payload's value under `key` (None: an empty
/// collection, which no server stores).
pub(super) fn rewrite_commands(
    payload: &[u8],
    key: &[u8],
    opts: &CommandOptions,
) -> Result<Option<Vec<Cmd>>> {
    let file = payload_as_rdb(payload)
        .ok_or_else(|| Error::internal("a DUMP payload with a bad trailer"))?;
    let rdb = Rdb::new(&file).map_err(|e| Error::internal(format!("payload: {e}")))?;
    let entry = rdb
        .entries()
        .next()
        .ok_or_else(|| Error::internal("empty payload"))?
        .map_err(|e| Error::internal(format!("payload: {e}")))?;
    let mut sink = CmdCollect(Vec::new());
    let wrote = rdb_parser::restore::value_commands(
        &entry.value,
        key,
        &mut Scratch::new(),
        opts,
        &mut sink,
    )
    .map_err(|e| Error::internal(format!("payload: {e}")))?;
    Ok(wrote.then_some(sink.0))
}
