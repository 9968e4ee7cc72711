//! The headline: server, version, keys, memory estimate against the
//! server's `used-mem`, snapshot time (plain HTML, no script needed).

use crate::prefix::utc_minute;

use super::super::page::{bytes, count, esc, percent};
use super::super::view::FileView;

/// The headline figures of one file.
pub fn render(f: &FileView) -> String {
    let used = match f.used_mem {
        Some(u) => format!(
            "{} (estimate is {} of it)",
            bytes(u),
            percent(f.memory_bytes, u)
        ),
        None => "not in the file".to_owned(),
    };
    let taken = match f.ctime {
        Some(t) => utc_minute(t.saturating_mul(1000)),
        None => "not in the file".to_owned(),
    };
    let mut cells = vec![
        ("Server", f.server.clone()),
        ("Snapshot taken", taken),
        ("Keys", count(f.keys)),
        ("Memory estimate", bytes(f.memory_bytes)),
        ("used-mem at save", used),
        (
            "Keys with a TTL",
            format!("{} ({})", count(f.expires), percent(f.expires, f.keys)),
        ),
        (
            "RDB file",
            format!("{} (RDB version {})", bytes(f.size_bytes), f.rdb_version),
        ),
        ("Memory modelled for", f.modelled.clone()),
    ];
    if f.keys_serialized > 0 {
        cells.push((
            "Estimated loosely",
            format!(
                "{} ({} of the estimate) in {} module key{}: their serialized size",
                bytes(f.memory_bytes_serialized),
                percent(f.memory_bytes_serialized, f.memory_bytes),
                count(f.keys_serialized),
                if f.keys_serialized == 1 { "" } else { "s" }
            ),
        ));
    }
    let mut out = format!(
        "<div class=\"source\">{}</div><dl class=\"headline\">",
        esc(&f.source)
    );
    for (k, v) in cells {
        out.push_str(&format!(
            "<div><dt>{}</dt><dd>{}</dd></div>",
            esc(k),
            esc(&v)
        ));
    }
    out.push_str("</dl>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loose_share_shows_only_when_there_is_one() {
        let mut f = FileView {
            memory_bytes: 1000,
            ..FileView::default()
        };
        assert!(!render(&f).contains("Estimated loosely"));
        f.keys_serialized = 3;
        f.memory_bytes_serialized = 250;
        let html = render(&f);
        assert!(html.contains("Estimated loosely"), "{html}");
        assert!(html.contains("in 3 module keys"), "{html}");
    }
}
