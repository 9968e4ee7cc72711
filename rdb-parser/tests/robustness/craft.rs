//! Building small RDB files by hand: lengths, strings, listpacks, one-record
//! files.

/// An RDB length field holding `n`, in the 32- or 64-bit form.
pub(super) fn long_length(n: u64, force_64: bool) -> Vec<u8> {
    if n <= u64::from(u32::MAX) && !force_64 {
        let mut v = vec![0x80];
        v.extend_from_slice(&(n as u32).to_be_bytes());
        v
    } else {
        let mut v = vec![0x81];
        v.extend_from_slice(&n.to_be_bytes());
        v
    }
}

/// A minimal-form RDB length.
pub(super) fn len(n: u64) -> Vec<u8> {
    if n < 64 {
        vec![n as u8]
    } else if n < 16384 {
        vec![0x40 | (n >> 8) as u8, n as u8]
    } else {
        long_length(n, false)
    }
}

/// A raw RDB string.
pub(super) fn s(b: &[u8]) -> Vec<u8> {
    let mut v = len(b.len() as u64);
    v.extend_from_slice(b);
    v
}

/// `header`, a SELECTDB 0, one record (`type_byte`, key "k", `value`), EOF
/// and a zero (disabled) checksum.
pub(super) fn file_with(header: &[u8], type_byte: u8, value: &[u8]) -> Vec<u8> {
    let mut f = header.to_vec();
    f.extend_from_slice(&[0xfe, 0x00, type_byte]);
    f.extend(s(b"k"));
    f.extend_from_slice(value);
    f.push(0xff);
    f.extend_from_slice(&[0; 8]);
    f
}

pub(super) fn rdb11(type_byte: u8, value: &[u8]) -> Vec<u8> {
    file_with(b"REDIS0011", type_byte, value)
}

pub(super) fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

pub(super) fn listpack(total: u32, count: u16, body: &[u8]) -> Vec<u8> {
    cat(&[&total.to_le_bytes(), &count.to_le_bytes(), body, &[0xff]])
}

/// A listpack whose header agrees with its size.
pub(super) fn listpack_ok(count: u16, body: &[u8]) -> Vec<u8> {
    listpack((body.len() + 7) as u32, count, body)
}
