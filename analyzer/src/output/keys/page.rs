//! Parquet data and dictionary pages: the Thrift page header (compact
//! protocol), written ahead of a body compressed or not.

use super::compression::Compressor;
use crate::error::{Error, Result};

// Parquet's enums, as the footer and page headers number them.
const PAGE_DATA: i32 = 0;
const PAGE_DICTIONARY: i32 = 2;
pub(super) const ENC_PLAIN: i32 = 0;
const ENC_RLE: i32 = 3;
pub(super) const ENC_DELTA_BINARY_PACKED: i32 = 5;
pub(super) const ENC_RLE_DICTIONARY: i32 = 8;

/// Thrift compact protocol: just what page headers need (structs of
/// `i32` fields and nested structs, ids ascending).
struct Thrift<'a> {
    out: &'a mut Vec<u8>,
    /// The last field id written, per open struct.
    last: Vec<i16>,
}

impl<'a> Thrift<'a> {
    fn new(out: &'a mut Vec<u8>) -> Thrift<'a> {
        Thrift { out, last: vec![0] }
    }

    fn field(&mut self, id: i16, ty: u8) {
        let last = self.last.last_mut().expect("inside a struct");
        let delta = id - *last;
        *last = id;
        if (1..=15).contains(&delta) {
            self.out.push((delta as u8) << 4 | ty);
        } else {
            self.out.push(ty);
            varint(self.out, zigzag(i64::from(id)));
        }
    }

    fn i32(&mut self, id: i16, v: i32) {
        self.field(id, 5);
        varint(self.out, zigzag(i64::from(v)));
    }

    fn begin(&mut self, id: i16) {
        self.field(id, 12);
        self.last.push(0);
    }

    fn end(&mut self) {
        self.out.push(0);
        self.last.pop();
    }
}

pub(super) fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

pub(super) fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends a page (header and body, compressed with `codec` if given) to
/// `out`; returns its uncompressed size as the footer counts it (header
/// included).
pub(super) fn write_page(
    out: &mut Vec<u8>,
    dictionary: bool,
    values: usize,
    encoding: i32,
    body: &[u8],
    codec: Option<&mut Compressor>,
    scratch: &mut Vec<u8>,
) -> Result<u64> {
    let compressed = match codec {
        Some(c) => c.compress(body, scratch)?.map(|n| &scratch[..n]),
        None => None,
    };
    let stored = compressed.unwrap_or(body);
    let header_start = out.len();
    let mut t = Thrift::new(out);
    t.i32(
        1,
        if dictionary {
            PAGE_DICTIONARY
        } else {
            PAGE_DATA
        },
    );
    t.i32(2, len_i32(body.len())?);
    t.i32(3, len_i32(stored.len())?);
    if dictionary {
        t.begin(7);
        t.i32(1, len_i32(values)?);
        t.i32(2, ENC_PLAIN);
        t.end();
    } else {
        t.begin(5);
        t.i32(1, len_i32(values)?);
        t.i32(2, encoding);
        t.i32(3, ENC_RLE);
        t.i32(4, ENC_RLE);
        t.end();
    }
    t.end();
    let header = out.len() - header_start;
    out.extend_from_slice(stored);
    Ok((header + body.len()) as u64)
}

fn len_i32(n: usize) -> Result<i32> {
    i32::try_from(n).map_err(|_| Error::Invalid(format!("a keys.parquet page of {n} bytes")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thrift_field_ids_past_fifteen_use_the_long_form() {
        let mut out = Vec::new();
        let mut t = Thrift::new(&mut out);
        t.i32(1, -1);
        t.i32(20, 300);
        t.end();
        // Short form: delta 1, type i32 (0x15), zigzag(-1) = 1. Long form:
        // the type byte, zigzag(20) = 40, then zigzag(300) = 600 as a
        // varint; stop.
        assert_eq!(out, [0x15, 0x01, 0x05, 40, 0xd8, 0x04, 0x00]);
    }
}
