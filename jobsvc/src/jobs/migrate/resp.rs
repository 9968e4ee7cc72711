//! A node's pipeline written as RESP straight into one buffer: no command
//! or argument is copied on its own before it goes out.

use crate::redis::reply::server_error;
use ::redis::Value as RV;

/// The commands of one node's pipeline, in RESP, and how many there are.
#[derive(Default)]
pub(crate) struct Resp {
    pub(crate) buf: Vec<u8>,
    /// Commands written (each `ASKING` counts: it has a reply).
    pub(crate) count: usize,
    /// Every command is preceded by `ASKING` (a key under an `ASK`
    /// redirection), but those of a transaction: its `MULTI` is, and the
    /// server keeps the flag until its `EXEC`.
    pub(crate) asking: bool,
    /// The replies that are an `ASKING`'s, by position, in order.
    pub(crate) askings: Vec<usize>,
    in_multi: bool,
}

impl Resp {
    /// Appends one command (after an `ASKING` when asking).
    pub(crate) fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        self.cmd_of(args.iter().map(AsRef::as_ref));
    }

    /// [`Resp::cmd`] of arguments given one by one.
    pub(crate) fn cmd_of<'a>(&mut self, args: impl ExactSizeIterator<Item = &'a [u8]>) {
        if self.asking && !self.in_multi {
            self.askings.push(self.count);
            self.raw([b"ASKING".as_slice()].into_iter());
        }
        self.raw(args);
    }

    /// Opens a transaction: the commands up to [`Resp::exec`] run all or
    /// none (if one is refused when queued: out of memory, unknown, on
    /// another node's slot), without another client's between them.
    pub(crate) fn multi(&mut self) {
        self.cmd(&[b"MULTI"]);
        self.in_multi = true;
    }

    /// Runs the transaction: its one reply is an array of the queued
    /// commands' replies, or an error if none ran ([`exec_replies`]).
    pub(crate) fn exec(&mut self) {
        self.raw([b"EXEC".as_slice()].into_iter());
        self.in_multi = false;
    }

    fn raw<'a>(&mut self, args: impl ExactSizeIterator<Item = &'a [u8]>) {
        self.buf.push(b'*');
        rdb_parser::push_decimal(&mut self.buf, args.len() as i64);
        self.buf.extend_from_slice(b"\r\n");
        for a in args {
            self.buf.push(b'$');
            rdb_parser::push_decimal(&mut self.buf, a.len() as i64);
            self.buf.extend_from_slice(b"\r\n");
            self.buf.extend_from_slice(a);
            self.buf.extend_from_slice(b"\r\n");
        }
        self.count += 1;
    }
}

/// A transaction's replies (`MULTI`'s, a `QUEUED` per command, `EXEC`'s)
/// as those of its commands had they run one by one, and its first error:
/// one a command met as it ran, or the one that kept them all from
/// running (with no reply of theirs then).
pub(crate) fn exec_replies(mut r: Vec<RV>) -> (Vec<RV>, Option<(String, String)>) {
    match r.pop() {
        Some(RV::Array(ran)) => {
            let err = ran.iter().find_map(server_error);
            (ran, err)
        }
        exec => {
            // Refused when queued (the first error is why), or `EXEC`
            // itself refused.
            let why = r
                .iter()
                .chain(exec.as_ref())
                .find_map(server_error)
                .unwrap_or_else(|| ("EXECABORT".into(), "the transaction did not run".into()));
            (Vec::new(), Some(why))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_and_numbers() {
        let mut r = Resp::default();
        r.cmd(&[b"SET".as_slice(), b"k".as_slice(), b"".as_slice()]);
        r.asking = true;
        r.cmd(&[b"GET".to_vec(), b"k".to_vec()]);
        assert_eq!(
            r.buf,
            b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n*1\r\n$6\r\nASKING\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"
        );
        assert_eq!(r.count, 3);
        assert_eq!(r.askings, [1]);
        // Under `ASK`, a transaction's `MULTI` alone is asked for.
        r.multi();
        r.cmd(&[b"DEL".as_slice(), b"k"]);
        r.exec();
        assert!(r.buf.ends_with(
            b"*1\r\n$6\r\nASKING\r\n*1\r\n$5\r\nMULTI\r\n*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n*1\r\n$4\r\nEXEC\r\n"
        ));
        assert_eq!((r.count, r.askings.as_slice()), (7, [1, 3].as_slice()));
    }

    #[test]
    fn transactions_as_their_commands() {
        let queued = || RV::SimpleString("QUEUED".into());
        let err = |s: &str| ::redis::parse_redis_value(format!("-{s}\r\n").as_bytes()).unwrap();
        let ran = vec![
            RV::Okay,
            queued(),
            queued(),
            RV::Array(vec![RV::Int(3), RV::Okay]),
        ];
        assert_eq!(exec_replies(ran), (vec![RV::Int(3), RV::Okay], None));
        let oom = vec![
            RV::Int(0),
            RV::Okay,
            queued(),
            err("OOM no room"),
            err("EXECABORT discarded"),
        ];
        let (r, e) = exec_replies(oom);
        assert!(r.is_empty());
        assert_eq!(e.unwrap().0, "OOM");
        let failed_inside = vec![
            RV::Okay,
            queued(),
            RV::Array(vec![err("ERR bad"), RV::Int(1)]),
        ];
        assert_eq!(exec_replies(failed_inside).1.unwrap().0, "ERR");
        assert_eq!(
            exec_replies(vec![RV::Okay, RV::Nil]).1.unwrap().0,
            "EXECABORT"
        );
    }
}
