//! Keys as text: hex for checkpoints, lossy UTF-8 for reports.

/// A key as lowercase hex (how checkpoints store keys, which are bytes).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

/// A key back from [`hex`]; None for text that is not even-length hex.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A key back from [`hex`], leaving out what is not hex.
pub fn unhex_lossy(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .filter_map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok())
        .collect()
}

/// A key as text for a report (invalid UTF-8 replaced).
pub fn show(key: &[u8]) -> String {
    String::from_utf8_lossy(key).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        for k in [&b""[..], b"a", b"\x00\xff key"] {
            assert_eq!(hex(k), crate::auth::hex(k));
            assert_eq!(unhex(&hex(k)).unwrap(), k);
            assert_eq!(unhex_lossy(&hex(k)), k);
        }
    }
}
