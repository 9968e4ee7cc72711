//! Writing an RDB file from `DUMP` payloads, piece by piece: the header
//! and aux fields, then per key `SELECTDB` (when the db changes), the
//! absolute expire time and the payload's type byte and value bytes, and
//! at the end `EOF` and the CRC64 of everything before it. The writer only
//! makes bytes and keeps the running checksum, so a caller can write and
//! sync them when it wants, and take up a half-written file again from a
//! recorded [`WriterState`].
//!
//! ```
//! use rdb_parser::restore::restore_payload;
//! use rdb_parser::writer::RdbWriter;
//! use rdb_parser::Rdb;
//!
//! let payload = restore_payload(0, &[0x01, b'v'], 11);
//! let (mut w, mut file) = RdbWriter::start(11, &[("rdbscope-backup", "ticket 7")]);
//! file.extend(w.entry(0, b"k", Some(1_900_000_000_000), &payload).unwrap());
//! file.extend(w.finish());
//! let rdb = Rdb::new(&file).unwrap();
//! assert_eq!(rdb.entries().count(), 1);
//! ```

use crate::crc64;
use crate::error::{Error, ErrorKind, Result};
use crate::restore::payload_version;
use crate::types::opcode;

/// Where a writer stands: enough to append to the file it wrote after a
/// restart (truncate the file to `bytes` first).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriterState {
    /// Bytes written so far.
    pub bytes: u64,
    /// CRC64 of those bytes.
    pub crc: u64,
    /// Keys written so far.
    pub keys: u64,
    /// The db of the last `SELECTDB` written, if any.
    pub db: Option<u32>,
}

/// Makes the bytes of an RDB file from `DUMP` payloads.
#[derive(Clone, Debug)]
pub struct RdbWriter {
    state: WriterState,
    version: u32,
}

/// The magic and version a file of RDB version `version` starts with
/// (`REDIS0011`, or `VALKEY080` for Valkey's own numbers from 80).
pub fn header(version: u32) -> Vec<u8> {
    if version >= 80 {
        format!("VALKEY{:03}", version.min(999)).into_bytes()
    } else {
        format!("REDIS{:04}", version).into_bytes()
    }
}

