//! Sparse arrays (type 28, Redis 8.8, RDB 14): header and elements.
//!
//! Layout, as redis/librdb v2.3.0 reads it (`src/lib/parser.c`
//! `elementArray`, `rdbLoadSignedInteger`) with the element tags of
//! redis/redis `src/sparsearray.h` (`AR_RDB_TAG_SDS 0`, `AR_RDB_TAG_INT 1`,
//! `AR_RDB_TAG_FLOAT 2`, `AR_RDB_TAG_SMALLSTR 3`):
//!
//! - count (RDB length, the number of non-empty slots; 0 is invalid),
//! - insert-index flag (RDB length, 0 or 1), then when 1 the insert index
//!   (RDB length: the slot `ARINSERT`/`ARRING` last wrote),
//! - count times: index (RDB length, not an encoded value, never
//!   2^64 - 1), tag (RDB length), then the value: tag 1 an 8-byte
//!   little-endian signed integer, tag 2 an 8-byte little-endian IEEE double,
//!   tags 0 and 3 an RDB string.

use super::element::Scratch;
use crate::cursor::{Cursor, Length};
use crate::error::{Error, Result};
use crate::string::{RdbString, Scalar};

const TAG_SDS: u64 = 0;
const TAG_INT: u64 = 1;
const TAG_FLOAT: u64 = 2;
const TAG_SMALLSTR: u64 = 3;

/// The smallest element: index (1) + tag (1) + a one-byte string.
const MIN_ELEMENT_BYTES: u64 = 3;

/// A sparse array's header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArrayHeader {
    /// Non-empty slots.
    pub count: u64,
    /// The slot the last `ARINSERT`/`ARRING` wrote (the next goes one
    /// past it); `None` when the array was saved without one.
    pub insert_idx: Option<u64>,
}

/// One array element's value, as the file types it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ArrayItem<'b> {
    /// A 64-bit integer (tag 1).
    Int(i64),
    /// A double (tag 2).
    Float(f64),
    /// A string (tags 0 and 3), borrowed from the file or scratch.
    Str(Scalar<'b>),
}

impl ArrayItem<'_> {
    /// The value as the server replies it (`ARGET`): decimal for integers,
    /// the shortest text that reads back as the same double for floats.
    pub fn push_to(&self, out: &mut Vec<u8>) {
        match self {
            ArrayItem::Int(i) => crate::string::push_decimal(out, *i),
            ArrayItem::Float(f) => out.extend_from_slice(format_float(*f).as_bytes()),
            ArrayItem::Str(s) => s.push_to(out),
        }
    }
}

/// A double as text that parses back to the same value.
pub fn format_float(f: f64) -> String {
    if f.is_nan() {
        "nan".into()
    } else if f.is_infinite() {
        if f > 0.0 { "inf" } else { "-inf" }.into()
    } else {
        format!("{f}")
    }
}

/// Reads the header (cursor at the value's first byte).
pub(crate) fn read_header(cur: &mut Cursor<'_>) -> Result<ArrayHeader> {
    let at = cur.offset();
    let count = cur.count("an array element count", MIN_ELEMENT_BYTES)?;
    if count == 0 {
        return Err(Error::malformed(
            "a non-zero array element count",
            at,
            Some(0),
        ));
    }
    let flag_at = cur.offset();
    let insert_idx = match cur.len("an array insert-index flag")? {
        0 => None,
        1 => Some(cur.len("an array insert index")?),
        n => {
            return Err(Error::malformed(
                "an array insert-index flag (0 or 1)",
                flag_at,
                Some(n),
            ))
        }
    };
    Ok(ArrayHeader { count, insert_idx })
}

fn read_index(cur: &mut Cursor<'_>) -> Result<u64> {
    let at = cur.offset();
    match cur.length("an array index")? {
        Length::Len(i) if i != u64::MAX => Ok(i),
        Length::Len(i) => Err(Error::malformed("an array index below 2^64-1", at, Some(i))),
        Length::Encoded(k) => Err(Error::malformed("an array index", at, Some(k.into()))),
    }
}

/// Skips a whole array value.
pub(crate) fn skip(cur: &mut Cursor<'_>) -> Result<()> {
    let h = read_header(cur)?;
    for _ in 0..h.count {
        read_index(cur)?;
        let tag_at = cur.offset();
        match cur.len("an array element tag")? {
            TAG_INT | TAG_FLOAT => cur.skip(8, "an array number")?,
            TAG_SDS | TAG_SMALLSTR => RdbString::skip(cur, "an array string")?,
            t => {
                return Err(Error::malformed(
                    "an array element tag (0-3)",
                    tag_at,
                    Some(t),
                ))
            }
        }
    }
    Ok(())
}

/// Walks an array value: its header, then `f(index, item)` per element in
/// stored order.
pub(crate) fn walk(
    cur: &mut Cursor<'_>,
    scratch: &mut Scratch,
    mut f: impl FnMut(u64, ArrayItem<'_>),
) -> Result<ArrayHeader> {
    let h = read_header(cur)?;
    for _ in 0..h.count {
        let idx = read_index(cur)?;
        let tag_at = cur.offset();
        match cur.len("an array element tag")? {
            TAG_INT => f(idx, ArrayItem::Int(cur.i64_le("an array integer")?)),
            TAG_FLOAT => f(idx, ArrayItem::Float(cur.f64_le("an array double")?)),
            TAG_SDS | TAG_SMALLSTR => {
                let s = RdbString::read(cur, "an array string")?;
                f(idx, ArrayItem::Str(s.scalar(&mut scratch.a)?));
            }
            t => {
                return Err(Error::malformed(
                    "an array element tag (0-3)",
                    tag_at,
                    Some(t),
                ))
            }
        }
    }
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_each_tag_and_the_insert_index() {
        // count 3, flag 1, insert idx 7; [0] int -5; [7] float 1.5; [9] "hi"
        let mut d = vec![3, 1, 7, 0, 1];
        d.extend_from_slice(&(-5i64).to_le_bytes());
        d.extend_from_slice(&[7, 2]);
        d.extend_from_slice(&1.5f64.to_le_bytes());
        d.extend_from_slice(&[9, 3, 2, b'h', b'i']);
        let mut got = Vec::new();
        let h = walk(&mut Cursor::new(&d, 0), &mut Scratch::new(), |i, v| {
            let mut b = Vec::new();
            v.push_to(&mut b);
            got.push((i, String::from_utf8(b).unwrap()));
        })
        .unwrap();
        assert_eq!(h.insert_idx, Some(7));
        assert_eq!(
            got,
            [(0, "-5".into()), (7, "1.5".into()), (9, "hi".to_string())]
        );
        let mut c = Cursor::new(&d, 0);
        skip(&mut c).unwrap();
        assert!(c.is_empty());
    }

    #[test]
    fn refuses_zero_count_bad_flag_tag_and_index() {
        for bad in [
            &[0u8, 0][..],
            &[1, 2, 0, 0, 1, b'x'],
            &[1, 0, 0, 4, 1, b'x'],
            &[1, 0, 0xc0, 0, 1, b'x'],
        ] {
            assert!(skip(&mut Cursor::new(bad, 0)).is_err(), "{bad:?}");
        }
    }
}
