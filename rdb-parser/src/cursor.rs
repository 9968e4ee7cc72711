//! The bounds-checked cursor: the only code that touches raw bytes.
//!
//! Everything it returns borrows from the input. Lengths read from the file
//! are checked against the bytes that remain before anything is sliced or
//! allocated.

use crate::error::{Error, Result};

/// A cheap, copyable reader over a byte slice that knows its absolute offset.
#[derive(Clone, Copy, Debug)]
pub struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    base: u64,
}

/// A length field as RDB writes it: a plain length or a special encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Length {
    /// A plain length.
    Len(u64),
    /// A special string encoding (`11xxxxxx`): 0..=2 integers, 3 LZF.
    Encoded(u8),
}

impl<'a> Cursor<'a> {
    /// A cursor over `buf`, whose first byte sits at absolute offset `base`.
    #[inline]
    pub fn new(buf: &'a [u8], base: u64) -> Cursor<'a> {
        Cursor { buf, pos: 0, base }
    }

    /// Absolute offset of the next byte.
    #[inline]
    pub fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// Position relative to the start of this cursor's slice.
    #[inline]
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Bytes left.
    #[inline]
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// True when nothing is left.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// The whole underlying slice.
    #[inline]
    pub fn slice(&self) -> &'a [u8] {
        self.buf
    }

