//! Ziplist (Redis 2.6 to 6.2 compact container).
//!
//! Layout: total bytes (u32 LE), tail offset (u32 LE), count (u16 LE,
//! 65535 = unknown), entries, 0xFF. Each entry: previous entry length
//! (1 byte, or 0xFE + u32 LE), an encoding, data.

use super::blob::iter_item;
use crate::cursor::Cursor;
use crate::error::{Error, Result};
use crate::string::Scalar;

/// Iterator over the entries of one ziplist blob; offsets in errors are
/// relative to the blob. Previous-length fields are checked, which is what
/// catches most corruption (the same check Redis's integrity validation does).
pub struct Ziplist<'b> {
    cur: Cursor<'b>,
    header_count: u16,
    seen: u64,
    prev_len: u64,
    done: bool,
}

impl<'b> Ziplist<'b> {
    /// Checks the header and terminator of `blob`.
    pub fn new(blob: &'b [u8]) -> Result<Ziplist<'b>> {
        let mut cur = Cursor::new(blob, 0);
        let total = cur.u32_le("a ziplist's total size")?;
        let tail = cur.u32_le("a ziplist's tail offset")?;
        let header_count = cur.u16_le("a ziplist's element count")?;
        if total as usize != blob.len() {
            return Err(Error::malformed(
                "a ziplist size equal to its string length",
                0,
                Some(total.into()),
            ));
        }
        if tail as usize >= blob.len() || tail < 10 {
            return Err(Error::malformed(
                "a ziplist tail offset inside the ziplist",
                4,
                Some(tail.into()),
            ));
        }
        if blob.last() != Some(&0xff) {
            return Err(Error::malformed(
                "a ziplist ending in 0xFF",
                blob.len().saturating_sub(1) as u64,
                blob.last().map(|&b| b.into()),
            ));
        }
        Ok(Ziplist {
            cur,
            header_count,
            seen: 0,
            prev_len: 0,
            done: false,
        })
    }

    /// Counts entries, walking them only when the header does not say.
    pub fn count(blob: &'b [u8]) -> Result<u64> {
        let zl = Ziplist::new(blob)?;
        if zl.header_count != u16::MAX {
            return Ok(u64::from(zl.header_count));
        }
        let mut n = 0;
        for e in zl {
            e?;
            n += 1;
        }
        Ok(n)
    }

    /// Reads the next entry.
    pub fn next_entry(&mut self) -> Result<Option<Scalar<'b>>> {
        if self.done {
            return Ok(None);
        }
        let at = self.cur.offset();
        let first = self
            .cur
            .peek()
            .ok_or_else(|| Error::truncated("a ziplist entry", at, 1, 0))?;
        if first == 0xff {
            self.cur.skip(1, "a ziplist terminator")?;
            self.done = true;
            if !self.cur.is_empty() {
                return Err(Error::malformed(
                    "nothing after a ziplist's terminator",
                    at,
                    None,
                ));
            }
            if self.header_count != u16::MAX && u64::from(self.header_count) != self.seen {
                return Err(Error::malformed(
                    "as many ziplist entries as its header counts",
                    at,
                    Some(self.seen),
                ));
            }
            return Ok(None);
        }
        let start = self.cur.pos();
        let prev = self.cur.u8("a ziplist previous-entry length")?;
        let prev = if prev == 0xfe {
            u64::from(self.cur.u32_le("a ziplist 5-byte previous-entry length")?)
        } else {
            u64::from(prev)
        };
        if prev != self.prev_len {
            return Err(Error::malformed(
                "a ziplist previous-entry length equal to the previous entry's size",
                at,
                Some(prev),
            ));
        }
        let enc_at = self.cur.offset();
        let enc = self.cur.u8("a ziplist entry encoding")?;
        let value = match enc >> 6 {
            0 => Scalar::Bytes(self.cur.bytes(u64::from(enc & 0x3f), "a ziplist string")?),
            1 => {
                let lo = self.cur.u8("a ziplist 14-bit string length")?;
                let n = (u64::from(enc & 0x3f) << 8) | u64::from(lo);
                Scalar::Bytes(self.cur.bytes(n, "a ziplist string")?)
            }
            2 => {
                if enc != 0x80 {
                    return Err(Error::malformed(
                        "a ziplist string encoding",
                        enc_at,
                        Some(enc.into()),
                    ));
                }
                let n = u64::from(self.cur.u32_be("a ziplist 32-bit string length")?);
                Scalar::Bytes(self.cur.bytes(n, "a ziplist string")?)
            }
            _ => match enc {
                0xc0 => Scalar::Int(i64::from(
                    self.cur.u16_le("a ziplist 16-bit integer")? as i16
                )),
                0xd0 => Scalar::Int(i64::from(
                    self.cur.u32_le("a ziplist 32-bit integer")? as i32
                )),
                0xe0 => Scalar::Int(self.cur.i64_le("a ziplist 64-bit integer")?),
                0xf0 => {
                    let b = self.cur.array::<3>("a ziplist 24-bit integer")?;
                    Scalar::Int(i64::from(i32::from_le_bytes([0, b[0], b[1], b[2]]) >> 8))
                }
                0xfe => Scalar::Int(i64::from(self.cur.u8("a ziplist 8-bit integer")? as i8)),
                0xf1..=0xfd => Scalar::Int(i64::from(enc & 0x0f) - 1),
                _ => {
                    return Err(Error::malformed(
                        "a ziplist entry encoding",
                        enc_at,
                        Some(enc.into()),
                    ))
                }
            },
        };
        self.prev_len = (self.cur.pos() - start) as u64;
        self.seen += 1;
        Ok(Some(value))
    }
}

