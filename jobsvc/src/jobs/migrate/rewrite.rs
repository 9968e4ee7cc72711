//! Writing a value as commands instead of `RESTORE` (for a target that
//! does not read the source's `DUMP` format): the commands that rebuild a
//! payload's value under a key.

use std::ops::Range;

use rdb_parser::reencode::{plain_payload, Reencoded};
use rdb_parser::restore::{payload_value, payload_value_of, CommandOptions, CommandSink};
use rdb_parser::{Kind, Scratch};

use super::source::{Batch, Item};
use super::target::tmp_key;
use crate::error::{Error, Result};

/// A batch's commands in one buffer: every argument's bytes end to end,
/// where each argument ends, and where each command's arguments end (a few
/// allocations per batch, not per key or per argument).
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

    /// Drops the commands from `c` on.
    pub(super) fn truncate(&mut self, c: usize) {
        self.cmd_ends.truncate(c);
        self.arg_ends
            .truncate(self.cmd_ends.last().copied().unwrap_or(0));
        self.bytes
            .truncate(self.arg_ends.last().copied().unwrap_or(0));
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

/// How a payload's value is written as commands.
pub(super) enum Rewritten {
    /// An empty collection, which no server stores: nothing to write.
    Empty,
    /// A string, for one `SET` of the key itself: the command of the
    /// buffer whose one argument is its bytes.
    Set(usize),
    /// The buffer's commands that build the value under the temporary
    /// key, and that key.
    Cmds(Range<usize>, Vec<u8>),
    /// The value re-encoded for the target (a `DUMP` payload of its RDB
    /// version in plain types), for one `RESTORE`: the command of the
    /// buffer whose one argument is the payload.
    Payload(usize),
}

/// Adds to `cmds` the commands that write a payload's value, read where it
/// lies (no copy of the payload, no file made of it; its CRC64 not
/// computed again when `version` is what
/// [`payload_version`](rdb_parser::restore::payload_version) found): a
/// string as [`Rewritten::Set`] when `one_set` (the caller can write it
/// with one `SET`); with `reencode` (the target's RDB version), a value
/// plain types hold as [`Rewritten::Payload`] of that version; anything
/// else as commands under the key `tmp()` gives. On an error `cmds` is
/// left as it was.
#[allow(clippy::too_many_arguments)]
pub(super) fn rewrite_commands(
    payload: &[u8],
    version: Option<u32>,
    one_set: bool,
    reencode: Option<u32>,
    tmp: impl FnOnce() -> Vec<u8>,
    opts: &CommandOptions,
    scratch: &mut Scratch,
    cmds: &mut Cmds,
) -> Result<Rewritten> {
    let bad = |e: rdb_parser::Error| Error::internal(format!("payload: {e}"));
    let value = match version {
        Some(v) => payload_value_of(payload, v),
        None => payload_value(payload),
    }
    .map_err(bad)?;
    if one_set && value.kind() == Kind::String {
        let mut buf = Vec::new();
        let s = value.as_string().map_err(bad)?;
        cmds.command(&[s.bytes(&mut buf).map_err(bad)?]);
        return Ok(Rewritten::Set(cmds.len() - 1));
    }
    if let Some(target) = reencode {
        // Straight into the buffer, as the command's one argument.
        match plain_payload(&value, target, scratch, &mut cmds.bytes).map_err(bad)? {
            Reencoded::Payload => {
                cmds.arg_ends.push(cmds.bytes.len());
                cmds.cmd_ends.push(cmds.arg_ends.len());
                return Ok(Rewritten::Payload(cmds.len() - 1));
            }
            Reencoded::Empty => return Ok(Rewritten::Empty),
            Reencoded::NotPlain => {}
        }
    }
    let from = cmds.len();
    let tmp = tmp();
    match rdb_parser::restore::value_commands(&value, &tmp, scratch, opts, cmds) {
        Ok(true) => Ok(Rewritten::Cmds(from..cmds.len(), tmp)),
        Ok(false) => {
            cmds.truncate(from);
            Ok(Rewritten::Empty)
        }
        Err(e) => {
            cmds.truncate(from);
            Err(bad(e))
        }
    }
}

/// What rewriting a batch's values as commands needs to know of the job,
/// copied out of it so that the next batch can be rewritten while the
/// targets work on this one ([`Rewriter::prepare`]).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) struct Rewriter {
    pub(super) opts: CommandOptions,
    /// The target's `SET` takes `PXAT`: a string with a TTL is one `SET`.
    pub(super) pxat: bool,
    /// Which items are written as commands: all, none, or those of an RDB
    /// version newer than the target reads (`newer_than`; an item whose
    /// trailer did not hold counts as `source_version`).
    pub(super) all: bool,
    pub(super) none: bool,
    pub(super) newer_than: u32,
    /// Values plain types hold go re-encoded in this RDB version (the
    /// target's) with `RESTORE`, not as commands (`"write": "auto"`, a
    /// target whose `RESTORE` takes `ABSTTL`).
    pub(super) reencode: Option<u32>,
    pub(super) source_version: u32,
    pub(super) cluster: bool,
    pub(super) ticket: i64,
}

/// A batch's values as commands, made before its writes: what
/// [`rewrite_commands`] gave for each item it rewrites (None: written with
/// `RESTORE`), in one buffer.
pub(super) struct Prepared {
    pub(super) cmds: Cmds,
    pub(super) items: Vec<Option<Result<Rewritten>>>,
    /// The rewriter it was made with: a batch is rewritten again if the
    /// job's choices changed since (a target refused a payload's version).
    pub(super) by: Rewriter,
}