    /// Bytes from relative position `start` to the current position.
    #[inline]
    pub fn since(&self, start: usize) -> &'a [u8] {
        &self.buf[start.min(self.pos)..self.pos]
    }

    /// The unread rest.
    #[inline]
    pub fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    #[cold]
    fn eof(&self, expected: &'static str, needed: u64) -> Error {
        Error::truncated(expected, self.offset(), needed, self.remaining() as u64)
    }

    /// Reads one byte.
    #[inline]
    pub fn u8(&mut self, expected: &'static str) -> Result<u8> {
        match self.buf.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                Ok(b)
            }
            None => Err(self.eof(expected, 1)),
        }
    }

    /// Looks at the next byte without consuming it.
    #[inline]
    pub fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    /// Reads `n` bytes, borrowed from the input.
    #[inline]
    pub fn bytes(&mut self, n: u64, expected: &'static str) -> Result<&'a [u8]> {
        if n > self.remaining() as u64 {
            return Err(self.eof(expected, n));
        }
        let n = n as usize;
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// Reads exactly `N` bytes into an array.
    #[inline]
    pub fn array<const N: usize>(&mut self, expected: &'static str) -> Result<[u8; N]> {
        let s = self.bytes(N as u64, expected)?;
        let mut out = [0u8; N];
        out.copy_from_slice(s);
        Ok(out)
    }

    /// Skips `n` bytes.
    #[inline]
    pub fn skip(&mut self, n: u64, expected: &'static str) -> Result<()> {
        if n > self.remaining() as u64 {
            return Err(self.eof(expected, n));
        }
        self.pos += n as usize;
        Ok(())
    }

    /// Little-endian u16.
    #[inline]
    pub fn u16_le(&mut self, expected: &'static str) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array(expected)?))
    }

    /// Little-endian u32.
    #[inline]
    pub fn u32_le(&mut self, expected: &'static str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(expected)?))
    }

    /// Big-endian u32.
    #[inline]
    pub fn u32_be(&mut self, expected: &'static str) -> Result<u32> {
        Ok(u32::from_be_bytes(self.array(expected)?))
    }

    /// Little-endian u64.
    #[inline]
    pub fn u64_le(&mut self, expected: &'static str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(expected)?))
    }

    /// Big-endian u64.
    #[inline]
    pub fn u64_be(&mut self, expected: &'static str) -> Result<u64> {
        Ok(u64::from_be_bytes(self.array(expected)?))
    }

    /// Little-endian i64.
    #[inline]
    pub fn i64_le(&mut self, expected: &'static str) -> Result<i64> {
        Ok(i64::from_le_bytes(self.array(expected)?))
    }

    /// Little-endian IEEE 754 double.
    #[inline]
    pub fn f64_le(&mut self, expected: &'static str) -> Result<f64> {
        Ok(f64::from_le_bytes(self.array(expected)?))
    }

    /// Little-endian IEEE 754 float.
    #[inline]
    pub fn f32_le(&mut self, expected: &'static str) -> Result<f32> {
        Ok(f32::from_le_bytes(self.array(expected)?))
    }

    /// Reads an RDB length field (`rdbLoadLenByRef`).
    ///
    /// The 6-bit form, by far the most common, is handled first.
    #[inline]
    pub fn length(&mut self, expected: &'static str) -> Result<Length> {
        let start = self.offset();
        let first = self.u8(expected)?;
        match first >> 6 {
            0 => Ok(Length::Len(u64::from(first & 0x3f))),
            1 => {
                let second = self.u8(expected)?;
                Ok(Length::Len(
                    (u64::from(first & 0x3f) << 8) | u64::from(second),
                ))
            }
            2 => match first {
                0x80 => Ok(Length::Len(u64::from(self.u32_be(expected)?))),
                0x81 => Ok(Length::Len(self.u64_be(expected)?)),
                _ => Err(Error::malformed(
                    "a length prefix (0x80 or 0x81)",
                    start,
                    Some(first.into()),
                )),
            },
            _ => Ok(Length::Encoded(first & 0x3f)),
        }
    }

    /// The most common strings in a file: a 6-bit or 14-bit length and
    /// its bytes, when all are there (else nothing is consumed and the
    /// caller takes the general path, which reports any error).
    #[inline(always)]
    pub fn short_string(&mut self) -> Option<&'a [u8]> {
        let first = *self.buf.get(self.pos)?;
        let (head, len) = match first {
            0x00..=0x3f => (1, usize::from(first)),
            0x40..=0x7f => {
                let second = *self.buf.get(self.pos + 1)?;
                (2, usize::from(first & 0x3f) << 8 | usize::from(second))
            }
            _ => return None,
        };
        let start = self.pos + head;
        let s = self.buf.get(start..start + len)?;
        self.pos = start + len;
        Some(s)
    }

    /// Reads a length that must be a plain length, not a string encoding.
    #[inline]
    pub fn len(&mut self, expected: &'static str) -> Result<u64> {
        let start = self.offset();
        match self.length(expected)? {
            Length::Len(n) => Ok(n),
            Length::Encoded(e) => Err(Error::malformed(expected, start, Some(0xc0 | u64::from(e)))),
        }
    }

    /// Reads a count of items, each at least `min_item_bytes` long, and checks
    /// that so many could fit in what remains (so callers may size buffers by it).
    #[inline]
    pub fn count(&mut self, expected: &'static str, min_item_bytes: u64) -> Result<u64> {
        let start = self.offset();
        let n = self.len(expected)?;
        if n.saturating_mul(min_item_bytes) > self.remaining() as u64 {
            return Err(Error::malformed(expected, start, Some(n)));
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn lengths_of_every_width() {
        let data = [
            0x05, 0x41, 0x02, 0x80, 0, 1, 0, 0, 0x81, 0, 0, 0, 1, 0, 0, 0, 0, 0xc3,
        ];
        let mut c = Cursor::new(&data, 100);
        assert_eq!(c.length("x").unwrap(), Length::Len(5));
        assert_eq!(c.length("x").unwrap(), Length::Len(0x102));
        assert_eq!(c.length("x").unwrap(), Length::Len(0x10000));
        assert_eq!(c.length("x").unwrap(), Length::Len(1 << 32));
        assert_eq!(c.length("x").unwrap(), Length::Encoded(3));
        assert!(c.is_empty());
    }

    #[test]
    fn short_strings_agree_with_the_general_reader() {
        // Every length width, whole and cut short: the fast path takes a
        // string exactly when it is whole with a 6- or 14-bit length, and
        // then reads what `length` and `bytes` read.
        let body: Vec<u8> = (0..20_000u32).map(|i| (i * 7) as u8).collect();
        for len in [0usize, 1, 63, 64, 65, 255, 256, 16383, 16384, 19_000] {
            let mut data = match len {
                0..=63 => vec![len as u8],
                64..=16383 => vec![0x40 | (len >> 8) as u8, len as u8],
                _ => {
                    let mut v = vec![0x80];
                    v.extend_from_slice(&(len as u32).to_be_bytes());
                    v
                }
            };
            let head = data.len();
            data.extend_from_slice(&body[..len]);
            for cut in [data.len(), data.len() - 1, head, head - 1, 0] {
                let d = &data[..cut.min(data.len())];
                let mut fast = Cursor::new(d, 0);
                let got = fast.short_string();
                let mut general = Cursor::new(d, 0);
                let want = match general.length("x") {
                    Ok(Length::Len(n)) => general.bytes(n, "x").ok(),
                    _ => None,
                };
                if len <= 16383 {
                    assert_eq!(got, want, "length {len} cut at {cut}");
                    assert_eq!(
                        fast.offset(),
                        if got.is_some() { general.offset() } else { 0 }
                    );
                } else {
                    assert_eq!((got, fast.offset()), (None, 0), "length {len}");
                }
            }
        }
    }

    #[test]
    fn truncation_reports_offset_and_need() {
        let data = [0x80, 0, 1];
        let mut c = Cursor::new(&data, 10);
        let e = c.length("a length").unwrap_err();
        assert_eq!(e.offset(), 11);
        assert!(matches!(
            e.kind(),
            ErrorKind::Truncated {
                needed: 4,
                available: 2,
                ..
            }
        ));
    }

    #[test]
    fn counts_are_checked_against_what_remains() {
        let data = [0x3f, 1, 2];
        let mut c = Cursor::new(&data, 0);
        assert!(c.count("a count", 1).is_err());
        let mut c = Cursor::new(&data, 0);
        assert_eq!(c.count("a count", 0).unwrap(), 63);
    }

    #[test]
    fn bad_length_prefix() {
        let mut c = Cursor::new(&[0x85], 7);
        let e = c.length("a length").unwrap_err();
        assert_eq!(e.offset(), 7);
    }
}
