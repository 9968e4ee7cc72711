//! Container blobs: finding a container's bytes in the file (decompressed
//! when the file compressed them), and the iterator plumbing the container
//! decoders share.

use crate::cursor::Cursor;
use crate::error::{Error, Result};
use crate::string::RdbString;

/// Turns a container's `next_*` result into an iterator item; after an
/// error the iterator is done.
pub(crate) fn iter_item<T>(r: Result<Option<T>>, done: &mut bool) -> Option<Result<T>> {
    match r {
        Ok(v) => v.map(Ok),
        Err(e) => {
            *done = true;
            Some(Err(e))
        }
    }
}

/// A blob (ziplist, listpack, intset, zipmap) ready to decode, and where its
/// bytes came from for error offsets.
pub(super) struct Blob<'s> {
    pub(super) bytes: &'s [u8],
    pub(super) file_offset: u64,
    pub(super) compressed: bool,
}

pub(super) fn load_blob<'a: 's, 's>(
    s: RdbString<'a>,
    at: u64,
    buf: &'s mut Vec<u8>,
) -> Result<Blob<'s>> {
    match s {
        RdbString::Raw(b) => Ok(Blob {
            bytes: b,
            file_offset: at,
            compressed: false,
        }),
        RdbString::Lzf { offset, .. } => Ok(Blob {
            bytes: s.bytes(buf)?,
            file_offset: offset,
            compressed: true,
        }),
        RdbString::Int(_) => Err(Error::malformed(
            "an encoded container, not an integer string",
            at,
            None,
        )),
    }
}

/// Reads a blob string and records the file offset of its bytes.
pub(super) fn read_blob_string<'a>(
    cur: &mut Cursor<'a>,
    expected: &'static str,
) -> Result<(RdbString<'a>, u64)> {
    let before = cur.offset();
    let s = RdbString::read(cur, expected)?;
    // Raw bytes start after the length prefix.
    let at = match s {
        RdbString::Raw(b) => cur.offset() - b.len() as u64,
        _ => before,
    };
    Ok((s, at))
}
