//! A minimal synchronous RESP2 client (no HELLO, no RESP3).

use std::fmt;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// One RESP2 reply. Server-side errors (`-ERR ...`) are [`Reply::Error`], not `Err(io::Error)`.
#[derive(Clone, PartialEq, Eq)]
pub enum Reply {
    /// `$-1` or `*-1`.
    Nil,
    /// `:N`.
    Int(i64),
    /// `$N` bulk string.
    Bulk(Vec<u8>),
    /// `+OK` simple string.
    Status(String),
    /// `-ERR ...` (the text after the `-`).
    Error(String),
    /// `*N`, possibly nested (e.g. `XINFO STREAM key FULL`).
    Array(Vec<Reply>),
}

impl Reply {
    /// Integer value: `Int`, or a `Bulk`/`Status` whose text is an integer
    /// (e.g. the `SCAN` cursor, `PEXPIRETIME` is already `Int`).
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Reply::Int(n) => Some(*n),
            Reply::Bulk(b) => std::str::from_utf8(b).ok()?.parse().ok(),
            Reply::Status(s) => s.parse().ok(),
            _ => None,
        }
    }

    /// Float value of an `Int`, or of a `Bulk`/`Status` (e.g. `ZRANGE .. WITHSCORES` scores,
    /// `inf`/`-inf` included).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Reply::Int(n) => Some(*n as f64),
            Reply::Bulk(_) | Reply::Status(_) => {
                let s = self.as_str()?;
                match s {
                    "inf" | "+inf" => Some(f64::INFINITY),
                    "-inf" => Some(f64::NEG_INFINITY),
                    _ => s.parse().ok(),
                }
            }
            _ => None,
        }
    }

    /// Raw bytes of a `Bulk` or `Status`.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Reply::Bulk(b) => Some(b),
            Reply::Status(s) => Some(s.as_bytes()),
            _ => None,
        }
    }

    /// Text of a `Bulk` (when valid UTF-8) or `Status`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Reply::Bulk(b) => std::str::from_utf8(b).ok(),
            Reply::Status(s) => Some(s),
            _ => None,
        }
    }

    /// Elements of an `Array`.
    pub fn as_array(&self) -> Option<&[Reply]> {
        match self {
            Reply::Array(a) => Some(a),
            _ => None,
        }
    }

    /// Elements of an `Array`, by value. `Nil` (a nil array) gives `Some(vec![])`.
    pub fn into_array(self) -> Option<Vec<Reply>> {
        match self {
            Reply::Array(a) => Some(a),
            Reply::Nil => Some(Vec::new()),
            _ => None,
        }
    }

    /// A flat `[k1, v1, k2, v2, ...]` array (`HGETALL`, `CONFIG GET`, `ZRANGE .. WITHSCORES`,
    /// `XINFO` maps) as pairs. `None` if not an array or of odd length.
    pub fn into_pairs(self) -> Option<Vec<(Reply, Reply)>> {
        let a = self.into_array()?;
        if a.len() % 2 != 0 {
            return None;
        }
        let mut out = Vec::with_capacity(a.len() / 2);
        let mut it = a.into_iter();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            out.push((k, v));
        }
        Some(out)
    }

    /// In a flat `[k1, v1, ...]` map-like array, the value for text key `key`.
    pub fn get_field(&self, key: &str) -> Option<&Reply> {
        let a = self.as_array()?;
        a.chunks_exact(2)
            .find(|kv| kv[0].as_bytes() == Some(key.as_bytes()))
            .map(|kv| &kv[1])
    }

    /// `-ERR ...` reply.
    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }

    /// `$-1` / `*-1`.
    pub fn is_nil(&self) -> bool {
        matches!(self, Reply::Nil)
    }
}

fn fmt_bytes(f: &mut fmt::Formatter<'_>, b: &[u8]) -> fmt::Result {
    f.write_str("\"")?;
    for chunk in b.utf8_chunks() {
        for c in chunk.valid().chars() {
            write!(f, "{}", c.escape_debug())?;
        }
        for byte in chunk.invalid() {
            write!(f, "\\x{byte:02x}")?;
        }
    }
    f.write_str("\"")
}

impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reply::Nil => f.write_str("Nil"),
            Reply::Int(n) => write!(f, "Int({n})"),
            Reply::Bulk(b) => {
                f.write_str("Bulk(")?;
                fmt_bytes(f, b)?;
                f.write_str(")")
            }
            Reply::Status(s) => write!(f, "Status({s:?})"),
            Reply::Error(s) => write!(f, "Error({s:?})"),
            Reply::Array(a) => f.debug_list().entries(a).finish(),
        }
    }
}

