//! Writing JSON straight into a byte buffer (no intermediate tree), with
//! byte strings that are not UTF-8 written as `{"base64":"…"}`.

pub(crate) use analyzer::base64::push_base64;

/// Appends a JSON string literal for valid UTF-8 text.
pub(crate) fn push_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &c) in bytes.iter().enumerate() {
        let esc: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f | 0x7f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if esc.is_empty() {
            out.extend_from_slice(format!("\\u{:04x}", c).as_bytes());
        } else {
            out.extend_from_slice(esc);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Appends a Redis byte string: a JSON string when UTF-8, else base64.
pub(crate) fn push_bytes(out: &mut Vec<u8>, b: &[u8]) {
    match std::str::from_utf8(b) {
        Ok(s) => push_str(out, s),
        Err(_) => {
            out.extend_from_slice(b"{\"base64\":\"");
            push_base64(out, b);
            out.extend_from_slice(b"\"}");
        }
    }
}

/// Appends a score: a JSON number, or "inf" / "-inf" / "nan" as strings.
pub(crate) fn push_score(out: &mut Vec<u8>, v: f64) {
    if v.is_nan() {
        out.extend_from_slice(b"\"nan\"");
    } else if v.is_infinite() {
        out.extend_from_slice(if v > 0.0 { b"\"inf\"" } else { b"\"-inf\"" });
    } else {
        out.extend_from_slice(format_score(v).as_bytes());
    }
}

/// Shortest text that reads back as the same double (Rust's `Display` of
/// f64 never uses exponents, so large and tiny values use `{:e}`).
pub(crate) fn format_score(v: f64) -> String {
    rdb_parser::restore::format_score(v)
}

/// Appends an optional integer or `null`.
pub(crate) fn push_opt_i64(out: &mut Vec<u8>, v: Option<i64>) {
    match v {
        Some(v) => out.extend_from_slice(v.to_string().as_bytes()),
        None => out.extend_from_slice(b"null"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_escape_and_binary_falls_back() {
        let mut v = Vec::new();
        push_bytes(&mut v, b"a\"b\\\n\x01");
        assert_eq!(String::from_utf8(v).unwrap(), r#""a\"b\\\n\u0001""#);
        let mut v = Vec::new();
        push_bytes(&mut v, b"\xff\x00");
        assert_eq!(String::from_utf8(v).unwrap(), r#"{"base64":"/wA="}"#);
        let parsed: serde_json::Value = serde_json::from_str(r#""a\"b\\\n\u0001""#).unwrap();
        assert_eq!(parsed.as_str().unwrap(), "a\"b\\\n\u{1}");
    }

    #[test]
    fn scores_read_back_exactly() {
        for v in [
            0.0,
            1.5,
            -2.25,
            1e20,
            1e-9,
            0.1 + 0.2,
            f64::MAX,
            f64::MIN_POSITIVE,
        ] {
            let s = format_score(v);
            assert_eq!(s.parse::<f64>().unwrap(), v, "{s}");
        }
    }
}
