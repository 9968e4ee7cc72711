//! Charts drawn as inline SVG from Rust: horizontal bars, columns and a
//! heat map (no script, no library: the file stays small, offline and
//! readable without JavaScript).

use std::fmt::Write;

use super::page::esc;

/// One bar: its label, its length and the text printed after it.
#[derive(Clone, Debug)]
pub struct Bar {
    /// Label (escaped when drawn).
    pub label: String,
    /// Length, relative to the longest bar.
    pub value: u64,
    /// Text after the bar (escaped when drawn).
    pub note: String,
}

const WIDTH: u32 = 760;
const LABEL: u32 = 230;
const AREA: u32 = 360;
const ROW: u32 = 22;

/// Shades of the heat map, empty first.
pub const SHADES: [&str; 9] = [
    "#eef1f5", "#dbe9f6", "#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#08519c",
    "#08306b",
];

fn scaled(value: u64, max: u64, span: u32) -> u32 {
    if max == 0 {
        0
    } else {
        ((value as f64 / max as f64) * f64::from(span)).round() as u32
    }
}

/// A horizontal bar chart, one row per bar.
pub fn hbars(bars: &[Bar]) -> String {
    let max = bars.iter().map(|b| b.value).max().unwrap_or(0);
    let height = ROW * bars.len() as u32 + 4;
    let mut out = format!(
        "<svg class=\"chart\" role=\"img\" width=\"{WIDTH}\" height=\"{height}\" viewBox=\"0 0 {WIDTH} {height}\">"
    );
    for (i, b) in bars.iter().enumerate() {
        let y = ROW * i as u32 + 2;
        let w = scaled(b.value, max, AREA).max(u32::from(b.value > 0));
        let (label, note) = (esc(&b.label), esc(&b.note));
        let _ = write!(
            out,
            "<g><title>{label}: {note}</title>\
             <text x=\"{}\" y=\"{}\" text-anchor=\"end\">{label}</text>\
             <rect class=\"bar\" x=\"{LABEL}\" y=\"{y}\" width=\"{w}\" height=\"{}\"></rect>\
             <text x=\"{}\" y=\"{}\">{note}</text></g>",
            LABEL - 6,
            y + 15,
            ROW - 6,
            LABEL + w + 6,
            y + 15,
        );
    }
    out.push_str("</svg>");
    out
}

/// A column chart (a timeline): one column per bar, labels below.
pub fn columns(bars: &[Bar]) -> String {
    let max = bars.iter().map(|b| b.value).max().unwrap_or(0);
    let (plot, base) = (160u32, 170u32);
    let height = base + 90;
    let step = if bars.is_empty() {
        0
    } else {
        (WIDTH - 20) / bars.len() as u32
    };
    let mut out = format!(
        "<svg class=\"chart\" role=\"img\" width=\"{WIDTH}\" height=\"{height}\" viewBox=\"0 0 {WIDTH} {height}\">\
         <line x1=\"10\" y1=\"{base}\" x2=\"{}\" y2=\"{base}\" stroke=\"#999\"></line>",
        WIDTH - 10
    );
    for (i, b) in bars.iter().enumerate() {
        let h = scaled(b.value, max, plot).max(u32::from(b.value > 0));
        let x = 10 + step * i as u32;
        let w = step.saturating_sub(4).max(1);
        let (label, note) = (esc(&b.label), esc(&b.note));
        let _ = write!(
            out,
            "<g><title>{label}: {note}</title>\
             <rect class=\"bar\" x=\"{}\" y=\"{}\" width=\"{w}\" height=\"{h}\"></rect>\
             <text class=\"tick\" transform=\"translate({},{}) rotate(50)\">{label}</text></g>",
            x + 2,
            base - h,
            x + step / 2,
            base + 8,
        );
    }
    out.push_str("</svg>");
    out
}

/// The shade (index into [`SHADES`]) of `value` against `mean`, the
/// average of the cells holding something: the average is shade 4, each
/// shade darker doubles (16 times the average and more: the darkest), each
/// lighter halves; 0 only for nothing. A uniform spread is even, a skew
/// stands out.
pub fn shade(value: u64, mean: f64) -> usize {
    if value == 0 || mean <= 0.0 {
        return 0;
    }
    let step = (4.5 + (value as f64 / mean).log2()).floor();
    step.clamp(1.0, (SHADES.len() - 1) as f64) as usize
}

