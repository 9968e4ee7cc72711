//! The console's files (`jobsvc/console/`), embedded in the binary at
//! build time, each with its content type.

/// One embedded file.
#[derive(Debug)]
pub struct Asset {
    /// Its path under `/console/`.
    pub path: &'static str,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its bytes.
    pub body: &'static [u8],
}

macro_rules! assets {
    ($($path:literal => $ty:literal),* $(,)?) => {
        /// Every file of the console.
        pub const ASSETS: &[Asset] = &[
            $(Asset {
                path: $path,
                content_type: $ty,
                body: include_bytes!(concat!("../../console/", $path)),
            },)*
        ];
    };
}

assets! {
    "index.html" => "text/html; charset=utf-8",
    "console.css" => "text/css; charset=utf-8",
    "js/main.js" => "text/javascript; charset=utf-8",
    "js/dom.js" => "text/javascript; charset=utf-8",
    "js/api.js" => "text/javascript; charset=utf-8",
    "js/auth.js" => "text/javascript; charset=utf-8",
    "js/i18n.js" => "text/javascript; charset=utf-8",
    "js/view.js" => "text/javascript; charset=utf-8",
    "js/tickets.js" => "text/javascript; charset=utf-8",
    "js/ticket.js" => "text/javascript; charset=utf-8",
    "js/schema.js" => "text/javascript; charset=utf-8",
    "js/submit.js" => "text/javascript; charset=utf-8",
    "js/apps.js" => "text/javascript; charset=utf-8",
    "js/users.js" => "text/javascript; charset=utf-8",
    "js/stats.js" => "text/javascript; charset=utf-8",
    "js/schedules.js" => "text/javascript; charset=utf-8",
    "js/notify.js" => "text/javascript; charset=utf-8",
}

/// The file at `path` (under `/console/`).
pub fn asset(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.path == path)
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;

    fn files(dir: &Path, base: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                files(&p, base, out);
            } else {
                out.push(p.strip_prefix(base).unwrap().display().to_string());
            }
        }
    }

    #[test]
    fn every_console_file_is_embedded_and_the_whole_is_small() {
        let base = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("console");
        let mut on_disk = Vec::new();
        files(&base, &base, &mut on_disk);
        on_disk.retain(|f| f.ends_with(".html") || f.ends_with(".css") || f.ends_with(".js"));
        on_disk.sort();
        let mut embedded: Vec<String> = ASSETS.iter().map(|a| a.path.to_string()).collect();
        embedded.sort();
        assert_eq!(on_disk, embedded);
        let total: usize = ASSETS.iter().map(|a| a.body.len()).sum();
        assert!(total < 1 << 20, "the console is {total} bytes");
    }

    #[test]
    fn the_page_has_no_inline_script_or_style() {
        let page = std::str::from_utf8(asset("index.html").unwrap().body).unwrap();
        let scripts = page.matches("<script").count();
        assert_eq!(
            scripts,
            page.matches("<script type=\"module\" src=\"/console/")
                .count()
        );
        assert!(!page.contains("<style"), "inline style");
        assert!(!page.contains(" style="), "inline style attribute");
        let handler = page.split(" on").skip(1).any(|rest| {
            let name: String = rest.chars().take_while(char::is_ascii_lowercase).collect();
            !name.is_empty() && rest[name.len()..].starts_with('=')
        });
        assert!(!handler, "inline event handler");
        for a in ASSETS {
            let text = std::str::from_utf8(a.body).unwrap();
            // Data is written with textContent: never as HTML.
            assert!(!text.contains("innerHTML"), "{} uses innerHTML", a.path);
            assert!(!text.contains("eval("), "{} uses eval", a.path);
        }
    }
}