/// Builds a `Vec<Vec<u8>>` command from mixed arguments that are each `AsRef<[u8]>`
/// (`&str`, `String`, `Vec<u8>`, `&[u8]`, byte-string literals...).
///
/// ```
/// let key = b"k\x00".to_vec();
/// let cmd = testkit::cmd_args!["SET", key, 7.to_string()];
/// assert_eq!(cmd, vec![b"SET".to_vec(), b"k\x00".to_vec(), b"7".to_vec()]);
/// ```
#[macro_export]
macro_rules! cmd_args {
    ($($arg:expr),* $(,)?) => {
        ::std::vec![$(::std::convert::AsRef::<[u8]>::as_ref(&$arg).to_vec()),*]
    };
}

/// A blocking RESP2 connection.
pub struct Client {
    reader: BufReader<TcpStream>,
    writer: BufWriter<TcpStream>,
}

/// Commands per write-then-read round in [`Client::pipeline`]; bounds memory on both sides.
const PIPELINE_CHUNK: usize = 8192;

impl Client {
    /// Connects (10 s connect timeout, 300 s read/write timeout so a stuck test fails rather than hangs).
    pub fn connect(addr: impl ToSocketAddrs) -> io::Result<Client> {
        let mut last = None;
        for a in addr.to_socket_addrs()? {
            match TcpStream::connect_timeout(&a, Duration::from_secs(10)) {
                Ok(s) => return Client::from_stream(s),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address")))
    }

    fn from_stream(s: TcpStream) -> io::Result<Client> {
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(Duration::from_secs(300)))?;
        s.set_write_timeout(Some(Duration::from_secs(300)))?;
        let w = s.try_clone()?;
        Ok(Client {
            reader: BufReader::with_capacity(64 * 1024, s),
            writer: BufWriter::with_capacity(64 * 1024, w),
        })
    }

    /// Changes the read/write timeout (`None` = wait forever).
    pub fn set_timeout(&mut self, t: Option<Duration>) -> io::Result<()> {
        self.reader.get_ref().set_read_timeout(t)?;
        self.writer.get_ref().set_write_timeout(t)
    }

    /// Sends one command and reads its reply: `c.cmd(&["SET", "k", "v"])`.
    /// For mixed argument types use [`cmd_args!`].
    pub fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> io::Result<Reply> {
        write_cmd(&mut self.writer, args)?;
        self.writer.flush()?;
        read_reply(&mut self.reader)
    }

    /// Like [`cmd`](Self::cmd) but panics on an I/O error or an error reply; for test code.
    #[track_caller]
    pub fn must<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Reply {
        match self.cmd(args) {
            Ok(Reply::Error(e)) => panic!("{} -> -{e}", show_cmd(args)),
            Ok(r) => r,
            Err(e) => panic!("{} -> I/O error: {e}", show_cmd(args)),
        }
    }

    /// Writes all commands, then reads all replies (in chunks of a few thousand), in order.
    /// Error replies are returned in place, not as `Err`.
    pub fn pipeline<C, A>(&mut self, cmds: &[C]) -> io::Result<Vec<Reply>>
    where
        C: AsRef<[A]>,
        A: AsRef<[u8]>,
    {
        let mut out = Vec::with_capacity(cmds.len());
        for chunk in cmds.chunks(PIPELINE_CHUNK) {
            for c in chunk {
                write_cmd(&mut self.writer, c.as_ref())?;
            }
            self.writer.flush()?;
            for _ in chunk {
                out.push(read_reply(&mut self.reader)?);
            }
        }
        Ok(out)
    }

    /// [`pipeline`](Self::pipeline) that panics on an I/O error or on the first error reply.
    #[track_caller]
    pub fn pipeline_must<C, A>(&mut self, cmds: &[C]) -> Vec<Reply>
    where
        C: AsRef<[A]>,
        A: AsRef<[u8]>,
    {
        let replies = match self.pipeline(cmds) {
            Ok(r) => r,
            Err(e) => panic!("pipeline of {} commands: I/O error: {e}", cmds.len()),
        };
        for (c, r) in cmds.iter().zip(&replies) {
            if let Reply::Error(e) = r {
                panic!("{} -> -{e}", show_cmd(c.as_ref()));
            }
        }
        replies
    }
}

fn show_cmd<A: AsRef<[u8]>>(args: &[A]) -> String {
    let mut s = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        let a = a.as_ref();
        if a.len() > 64 {
            s.push_str(&String::from_utf8_lossy(&a[..64]));
            s.push_str("...");
        } else {
            s.push_str(&String::from_utf8_lossy(a));
        }
    }
    s
}