/// Appends an RDB length (6, 14, 32 or 64 bits).
pub fn push_length(out: &mut Vec<u8>, n: u64) {
    if n < 1 << 6 {
        out.push(n as u8);
    } else if n < 1 << 14 {
        out.push(0x40 | (n >> 8) as u8);
        out.push(n as u8);
    } else if n <= u64::from(u32::MAX) {
        out.push(0x80);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// Appends a length-prefixed string.
pub fn push_string(out: &mut Vec<u8>, s: &[u8]) {
    push_length(out, s.len() as u64);
    out.extend_from_slice(s);
}

impl RdbWriter {
    /// A new file of RDB version `version`: the writer and the header
    /// bytes (magic, version, aux fields).
    pub fn start(version: u32, aux: &[(&str, &str)]) -> (RdbWriter, Vec<u8>) {
        let mut out = header(version);
        for (k, v) in aux {
            out.push(opcode::AUX);
            push_string(&mut out, k.as_bytes());
            push_string(&mut out, v.as_bytes());
        }
        let mut w = RdbWriter {
            state: WriterState::default(),
            version,
        };
        w.account(&out);
        (w, out)
    }

    /// Takes up a file whose first `state.bytes` bytes this writer made.
    pub fn resume(version: u32, state: WriterState) -> RdbWriter {
        RdbWriter { state, version }
    }

    /// The RDB version in the header.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Where the writer stands.
    pub fn state(&self) -> WriterState {
        self.state
    }

    fn account(&mut self, bytes: &[u8]) {
        self.state.crc = crc64::update(self.state.crc, bytes);
        self.state.bytes += bytes.len() as u64;
    }

    /// The bytes of one key: `SELECTDB` if the db changed, its absolute
    /// expire time in ms, and the payload's type byte and value. The
    /// payload's trailer (RDB version and CRC64) is checked, a payload of a
    /// newer RDB version than the file's is refused, and so is an expire
    /// time past `i64::MAX` ms (readers take the field as signed: it would
    /// read back as a time long past, and the key be dropped on load).
    pub fn entry(
        &mut self,
        db: u32,
        key: &[u8],
        expire_at_ms: Option<u64>,
        payload: &[u8],
    ) -> Result<Vec<u8>> {
        let bad = |what: &'static str, found: Option<u64>| {
            Error::new(
                ErrorKind::Malformed {
                    expected: what,
                    found,
                },
                0,
            )
        };
        let version = payload_version(payload)
            .ok_or_else(|| bad("a DUMP payload with a valid trailer", None))?;
        if version > self.version {
            return Err(bad(
                "a DUMP payload no newer than the file's RDB version",
                Some(u64::from(version)),
            ));
        }
        if let Some(t) = expire_at_ms.filter(|&t| i64::try_from(t).is_err()) {
            return Err(bad("an expire time of at most i64::MAX ms", Some(t)));
        }
        let body = &payload[..payload.len() - 10];
        let mut out = Vec::with_capacity(body.len() + key.len() + 16);
        if self.state.db != Some(db) {
            out.push(opcode::SELECTDB);
            push_length(&mut out, u64::from(db));
            self.state.db = Some(db);
        }
        if let Some(t) = expire_at_ms {
            out.push(opcode::EXPIRETIME_MS);
            out.extend_from_slice(&t.to_le_bytes());
        }
        out.push(body[0]);
        push_string(&mut out, key);
        out.extend_from_slice(&body[1..]);
        self.account(&out);
        self.state.keys += 1;
        Ok(out)
    }

    /// The closing bytes: `EOF` and the CRC64 of the whole file.
    pub fn finish(&mut self) -> Vec<u8> {
        self.account(&[opcode::EOF]);
        let mut out = vec![opcode::EOF];
        out.extend_from_slice(&self.state.crc.to_le_bytes());
        self.state.bytes += 8;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::restore::restore_payload;
    use crate::Rdb;

    #[test]
    fn lengths_round_trip_through_the_reader() {
        for n in [0u64, 63, 64, 16383, 16384, 1 << 32] {
            let mut v = Vec::new();
            push_length(&mut v, n);
            let expect = match n {
                0..=63 => 1,
                64..=16383 => 2,
                16384..=0xffff_ffff => 5,
                _ => 9,
            };
            assert_eq!(v.len(), expect, "{n}");
        }
        assert_eq!(header(11), b"REDIS0011");
        assert_eq!(header(80), b"VALKEY080");
    }

    #[test]
    fn a_written_file_reads_back_and_resumes() {
        let big = vec![b'x'; 20_000];
        let mut value = Vec::new();
        push_string(&mut value, &big);
        let p1 = restore_payload(0, &value, 10);
        let p2 = restore_payload(0, &[0x02, b'h', b'i'], 9);
        let (mut w, mut file) = RdbWriter::start(10, &[("rdbscope-backup", "ticket 1")]);
        file.extend(w.entry(0, b"a", None, &p1).unwrap());
        let st = w.state();
        file.extend(w.entry(3, b"b", Some(1_999_999_999_000), &p2).unwrap());
        // A restart at `st`: the second entry is written again.
        file.truncate(st.bytes as usize);
        let mut w = RdbWriter::resume(10, st);
        file.extend(w.entry(3, b"b", Some(1_999_999_999_000), &p2).unwrap());
        file.extend(w.finish());
        assert_eq!(w.state().bytes, file.len() as u64);
        assert_eq!(w.state().keys, 2);
        let rdb = Rdb::new(&file).unwrap();
        assert_eq!(rdb.version(), 10);
        let (body, crc) = file.split_at(file.len() - 8);
        assert_eq!(crc64::checksum(body).to_le_bytes(), crc);
        let mut keys = Vec::new();
        let mut buf = Vec::new();
        for e in rdb.entries() {
            let e = e.unwrap();
            keys.push((
                e.db,
                e.key.bytes(&mut buf).unwrap().to_vec(),
                e.expire_at_ms,
            ));
            let again = restore_payload(e.value_type().byte(), e.value.raw(), 10);
            let body = |p: &[u8]| p[..p.len() - 10].to_vec();
            assert!(body(&again) == body(&p1) || body(&again) == body(&p2));
        }
        assert_eq!(
            keys,
            vec![
                (0, b"a".to_vec(), None),
                (3, b"b".to_vec(), Some(1_999_999_999_000i64))
            ]
        );
        let newer = restore_payload(0, &[0x01, b'v'], 12);
        assert!(w.entry(0, b"c", None, &newer).is_err());
        assert!(w.entry(0, b"c", None, b"short").is_err());
    }

    /// Found writing the `writer` fuzz target: an expire time past
    /// `i64::MAX` ms was written as is and read back negative (a key that
    /// expired long ago).
    #[test]
    fn an_expire_time_past_i64_max_is_refused() {
        let p = restore_payload(0, &[0x01, b'v'], 11);
        let (mut w, mut file) = RdbWriter::start(11, &[]);
        let before = w.state();
        assert!(w.entry(0, b"k", Some(1 << 63), &p).is_err());
        assert!(w.entry(0, b"k", Some(u64::MAX), &p).is_err());
        assert_eq!(w.state(), before, "a refused entry changes nothing");
        let last = i64::MAX as u64;
        file.extend(w.entry(0, b"k", Some(last), &p).unwrap());
        file.extend(w.finish());
        let e = Rdb::new(&file).unwrap().entries().next().unwrap().unwrap();
        assert_eq!(e.expire_at_ms, Some(i64::MAX));
    }
}