/// A `side`×`side` heat map of `values` (row by row), `cell` pixels a
/// cell: one path per shade, neighbouring cells of a row in the same shade
/// drawn as one rectangle (a file a few kilobytes, not one element a slot).
pub fn heatmap(values: &[u64], side: usize, cell: u32) -> String {
    let filled = values.iter().filter(|&&v| v > 0).count();
    let mean = if filled == 0 {
        0.0
    } else {
        values.iter().sum::<u64>() as f64 / filled as f64
    };
    let px = side as u32 * cell;
    let mut paths = vec![String::new(); SHADES.len()];
    for (r, row) in values.chunks(side).enumerate() {
        let mut c = 0;
        while c < row.len() {
            let s = shade(row[c], mean);
            let start = c;
            while c < row.len() && shade(row[c], mean) == s {
                c += 1;
            }
            if s > 0 {
                let w = (c - start) as u32 * cell;
                let _ = write!(
                    paths[s],
                    "M{} {}h{w}v{cell}h-{w}z",
                    start as u32 * cell,
                    r as u32 * cell,
                );
            }
        }
    }
    let mut out = format!(
        "<svg class=\"heat\" role=\"img\" width=\"{px}\" height=\"{px}\" viewBox=\"0 0 {px} {px}\" \
         shape-rendering=\"crispEdges\"><rect width=\"{px}\" height=\"{px}\" fill=\"{}\"></rect>",
        SHADES[0]
    );
    for (s, d) in paths.iter().enumerate().filter(|(_, d)| !d.is_empty()) {
        let _ = write!(out, "<path fill=\"{}\" d=\"{d}\"></path>", SHADES[s]);
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(label: &str, value: u64) -> Bar {
        Bar {
            label: label.into(),
            value,
            note: format!("{value} B"),
        }
    }

    #[test]
    fn bars_scale_to_the_longest_and_escape_labels() {
        let svg = hbars(&[bar("<b>", 100), bar("half", 50), bar("none", 0)]);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<rect").count(), 3);
        assert!(svg.contains(&format!("width=\"{AREA}\"")));
        assert!(svg.contains(&format!("width=\"{}\"", AREA / 2)));
        assert!(svg.contains("width=\"0\""));
        assert!(svg.contains("&lt;b&gt;") && !svg.contains("<b>"));
        assert_eq!(hbars(&[]).matches("<rect").count(), 0);
    }

    #[test]
    fn columns_one_per_bar() {
        let svg = columns(&[bar("10:00", 4), bar("10:01", 1)]);
        assert_eq!(svg.matches("<rect").count(), 2);
        assert!(svg.contains("height=\"160\"") && svg.contains("height=\"40\""));
    }

    #[test]
    fn shades() {
        assert_eq!(shade(0, 10.0), 0);
        assert_eq!(shade(1, 0.0), 0);
        assert_eq!(shade(10, 10.0), 4);
        assert_eq!(shade(20, 10.0), 5);
        assert_eq!(shade(160, 10.0), SHADES.len() - 1);
        assert_eq!(shade(1_000_000, 10.0), SHADES.len() - 1);
        assert_eq!(shade(5, 10.0), 3);
        assert_eq!(shade(1, 1_000.0), 1);
    }

    #[test]
    fn heat_map_merges_runs() {
        // 4×4: one full row, one cell, the rest empty (mean 4.2).
        let mut v = vec![0u64; 16];
        v[0..4].copy_from_slice(&[5, 5, 5, 5]);
        v[9] = 1;
        let svg = heatmap(&v, 4, 3);
        // The background, then one path per shade used.
        assert_eq!(svg.matches("<rect").count(), 1);
        assert_eq!(svg.matches("<path").count(), 2);
        assert!(svg.contains(&format!("fill=\"{}\" d=\"M0 0h12v3h-12z\"", SHADES[4])));
        assert!(svg.contains(&format!("fill=\"{}\" d=\"M3 6h3v3h-3z\"", SHADES[2])));
        assert!(svg.contains("width=\"12\" height=\"12\" viewBox"));
    }
}