impl<'b> Iterator for Ziplist<'b> {
    type Item = Result<Scalar<'b>>;
    fn next(&mut self) -> Option<Self::Item> {
        let r = self.next_entry();
        iter_item(r, &mut self.done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(entries: &[Scalar<'_>]) -> Vec<u8> {
        let mut body = Vec::new();
        let mut prev = 0usize;
        let mut last_start = 0;
        for e in entries {
            let start = body.len();
            last_start = start;
            if prev < 254 {
                body.push(prev as u8);
            } else {
                body.push(0xfe);
                body.extend_from_slice(&(prev as u32).to_le_bytes());
            }
            match *e {
                Scalar::Int(v) if (0..=12).contains(&v) => body.push(0xf1 + v as u8),
                Scalar::Int(v) if i8::try_from(v).is_ok() => {
                    body.push(0xfe);
                    body.push(v as u8);
                }
                Scalar::Int(v) if i16::try_from(v).is_ok() => {
                    body.push(0xc0);
                    body.extend_from_slice(&(v as i16).to_le_bytes());
                }
                Scalar::Int(v) if (-(1 << 23)..(1 << 23)).contains(&v) => {
                    body.push(0xf0);
                    body.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
                }
                Scalar::Int(v) if i32::try_from(v).is_ok() => {
                    body.push(0xd0);
                    body.extend_from_slice(&(v as i32).to_le_bytes());
                }
                Scalar::Int(v) => {
                    body.push(0xe0);
                    body.extend_from_slice(&v.to_le_bytes());
                }
                Scalar::Bytes(b) if b.len() < 64 => {
                    body.push(b.len() as u8);
                    body.extend_from_slice(b);
                }
                Scalar::Bytes(b) if b.len() < 16384 => {
                    body.push(0x40 | (b.len() >> 8) as u8);
                    body.push(b.len() as u8);
                    body.extend_from_slice(b);
                }
                Scalar::Bytes(b) => {
                    body.push(0x80);
                    body.extend_from_slice(&(b.len() as u32).to_be_bytes());
                    body.extend_from_slice(b);
                }
            }
            prev = body.len() - start;
        }
        let mut out = Vec::new();
        out.extend_from_slice(&((body.len() + 11) as u32).to_le_bytes());
        out.extend_from_slice(&((10 + last_start) as u32).to_le_bytes());
        out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        out.extend_from_slice(&body);
        out.push(0xff);
        out
    }

    #[test]
    fn every_encoding_round_trips() {
        let big = vec![b'z'; 20000];
        let mid = vec![b'q'; 300];
        let items = [
            Scalar::Int(0),
            Scalar::Int(12),
            Scalar::Int(-100),
            Scalar::Int(1000),
            Scalar::Int(-5_000_000),
            Scalar::Int(1 << 30),
            Scalar::Int(1 << 50),
            Scalar::Bytes(b"abc"),
            Scalar::Bytes(&mid),
            Scalar::Bytes(&big),
            Scalar::Bytes(b"after a big one"),
        ];
        let blob = build(&items);
        let got: Vec<_> = Ziplist::new(&blob).unwrap().collect::<Result<_>>().unwrap();
        assert_eq!(got, items);
    }

    #[test]
    fn wrong_prevlen_is_an_error() {
        let mut blob = build(&[Scalar::Bytes(b"abc"), Scalar::Bytes(b"de")]);
        // Second entry's prevlen byte sits after the first entry (1 + 1 + 3 bytes).
        blob[10 + 5] = 9;
        let r: Result<Vec<_>> = Ziplist::new(&blob).unwrap().collect();
        assert!(r.is_err());
    }
}
