//! Writing a value as commands instead of `RESTORE` (for a target that
//! does not read the source's `DUMP` format): the commands that rebuild a
//! payload's value under a key.

use rdb_parser::restore::{payload_as_rdb, CommandOptions, CommandSink};
use rdb_parser::{Rdb, Scratch};

use crate::error::{Error, Result};

/// Commands in one buffer: every argument's bytes end to end, where each
/// argument ends, and where each command's arguments end (three
/// allocations per key, not one per argument).
#[derive(Default)]
pub(super) struct Cmds {
    bytes: Vec<u8>,
    arg_ends: Vec<usize>,
    cmd_ends: Vec<usize>,
}

impl Cmds {
    /// How many commands.
    pub(super) fn len(&self) -> usize {
        self.cmd_ends.len()
    }

    /// The arguments of command `c`.
    pub(super) fn get(&self, c: usize) -> impl ExactSizeIterator<Item = &[u8]> + '_ {
        let first = if c == 0 { 0 } else { self.cmd_ends[c - 1] };
        (first..self.cmd_ends[c]).map(move |a| {
            let start = if a == 0 { 0 } else { self.arg_ends[a - 1] };
            &self.bytes[start..self.arg_ends[a]]
        })
    }
}

impl CommandSink for Cmds {
    fn command(&mut self, args: &[&[u8]]) {
        for a in args {
            self.bytes.extend_from_slice(a);
            self.arg_ends.push(self.bytes.len());
        }
        self.cmd_ends.push(self.arg_ends.len());
    }
}

/// The commands that write a payload's value under `key` (None: an empty
/// collection, which no server stores).
pub(super) fn rewrite_commands(
    payload: &[u8],
    key: &[u8],
    opts: &CommandOptions,
) -> Result<Option<Cmds>> {
    let file = payload_as_rdb(payload)
        .ok_or_else(|| Error::internal("a DUMP payload with a bad trailer"))?;
    let rdb = Rdb::new(&file).map_err(|e| Error::internal(format!("payload: {e}")))?;
    let entry = rdb
        .entries()
        .next()
        .ok_or_else(|| Error::internal("empty payload"))?
        .map_err(|e| Error::internal(format!("payload: {e}")))?;
    let mut sink = Cmds::default();
    let wrote = rdb_parser::restore::value_commands(
        &entry.value,
        key,
        &mut Scratch::new(),
        opts,
        &mut sink,
    )
    .map_err(|e| Error::internal(format!("payload: {e}")))?;
    Ok(wrote.then_some(sink))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_kept_apart() {
        let mut c = Cmds::default();
        c.command(&[b"RPUSH".as_slice(), b"k", b"", b"b"]);
        c.command(&[b"PING".as_slice()]);
        c.command(&[b"SET".as_slice(), b"k2", b"v"]);
        assert_eq!(c.len(), 3);
        let all: Vec<Vec<&[u8]>> = (0..c.len()).map(|i| c.get(i).collect()).collect();
        assert_eq!(
            all,
            vec![
                vec![b"RPUSH".as_slice(), b"k", b"", b"b"],
                vec![b"PING".as_slice()],
                vec![b"SET".as_slice(), b"k2", b"v"],
            ]
        );
        assert_eq!(c.get(2).len(), 3);
    }
}