impl Rewriter {
    /// Whether `it` is written as commands.
    pub(super) fn wants(&self, it: &Item) -> bool {
        self.all || (!self.none && it.version.unwrap_or(self.source_version) > self.newer_than)
    }

    /// Rewrites the items of `b` that [`Rewriter::wants`].
    pub(super) fn prepare(&self, b: &Batch) -> Prepared {
        // About what the commands hold (a value's elements take about its
        // payload's bytes, a temporary key about its key's): no regrowth.
        let bytes = b
            .items
            .iter()
            .map(|i| i.payload.len() + 2 * i.key.len() + 64);
        let mut cmds = Cmds {
            bytes: Vec::with_capacity(bytes.sum()),
            arg_ends: Vec::with_capacity(b.items.len() * 8),
            cmd_ends: Vec::with_capacity(b.items.len() * 2),
        };
        let mut scratch = Scratch::new();
        let items = b
            .items
            .iter()
            .map(|it| {
                self.wants(it).then(|| {
                    let one_set = self.pxat || it.expire_at.is_none();
                    let tmp = || tmp_key(self.cluster, &it.key, self.ticket);
                    rewrite_commands(
                        &it.payload,
                        it.version,
                        one_set,
                        self.reencode,
                        tmp,
                        &self.opts,
                        &mut scratch,
                        &mut cmds,
                    )
                })
            })
            .collect();
        Prepared {
            cmds,
            items,
            by: *self,
        }
    }
}

impl Prepared {
    /// `ahead`, if it was made for `b` by the same rewriter as `now`;
    /// else `b` rewritten now.
    pub(super) fn take(ahead: Option<Prepared>, b: &Batch, now: &Rewriter) -> Prepared {
        match ahead {
            Some(p) if p.by == *now && p.items.len() == b.items.len() => p,
            _ => now.prepare(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A string is one `SET` where the caller can take it, else commands
    /// under the temporary key like any value; a list is `RPUSH` there; a
    /// payload whose checksum fails is an error, not commands.
    #[test]
    fn payloads_as_commands() {
        use rdb_parser::restore::restore_payload;
        let opts = CommandOptions::default();
        let mut scratch = Scratch::new();
        let mut c = Cmds::default();
        let tmp = || b"tmp".to_vec();
        let args = |c: &Cmds, i: usize| c.get(i).map(<[u8]>::to_vec).collect::<Vec<_>>();
        let string = restore_payload(0, &[3, b'a', b'b', b'c'], 11);
        match rewrite_commands(&string, None, true, None, tmp, &opts, &mut scratch, &mut c).unwrap()
        {
            Rewritten::Set(i) => assert_eq!(args(&c, i), [b"abc"]),
            _ => panic!("a string as one SET"),
        }
        match rewrite_commands(&string, None, false, None, tmp, &opts, &mut scratch, &mut c)
            .unwrap()
        {
            Rewritten::Cmds(r, k) => {
                assert_eq!((r, k), (1..2, b"tmp".to_vec()));
                assert_eq!(
                    args(&c, 1),
                    [b"SET".to_vec(), b"tmp".to_vec(), b"abc".to_vec()]
                );
            }
            _ => panic!("a string as commands"),
        }
        // A list in the oldest encoding: 2 elements, "x" and the integer 7.
        let list = restore_payload(1, &[2, 1, b'x', 0xc0, 7], 11);
        match rewrite_commands(&list, None, true, None, tmp, &opts, &mut scratch, &mut c).unwrap() {
            Rewritten::Cmds(r, _) => {
                assert_eq!(r, 2..3);
                let want: [&[u8]; 4] = [b"RPUSH", b"tmp", b"x", b"7"];
                assert_eq!(args(&c, 2), want.map(<[u8]>::to_vec));
            }
            _ => panic!("a list as commands"),
        }
        // Re-encoded for an RDB 9 target: one payload of version 9 in the
        // buffer, the same list; a stream has no plain form: commands.
        match rewrite_commands(&list, None, true, Some(9), tmp, &opts, &mut scratch, &mut c)
            .unwrap()
        {
            Rewritten::Payload(i) => {
                let p = c.get(i).next().unwrap().to_vec();
                assert_eq!(rdb_parser::restore::payload_version(&p), Some(9));
                let v = payload_value(&p).unwrap();
                let mut got = Vec::new();
                v.for_each_element(&mut scratch, |e| {
                    if let rdb_parser::Element::Member(m) = e {
                        got.push(m.with_bytes(<[u8]>::to_vec));
                    }
                })
                .unwrap();
                assert_eq!(got, [b"x".to_vec(), b"7".to_vec()]);
                c.truncate(i);
            }
            _ => panic!("a list re-encoded"),
        }
        let empty = restore_payload(1, &[0], 11);
        assert!(matches!(
            rewrite_commands(&empty, None, true, None, tmp, &opts, &mut scratch, &mut c).unwrap(),
            Rewritten::Empty
        ));
        let mut bad = list.clone();
        bad[2] ^= 0x20;
        let e = rewrite_commands(&bad, None, true, None, tmp, &opts, &mut scratch, &mut c)
            .err()
            .expect("an error");
        assert!(e.message.contains("trailer"), "{}", e.message);
        // A list whose second element is cut short: an error, the buffer
        // as it was (its three commands, nothing of the list).
        let cut = restore_payload(1, &[2, 1, b'x', 5, b'y'], 11);
        assert!(
            rewrite_commands(&cut, None, true, None, tmp, &opts, &mut scratch, &mut c).is_err()
        );
        assert_eq!(c.len(), 3);
        assert_eq!(args(&c, 2)[2], b"x");
        c.truncate(1);
        assert_eq!(c.len(), 1);
        assert_eq!(args(&c, 0), [b"abc"]);
    }

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
