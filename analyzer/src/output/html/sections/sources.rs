//! The split per source, when several files were analyzed together, and
//! the recommendation to rebalance when one holds far more than the mean.

use super::super::advice::source_skew;
use super::super::page::{bytes, count, esc, percent};
use super::super::svg::{hbars, Bar};
use super::super::view::FileView;
use super::advice;
use super::{section, table};

/// A table and bars of keys and memory per file; nothing for one file.
pub fn render(files: &[FileView]) -> String {
    if files.len() < 2 {
        return String::new();
    }
    let total: u64 = files.iter().map(|f| f.memory_bytes).sum();
    let rows: Vec<Vec<String>> = files
        .iter()
        .enumerate()
        .map(|(i, f)| {
            vec![
                format!("<a href=\"#file-{i}\">{}</a>", esc(&f.source)),
                esc(&f.server),
                format!("#{}", count(f.keys)),
                format!("#{}", bytes(f.memory_bytes)),
                format!("#{}", percent(f.memory_bytes, total)),
            ]
        })
        .collect();
    let bars: Vec<Bar> = files
        .iter()
        .map(|f| Bar {
            label: f.source.clone(),
            value: f.memory_bytes,
            note: bytes(f.memory_bytes),
        })
        .collect();
    section(
        "sources",
        "Per source",
        &format!(
            "{}{}{}",
            table(
                "data",
                &["source", "server", "keys", "memory", "share"],
                &rows
            ),
            hbars(&bars),
            source_skew(files)
                .map(|a| advice::one(&a))
                .unwrap_or_default()
        ),
    )
}
