//! `report.html`: one self-contained page (style, script and data inline,
//! charts drawn as SVG from Rust) rendered from a [`ReportView`], which
//! `analyze` fills from its results and `rdbscope report` from an output
//! directory ([`load_dir`]).

pub mod advice;
pub mod load;
pub mod page;
pub mod sections;
pub mod svg;
pub mod tables;
pub mod view;

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::accumulator::FileReport;
use crate::error::{Error, Result};

pub use load::load_dir;
pub use page::{esc, script_json};
pub use view::{display_key, FileView, KeyRow, PrefixNode, ReportView};

/// The name of the report in an output directory.
pub const REPORT_HTML: &str = "report.html";

/// The view of an analysis: `summary` (the content of `summary.json`)
/// with `files`' prefix trees, slots and expiry cliffs.
pub fn view_of(summary: &Value, files: &[FileReport]) -> ReportView {
    let mut views = FileView::all_from_summary(summary);
    for (v, r) in views.iter_mut().zip(files) {
        tables::add_tables(v, r);
    }
    ReportView { files: views }
}

/// The whole page.
pub fn render(view: &ReportView) -> String {
    let mut body = String::from("<header><h1>rdbscope report</h1>");
    body.push_str("<nav>");
    for (i, f) in view.files.iter().enumerate() {
        body.push_str(&format!("<a href=\"#file-{i}\">{}</a> ", esc(&f.source)));
    }
    body.push_str("</nav></header>\n<main>\n");
    body.push_str(&sections::sources::render(&view.files));
    let mut data = Vec::new();
    for (i, f) in view.files.iter().enumerate() {
        body.push_str(&format!("<article id=\"file-{i}\">\n"));
        body.push_str(&sections::headline::render(f));
        body.push_str(&sections::advice::render(f, i));
        body.push_str(&sections::types::render(f, i));
        body.push_str(&sections::dbs::render(f, i));
        body.push_str(&sections::ttl::render(f, i));
        body.push_str(&sections::prefixes::render(f, i));
        body.push_str(&sections::bigkeys::render(f, i));
        body.push_str(&sections::hotkeys::render(f, i));
        body.push_str(&sections::slots::render(f, i));
        body.push_str("</article>\n");
        data.push(sections::prefixes::data(f));
    }
    body.push_str(
        "</main>\n<footer>Memory figures are estimates of what each key takes once loaded, \
         not measurements. Written by rdbscope.</footer>\n",
    );
    let title = match view.files.as_slice() {
        [one] => format!("rdbscope report: {}", one.source),
        files => format!("rdbscope report: {} files", files.len()),
    };
    page::document(&title, &body, &json!({ "files": data }))
}

/// Writes `dir/report.html` (through a temporary file renamed into place,
/// so a reader never sees half a page); returns its path.
pub fn write_html(dir: &Path, view: &ReportView) -> Result<PathBuf> {
    let path = dir.join(REPORT_HTML);
    let tmp = dir.join(format!(".{REPORT_HTML}.tmp"));
    let html = render(view);
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(html.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)
    };
    write().map_err(|err| {
        let _ = std::fs::remove_file(&tmp);
        Error::Io {
            path: path.clone(),
            err,
        }
    })?;
    Ok(path)
}
