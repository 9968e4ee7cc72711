//! Standard padded base64 (RFC 4648), for keys and values that are not
//! text: the CLI's JSON output and the job service's reports. The
//! encoding is the `base64` crate's; these are the two shapes callers want.

use ::base64::engine::general_purpose::STANDARD;
use ::base64::Engine;

/// Appends standard padded base64 of `data`.
pub fn push_base64(out: &mut Vec<u8>, data: &[u8]) {
    let start = out.len();
    out.resize(start + data.len().div_ceil(3) * 4, 0);
    let written = STANDARD
        .encode_slice(data, &mut out[start..])
        .expect("room for the padded encoding");
    out.truncate(start + written);
}

/// Standard padded base64 of `data`, as a string.
pub fn base64(data: &[u8]) -> String {
    STANDARD.encode(data)
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(super::base64(i.as_bytes()), o);
            let mut out = b"x".to_vec();
            super::push_base64(&mut out, i.as_bytes());
            assert_eq!(out, format!("x{o}").as_bytes());
        }
    }
}
