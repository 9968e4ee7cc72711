//! The document shell: HTML escaping, number formats, the inline style
//! sheet and script, and the JSON data block the script reads.

use std::fmt::Write;

/// `text` escaped for HTML text and attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// JSON made safe inside `<script type="application/json">`: no `<`
/// (so no `</script>`), no `>` or `&`, and no line separators.
pub fn script_json(value: &serde_json::Value) -> String {
    let mut out = String::new();
    for c in value.to_string().chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// `1.5 GiB`.
pub fn bytes(n: u64) -> String {
    // The same units and rounding as the terminal report.
    crate::output::terminal::human_bytes(n)
}

/// `1,234,567`.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `12.5 %` of `total`.
pub fn percent(part: u64, total: u64) -> String {
    if total == 0 {
        "-".to_owned()
    } else {
        format!("{:.1} %", part as f64 * 100.0 / total as f64)
    }
}

const STYLE: &str = include_str!("report.css");
const SCRIPT: &str = include_str!("report.js");

/// The whole document: `title`, the sections' HTML `body`, and `data` for
/// the script.
pub fn document(title: &str, body: &str, data: &serde_json::Value) -> String {
    let mut out = String::with_capacity(body.len() + STYLE.len() + SCRIPT.len() + 4096);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n{body}\
         <script type=\"application/json\" id=\"report-data\">{}</script>\n\
         <script>\n{SCRIPT}</script>\n</body>\n</html>\n",
        esc(title),
        script_json(data),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(
            esc("</script><b>x</b> & \"q\" 'a'"),
            "&lt;/script&gt;&lt;b&gt;x&lt;/b&gt; &amp; &quot;q&quot; &#39;a&#39;"
        );
        let j = script_json(&serde_json::json!({"k": "</script><b>&\u{2028}"}));
        assert!(!j.contains('<') && !j.contains('>') && !j.contains('&'));
        assert_eq!(j, r#"{"k":"\u003c/script\u003e\u003cb\u003e\u0026\u2028"}"#);
        let back: serde_json::Value = serde_json::from_str(&j).unwrap();
        assert_eq!(back["k"], "</script><b>&\u{2028}");
    }

    #[test]
    fn formats() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(3 << 30), "3.0 GiB");
        assert_eq!(count(0), "0");
        assert_eq!(count(1234567), "1,234,567");
        assert_eq!(count(100), "100");
        assert_eq!(percent(1, 8), "12.5 %");
        assert_eq!(percent(1, 0), "-");
    }

    #[test]
    fn document_is_whole() {
        let d = document("a<b", "<p>x</p>\n", &serde_json::json!([]));
        assert!(d.starts_with("<!DOCTYPE html>"));
        assert!(d.contains("<title>a&lt;b</title>"));
        assert!(d.contains("<script type=\"application/json\" id=\"report-data\">[]</script>"));
        assert!(d.trim_end().ends_with("</html>"));
    }
}
