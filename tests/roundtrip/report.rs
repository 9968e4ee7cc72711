//! Reporting: every check's problems collected per section, shown together at the end.

use std::fmt::Write as _;

use testkit::ServerKind;

/// Escaped, truncated bytes for messages.
pub(super) fn show(b: &[u8]) -> String {
    let mut s = String::from("\"");
    let cut = b.len() > 48;
    for chunk in b[..b.len().min(48)].utf8_chunks() {
        for c in chunk.valid().chars() {
            let _ = write!(s, "{}", c.escape_debug());
        }
        for byte in chunk.invalid() {
            let _ = write!(s, "\\x{byte:02x}");
        }
    }
    s.push('"');
    if cut {
        let _ = write!(s, "..({} bytes)", b.len());
    }
    s
}

pub(super) fn show_cmd(c: &[Vec<u8>]) -> String {
    let mut s: Vec<String> = c.iter().take(6).map(|a| show(a)).collect();
    if c.len() > 6 {
        s.push(format!("...({} args)", c.len()));
    }
    s.join(" ")
}

pub(super) fn trunc(s: &str) -> String {
    if s.chars().count() > 400 {
        format!("{}...", s.chars().take(400).collect::<String>())
    } else {
        s.to_string()
    }
}

pub(super) struct Report {
    pub(super) kind: ServerKind,
    pub(super) sections: Vec<(String, Vec<String>)>,
}

impl Report {
    pub(super) fn new(kind: ServerKind) -> Report {
        Report {
            kind,
            sections: Vec::new(),
        }
    }

    pub(super) fn section(&mut self, name: &str, problems: Vec<String>) {
        if problems.is_empty() {
            eprintln!("[{}] ok: {name}", self.kind);
        } else {
            eprintln!("[{}] FAIL ({} problems): {name}", self.kind, problems.len());
        }
        self.sections.push((name.to_string(), problems));
    }

    pub(super) fn finish(self) {
        let total = self.sections.len();
        let bad: Vec<_> = self
            .sections
            .into_iter()
            .filter(|(_, p)| !p.is_empty())
            .collect();
        if bad.is_empty() {
            return;
        }
        let mut s = format!("{}: {} of {total} checks failed\n", self.kind, bad.len());
        for (name, p) in &bad {
            let _ = writeln!(s, "== {name}: {} problem(s)", p.len());
            for l in p.iter().take(25) {
                let _ = writeln!(s, "  - {l}");
            }
            if p.len() > 25 {
                let _ = writeln!(s, "  ... and {} more", p.len() - 25);
            }
        }
        panic!("{s}");
    }
}
