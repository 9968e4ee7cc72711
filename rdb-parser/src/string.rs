//! RDB strings (`rdbGenericLoadStringObject`): raw, integer or LZF, and the
//! [`Scalar`] that container decoders yield (bytes or an integer).

use crate::cursor::{Cursor, Length};
use crate::error::{Error, Result};
use crate::lzf;

/// Longest output a valid LZF stream can produce per input byte (a 3-byte
/// back reference copies at most 264 bytes), used to refuse absurd lengths
/// before allocating.
const LZF_MAX_RATIO: u64 = 89;

/// A string as stored in the file. Nothing is decoded until asked.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RdbString<'a> {
    /// Plain bytes, borrowed from the input.
    Raw(&'a [u8]),
    /// An integer stored in 1, 2 or 4 bytes; its string form is decimal.
    Int(i64),
    /// LZF-compressed bytes.
    Lzf {
        /// The compressed bytes, borrowed from the input.
        compressed: &'a [u8],
        /// Length once decompressed.
        len: u64,
        /// Absolute offset of the compressed bytes in the file.
        offset: u64,
    },
}

impl<'a> RdbString<'a> {
    /// Reads a string at the cursor.
    #[inline]
    pub fn read(cur: &mut Cursor<'a>, expected: &'static str) -> Result<RdbString<'a>> {
        match cur.short_string() {
            Some(b) => Ok(RdbString::Raw(b)),
            None => Self::read_any(cur, expected),
        }
    }

    /// [`RdbString::read`] for every encoding (the short raw string, by
    /// far the most common, is read inline by the caller).
    #[inline(never)]
    fn read_any(cur: &mut Cursor<'a>, expected: &'static str) -> Result<RdbString<'a>> {
        let start = cur.offset();
        match cur.length(expected)? {
            Length::Len(n) => Ok(RdbString::Raw(cur.bytes(n, expected)?)),
            Length::Encoded(0) => Ok(RdbString::Int(i64::from(cur.u8(expected)? as i8))),
            Length::Encoded(1) => Ok(RdbString::Int(i64::from(cur.u16_le(expected)? as i16))),
            Length::Encoded(2) => Ok(RdbString::Int(i64::from(cur.u32_le(expected)? as i32))),
            Length::Encoded(3) => {
                let clen = cur.len("an LZF compressed length")?;
                let len = cur.len("an LZF uncompressed length")?;
                if len > clen.saturating_mul(LZF_MAX_RATIO).saturating_add(64) || clen == 0 {
                    return Err(Error::malformed(
                        "an LZF length that LZF can produce",
                        start,
                        Some(len),
                    ));
                }
                let offset = cur.offset();
                let compressed = cur.bytes(clen, "LZF compressed bytes")?;
                Ok(RdbString::Lzf {
                    compressed,
                    len,
                    offset,
                })
            }
            Length::Encoded(e) => Err(Error::malformed(
                "a string encoding (0..=3)",
                start,
                Some(u64::from(e)),
            )),
        }
    }

    /// Skips a string without looking at its bytes.
    #[inline]
    pub fn skip(cur: &mut Cursor<'a>, expected: &'static str) -> Result<()> {
        match cur.short_string() {
            Some(_) => Ok(()),
            None => Self::skip_any(cur, expected),
        }
    }

    #[inline(never)]
    fn skip_any(cur: &mut Cursor<'a>, expected: &'static str) -> Result<()> {
        let start = cur.offset();
        match cur.length(expected)? {
            Length::Len(n) => cur.skip(n, expected),
            Length::Encoded(0) => cur.skip(1, expected),
            Length::Encoded(1) => cur.skip(2, expected),
            Length::Encoded(2) => cur.skip(4, expected),
            Length::Encoded(3) => {
                let clen = cur.len("an LZF compressed length")?;
                cur.len("an LZF uncompressed length")?;
                cur.skip(clen, "LZF compressed bytes")
            }
            Length::Encoded(e) => Err(Error::malformed(
                "a string encoding (0..=3)",
                start,
                Some(u64::from(e)),
            )),
        }
    }

    /// Length of the string's bytes (decimal digits for integers).
    #[inline]
    pub fn len(&self) -> u64 {
        match self {
            RdbString::Raw(b) => b.len() as u64,
            RdbString::Int(i) => decimal_len(*i) as u64,
            RdbString::Lzf { len, .. } => *len,
        }
    }

    /// True for the empty string.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when the bytes can be had without decoding (raw strings).
    #[inline]
    pub fn as_raw(&self) -> Option<&'a [u8]> {
        match self {
            RdbString::Raw(b) => Some(b),
            _ => None,
        }
    }

    /// The string's bytes: borrowed when raw, otherwise decoded into `scratch`.
    #[inline]
    pub fn bytes<'s>(&self, scratch: &'s mut Vec<u8>) -> Result<&'s [u8]>
    where
        'a: 's,
    {
        match *self {
            RdbString::Raw(b) => Ok(b),
            _ => self.decode_into(scratch),
        }
    }

    /// [`RdbString::bytes`] of an integer or LZF string: out of line, so
    /// that the raw case (most elements) inlines into element walks.
    #[inline(never)]
    fn decode_into<'s>(&self, scratch: &'s mut Vec<u8>) -> Result<&'s [u8]>
    where
        'a: 's,
    {
        match *self {
            RdbString::Raw(b) => Ok(b),
            RdbString::Int(i) => {
                scratch.clear();
                push_decimal(scratch, i);
                Ok(scratch)
            }
            RdbString::Lzf {
                compressed,
                len,
                offset,
            } => {
                lzf::decompress_into(compressed, len as usize, scratch)
                    .map_err(|e| e.rebase(offset, true))?;
                Ok(scratch)
            }
        }
    }

    /// The string as a [`Scalar`]: integers stay integers.
    #[inline]
    pub fn scalar<'s>(&self, scratch: &'s mut Vec<u8>) -> Result<Scalar<'s>>
    where
        'a: 's,
    {
        match *self {
            RdbString::Int(i) => Ok(Scalar::Int(i)),
            _ => Ok(Scalar::Bytes(self.bytes(scratch)?)),
        }
    }
}

