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
        if self.asking {
            self.raw(&[b"ASKING".as_slice()]);
        }
        self.raw(args);
    }

    fn raw<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        self.buf.push(b'*');
        push_int(&mut self.buf, args.len() as i64);
        self.buf.extend_from_slice(b"\r\n");
        for a in args {
            let a = a.as_ref();
            self.buf.push(b'$');
            push_int(&mut self.buf, a.len() as i64);
            self.buf.extend_from_slice(b"\r\n");
            self.buf.extend_from_slice(a);
            self.buf.extend_from_slice(b"\r\n");
        }
        self.count += 1;
    }
}

/// `v` in decimal, in `buf` (for an argument such as an expire time).
pub(crate) fn int_arg(v: i64, buf: &mut [u8; 20]) -> &[u8] {
    let mut at = buf.len();
    let neg = v < 0;
    let mut n = v.unsigned_abs();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if neg {
        at -= 1;
        buf[at] = b'-';
    }
    &buf[at..]
}

fn push_int(out: &mut Vec<u8>, v: i64) {
    let mut b = [0u8; 20];
    out.extend_from_slice(int_arg(v, &mut b));
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
        let mut b = [0u8; 20];
        for v in [0i64, 7, -7, 1_700_000_000_123, i64::MAX, i64::MIN] {
            assert_eq!(int_arg(v, &mut b), v.to_string().as_bytes());
        }
    }
}
