//! Sizes inside compact encodings: listpack and ziplist entries, and the
//! length of a compact value's single blob.

use rdb_parser::{parse_canonical_i64, Entry, RdbString, Scalar, ValueType};

/// Listpack entry size (encoding, data and back length) for one element.
#[inline]
pub(super) fn lp_entry(s: Scalar<'_>) -> u64 {
    lp_entry_of(as_canonical_int(s), s.len())
}

/// The element as the integer Redis would store it, if it is one.
#[inline]
pub(super) fn as_canonical_int(s: Scalar<'_>) -> Option<i64> {
    match s {
        Scalar::Int(i) => Some(i),
        Scalar::Bytes(b) => parse_canonical_i64(b),
    }
}

/// Listpack entry size of an element already parsed by [`as_canonical_int`].
#[inline]
pub(super) fn lp_entry_of(as_int: Option<i64>, len: u64) -> u64 {
    if let Some(v) = as_int {
        let enc = if (0..=127).contains(&v) {
            1
        } else if (-4096..=4095).contains(&v) {
            2
        } else if i16::try_from(v).is_ok() {
            3
        } else if (-(1 << 23)..(1 << 23)).contains(&v) {
            4
        } else if i32::try_from(v).is_ok() {
            5
        } else {
            9
        };
        return enc + 1;
    }
    let enc = if len <= 63 {
        1 + len
    } else if len <= 4095 {
        2 + len
    } else {
        5 + len
    };
    enc + backlen_bytes(enc)
}

#[inline]
fn backlen_bytes(l: u64) -> u64 {
    if l <= 127 {
        1
    } else if l < 16383 {
        2
    } else if l < 2097151 {
        3
    } else if l < 268435455 {
        4
    } else {
        5
    }
}

/// Ziplist entry size for one element (previous-length field, encoding, data).
#[inline]
pub(super) fn zl_entry(s: Scalar<'_>, prev: u64) -> u64 {
    let prevlen = if prev < 254 { 1 } else { 5 };
    let as_int = match s {
        Scalar::Int(i) => Some(i),
        Scalar::Bytes(b) if b.len() <= 32 => parse_canonical_i64(b),
        Scalar::Bytes(_) => None,
    };
    if let Some(v) = as_int {
        let size = if (0..=12).contains(&v) {
            1
        } else if i8::try_from(v).is_ok() {
            2
        } else if i16::try_from(v).is_ok() {
            3
        } else if (-(1 << 23)..(1 << 23)).contains(&v) {
            4
        } else if i32::try_from(v).is_ok() {
            5
        } else {
            9
        };
        return prevlen + size;
    }
    let len = s.len();
    let hdr = if len <= 63 {
        1
    } else if len <= 16383 {
        2
    } else {
        5
    };
    prevlen + hdr + len
}

/// Length of the single blob (listpack, ziplist, intset, zipmap) of a compact value.
pub(super) fn blob_len(e: &Entry<'_>) -> rdb_parser::Result<u64> {
    let mut cur = rdb_parser::Cursor::new(e.value.raw(), e.value.offset());
    if matches!(
        e.value_type(),
        ValueType::HashListpackEx | ValueType::HashMetadata
    ) {
        cur.skip(8, "a minimum expire time")?;
    }
    match e.value_type() {
        ValueType::SetIntset
        | ValueType::SetListpack
        | ValueType::ZsetListpack
        | ValueType::ZsetZiplist
        | ValueType::HashListpack
        | ValueType::HashZiplist
        | ValueType::HashZipmap
        | ValueType::ListZiplist
        | ValueType::HashListpackEx
        | ValueType::HashListpackExPreGa => Ok(RdbString::read(&mut cur, "a container")?.len()),
        _ => Ok(0),
    }
}