/// One element of a container: bytes, or an integer that the encoding
/// stored as a number (its string form is decimal).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scalar<'b> {
    /// Bytes.
    Bytes(&'b [u8]),
    /// An integer.
    Int(i64),
}

impl<'b> Scalar<'b> {
    /// Length of the string form.
    #[inline]
    pub fn len(&self) -> u64 {
        match self {
            Scalar::Bytes(b) => b.len() as u64,
            Scalar::Int(i) => decimal_len(*i) as u64,
        }
    }

    /// True for the empty string.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Calls `f` with the string form, formatting integers on the stack.
    #[inline]
    pub fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        match *self {
            Scalar::Bytes(b) => f(b),
            Scalar::Int(i) => {
                let mut buf = [0u8; 20];
                let s = format_decimal(&mut buf, i);
                f(s)
            }
        }
    }

    /// Appends the string form to `out`.
    #[inline]
    pub fn push_to(&self, out: &mut Vec<u8>) {
        match *self {
            Scalar::Bytes(b) => out.extend_from_slice(b),
            Scalar::Int(i) => push_decimal(out, i),
        }
    }

    /// The value as an integer, when it is one or its bytes spell one the way
    /// Redis would store it (`string2ll`: no leading zeros or '+').
    pub fn as_int(&self) -> Option<i64> {
        match *self {
            Scalar::Int(i) => Some(i),
            Scalar::Bytes(b) => parse_canonical_i64(b),
        }
    }
}

/// Number of characters in the decimal form of `i`.
#[inline]
pub fn decimal_len(i: i64) -> usize {
    let digits = i
        .unsigned_abs()
        .checked_ilog10()
        .map_or(1, |d| d as usize + 1);
    usize::from(i < 0) + digits
}

/// Writes the decimal form of `i` at the end of `buf` and returns it
/// (20 bytes hold every `i64`, `i64::MIN` included).
#[inline]
pub fn format_decimal(buf: &mut [u8; 20], i: i64) -> &[u8] {
    let mut v = i.unsigned_abs();
    let mut pos = buf.len();
    loop {
        pos -= 1;
        buf[pos] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if i < 0 {
        pos -= 1;
        buf[pos] = b'-';
    }
    &buf[pos..]
}

/// Appends the decimal form of `i`.
#[inline]
pub fn push_decimal(out: &mut Vec<u8>, i: i64) {
    let mut buf = [0u8; 20];
    out.extend_from_slice(format_decimal(&mut buf, i));
}

/// Parses a decimal integer in the canonical form Redis accepts for integer
/// encoding (no '+', no leading zeros, no spaces, fits in i64).
pub fn parse_canonical_i64(b: &[u8]) -> Option<i64> {
    if b.is_empty() || b.len() > 20 {
        return None;
    }
    let (neg, digits) = if b[0] == b'-' {
        (true, &b[1..])
    } else {
        (false, b)
    };
    if digits.is_empty() || (digits[0] == b'0' && (digits.len() > 1 || neg)) {
        return None;
    }
    let mut v: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    if neg {
        if v > (i64::MAX as u64) + 1 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else {
        i64::try_from(v).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_strings() {
        let data = [0xc0, 0xff, 0xc1, 0x00, 0x80, 0xc2, 0x01, 0, 0, 0x80];
        let mut c = Cursor::new(&data, 0);
        assert_eq!(RdbString::read(&mut c, "s").unwrap(), RdbString::Int(-1));
        assert_eq!(
            RdbString::read(&mut c, "s").unwrap(),
            RdbString::Int(-32768)
        );
        assert_eq!(
            RdbString::read(&mut c, "s").unwrap(),
            RdbString::Int(i64::from(i32::MIN) + 1)
        );
    }

    #[test]
    fn decimal_forms() {
        for i in [0i64, 7, -7, 10, 99, -100, i64::MIN, i64::MAX] {
            let mut v = Vec::new();
            push_decimal(&mut v, i);
            assert_eq!(v, i.to_string().as_bytes());
            assert_eq!(decimal_len(i), v.len());
        }
    }

    #[test]
    fn canonical_integers() {
        assert_eq!(parse_canonical_i64(b"123"), Some(123));
        assert_eq!(parse_canonical_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_canonical_i64(b"0"), Some(0));
        for bad in [&b"01"[..], b"-0", b"+1", b"", b"1a", b"9223372036854775808"] {
            assert_eq!(parse_canonical_i64(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn absurd_lzf_length_is_refused() {
        let data = [0xc3, 0x01, 0x81, 0, 0, 0, 1, 0, 0, 0, 0, 0];
        let mut c = Cursor::new(&data, 0);
        assert!(RdbString::read(&mut c, "s").is_err());
    }
}