fn write_cmd<W: Write, A: AsRef<[u8]>>(w: &mut W, args: &[A]) -> io::Result<()> {
    write!(w, "*{}\r\n", args.len())?;
    for a in args {
        let a = a.as_ref();
        write!(w, "${}\r\n", a.len())?;
        w.write_all(a)?;
        w.write_all(b"\r\n")?;
    }
    Ok(())
}

fn bad(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

fn read_line<R: BufRead>(r: &mut R) -> io::Result<Vec<u8>> {
    let mut line = Vec::new();
    r.read_until(b'\n', &mut line)?;
    if line.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed by server",
        ));
    }
    if !line.ends_with(b"\r\n") {
        return Err(bad(format!(
            "RESP line not CRLF-terminated: {:?}",
            String::from_utf8_lossy(&line)
        )));
    }
    line.truncate(line.len() - 2);
    Ok(line)
}

fn parse_int(b: &[u8]) -> io::Result<i64> {
    std::str::from_utf8(b)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad(format!("bad RESP integer {:?}", String::from_utf8_lossy(b))))
}

/// Reads one RESP2 reply (recursively for arrays).
fn read_reply<R: BufRead>(r: &mut R) -> io::Result<Reply> {
    let line = read_line(r)?;
    let (&t, rest) = line
        .split_first()
        .ok_or_else(|| bad("empty RESP line".into()))?;
    match t {
        b'+' => Ok(Reply::Status(String::from_utf8_lossy(rest).into_owned())),
        b'-' => Ok(Reply::Error(String::from_utf8_lossy(rest).into_owned())),
        b':' => Ok(Reply::Int(parse_int(rest)?)),
        b'$' => {
            let n = parse_int(rest)?;
            if n < 0 {
                return Ok(Reply::Nil);
            }
            let mut buf = vec![0u8; n as usize + 2];
            r.read_exact(&mut buf)?;
            if !buf.ends_with(b"\r\n") {
                return Err(bad("bulk string not CRLF-terminated".into()));
            }
            buf.truncate(n as usize);
            Ok(Reply::Bulk(buf))
        }
        b'*' => {
            let n = parse_int(rest)?;
            if n < 0 {
                return Ok(Reply::Nil);
            }
            let mut v = Vec::with_capacity((n as usize).min(1 << 16));
            for _ in 0..n {
                v.push(read_reply(r)?);
            }
            Ok(Reply::Array(v))
        }
        _ => Err(bad(format!(
            "unexpected RESP type byte {:?} in line {:?}",
            t as char,
            String::from_utf8_lossy(&line)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &[u8]) -> Reply {
        read_reply(&mut &s[..]).unwrap()
    }

    #[test]
    fn parses_resp2() {
        assert_eq!(parse(b"+OK\r\n"), Reply::Status("OK".into()));
        assert_eq!(parse(b"-ERR x\r\n"), Reply::Error("ERR x".into()));
        assert_eq!(parse(b":-2\r\n"), Reply::Int(-2));
        assert_eq!(parse(b"$-1\r\n"), Reply::Nil);
        assert_eq!(parse(b"*-1\r\n"), Reply::Nil);
        assert_eq!(parse(b"$4\r\na\r\nb\r\n"), Reply::Bulk(b"a\r\nb".to_vec()));
        let r = parse(b"*2\r\n$1\r\n0\r\n*2\r\n$1\r\na\r\n*1\r\n:5\r\n");
        assert_eq!(r.as_array().unwrap()[0].as_int(), Some(0));
        assert_eq!(
            r.into_array().unwrap()[1],
            Reply::Array(vec![
                Reply::Bulk(b"a".to_vec()),
                Reply::Array(vec![Reply::Int(5)])
            ])
        );
        assert!(read_reply(&mut &b"$5\r\nab"[..]).is_err());
        assert!(read_reply(&mut &b"?x\r\n"[..]).is_err());
    }

    #[test]
    fn helpers() {
        let r = Reply::Array(vec![
            Reply::Bulk(b"a".to_vec()),
            Reply::Bulk(b"1.5".to_vec()),
            Reply::Bulk(b"b".to_vec()),
            Reply::Bulk(b"-inf".to_vec()),
        ]);
        assert_eq!(
            r.get_field("b").and_then(Reply::as_f64),
            Some(f64::NEG_INFINITY)
        );
        let p = r.into_pairs().unwrap();
        assert_eq!(p[0].1.as_f64(), Some(1.5));
        assert_eq!(
            format!("{:?}", Reply::Bulk(b"a\xff\n".to_vec())),
            "Bulk(\"a\\xff\\n\")"
        );
        let v = crate::cmd_args!["SET", b"k".to_vec(), String::from("v")];
        assert_eq!(v.len(), 3);
    }
}
