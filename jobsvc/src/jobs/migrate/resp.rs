//! A node's pipeline written as RESP straight into one buffer: no command
//! or argument is copied on its own before it goes out.

/// The commands of one node's pipeline, in RESP, and how many there are.
#[derive(Default)]
pub(crate) struct Resp {
    pub(crate) buf: Vec<u8>,
    /// Commands written (each `ASKING` counts: it has a reply).
    pub(crate) count: usize,
    /// Every command is preceded by `ASKING` (a key under an `ASK`
    /// redirection).
    pub(crate) asking: bool,
}

impl Resp {
    /// Appends one command (after an `ASKING` when asking).
    pub(crate) fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        self.cmd_of(args.iter().map(AsRef::as_ref));
    }

    /// [`Resp::cmd`] of arguments given one by one.
    pub(crate) fn cmd_of<'a>(&mut self, args: impl ExactSizeIterator<Item = &'a [u8]>) {
        if self.asking {
            self.raw([b"ASKING".as_slice()].into_iter());
        }
        self.raw(args);
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
    }
}
