//! The readable report printed after an analysis.

use std::fmt::Write;

use crate::accumulator::{FileReport, HASH_TAG_CAP};
use crate::model::ExpiryBucket;
use crate::output::parquet::expiring_keys;
use crate::output::summary::{overall_top_by_memory, TOP_CLIFFS};
use crate::prefix::{utc_minute, PrefixRow, PrefixTree, CUT_BY_MEMORY_NOTE, MAX_DEPTH};

/// Nodes shown per level of the prefix tree.
const TREE_WIDTH: usize = 10;

/// Prints the children of `parent` (the depth-1 nodes when `None`), then
/// theirs, down to `max_depth`. A node whose only child holds all its
/// keys is shown as that child (`user:*:profile`, not `user`, `user:*`).
fn tree_lines(
    o: &mut String,
    tree: &PrefixTree,
    parent: Option<&PrefixRow>,
    nesting: usize,
    max_depth: usize,
    total_mem: u64,
    total_keys: u64,
) {
    let children = tree.children(parent);
    let indent = "  ".repeat(nesting);
    let shown = children.len().min(TREE_WIDTH);
    for &c in &children[..shown] {
        let mut node = c;
        while node.depth < max_depth {
            match tree.children(Some(node))[..] {
                [only] if only.stat.keys == node.stat.keys => node = only,
                _ => break,
            }
        }
        let label = format!("{indent}{}", printable_key(&node.pattern));
        let _ = writeln!(
            o,
            "  {:<50} {:>10} {:>5.1}% {:>12} {:>5.1}%",
            label,
            node.stat.keys,
            pct(node.stat.keys, total_keys),
            human_bytes(node.stat.memory_bytes),
            pct(node.stat.memory_bytes, total_mem)
        );
        if node.depth < max_depth {
            tree_lines(
                o,
                tree,
                Some(node),
                nesting + 1,
                max_depth,
                total_mem,
                total_keys,
            );
        }
    }
    if children.len() > shown {
        let rest = &children[shown..];
        let keys: u64 = rest.iter().map(|c| c.stat.keys).sum();
        let mem: u64 = rest.iter().map(|c| c.stat.memory_bytes).sum();
        let label = format!("{indent}({} more)", rest.len());
        let _ = writeln!(
            o,
            "  {:<50} {:>10} {:>5.1}% {:>12} {:>5.1}%",
            label,
            keys,
            pct(keys, total_keys),
            human_bytes(mem),
            pct(mem, total_mem)
        );
    }
}

/// `1536` → `1.5 KiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// A key for the terminal: lossy UTF-8, control characters escaped, cut at 60 characters.
pub fn printable_key(key: &[u8]) -> String {
    let s: String = String::from_utf8_lossy(key)
        .chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect();
    if s.chars().count() > 60 {
        let cut: String = s.chars().take(57).collect();
        format!("{cut}…")
    } else {
        s
    }
}

fn pct(part: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        100.0 * part as f64 / total as f64
    }
}

/// The report of one file.
pub fn render_file(r: &FileReport, top_n: usize) -> String {
    let m = &r.meta;
    let a = &r.acc;
    let mut o = String::new();
    let _ = writeln!(o, "== {}", r.source);
    let writer = match (&m.valkey_ver, &m.redis_ver) {
        (Some(v), _) => format!(" (written by Valkey {v})"),
        (None, Some(v)) => format!(" (written by Redis {v})"),
        (None, None) => String::new(),
    };
    let target = match m.target_valkey {
        Some(v) => format!("Valkey {v}"),
        None => format!("Redis {}", m.target_version),
    };
    let _ = writeln!(
        o,
        "format      {} RDB {}{writer}, modelled as {target}",
        m.magic, m.rdb_version
    );
    if let Some(c) = &m.allocator_choice {
        let tried: Vec<String> = c
            .candidates
            .iter()
            .filter_map(|k| {
                Some(format!(
                    "{} {:+.1} %",
                    k.allocator.name(),
                    100.0 * k.distance?
                ))
            })
            .collect();
        let _ = writeln!(
            o,
            "allocator   {} (auto, by {}{}{})",
            c.chosen.name(),
            c.reason,
            if tried.is_empty() { "" } else { ": " },
            tried.join(", ")
        );
    }
    let _ = writeln!(
        o,
        "keys        {} ({} with a TTL), {} elements, {} in the file",
        a.keys,
        a.expires,
        a.elements,
        human_bytes(m.size_bytes)
    );
    let _ = write!(o, "memory      ~{} estimated", human_bytes(a.memory_bytes));
    if let Some(u) = m.used_mem {
        let _ = write!(
            o,
            " (used-mem at save: {}, estimate/used {:.2})",
            human_bytes(u),
            if u > 0 {
                a.memory_bytes as f64 / u as f64
            } else {
                0.0
            }
        );
    }
    let _ = writeln!(o);
    let loose = a.serialized();
    if loose.keys > 0 {
        let _ = writeln!(
            o,
            "            of which ~{} ({:.1}%) in {} module key{} is their serialized size, a loose estimate",
            human_bytes(loose.memory_bytes),
            pct(loose.memory_bytes, a.memory_bytes),
            loose.keys,
            if loose.keys == 1 { "" } else { "s" }
        );
    }
    let secs = r.seconds.max(1e-9);
    let _ = writeln!(
        o,
        "time        {:.3} s ({:.1} MB/s, {:.0} keys/s)",
        r.seconds,
        m.size_bytes as f64 / 1e6 / secs,
        a.keys as f64 / secs
    );

    let _ = writeln!(o, "\nTypes (type x encoding)");
    let _ = writeln!(
        o,
        "  {:<16} {:<11} {:>12} {:>12} {:>6}",
        "type", "encoding", "keys", "memory", "mem%"
    );
    for ((tk, enc), t) in &a.types {
        let _ = writeln!(
            o,
            "  {:<16} {:<11} {:>12} {:>12} {:>5.1}%",
            tk.name(),
            enc.as_str(),
            t.keys,
            human_bytes(t.memory_bytes),
            pct(t.memory_bytes, a.memory_bytes)
        );
    }

    let _ = writeln!(o, "\nDatabases");
    for (db, d) in &a.dbs {
        let _ = writeln!(
            o,
            "  db{:<5} {:>12} keys {:>12} with TTL {:>12}",
            db,
            d.keys,
            d.expires,
            human_bytes(d.memory_bytes)
        );
    }

    let _ = writeln!(o, "\nTTL (from the snapshot time)");
    for (b, s) in ExpiryBucket::ALL.iter().zip(&a.expiry) {
        let _ = writeln!(
            o,
            "  {:<8} {:>12} keys {:>5.1}% {:>12}",
            b.name(),
            s.keys,
            pct(s.keys, a.keys),
            human_bytes(s.memory_bytes)
        );
    }

    let cliffs = a.cliffs.top(TOP_CLIFFS);
    if !cliffs.is_empty() {
        let expiring = expiring_keys(r);
        let _ = writeln!(
            o,
            "\nExpiry cliffs (minutes in which the most keys expire, next 30 days)"
        );
        for (m, b) in cliffs {
            let _ = writeln!(
                o,
                "  {:<22} {:>12} keys {:>5.1}% of expiring {:>12}",
                utc_minute(m),
                b.keys,
                pct(b.keys, expiring),
                human_bytes(b.memory_bytes)
            );
        }
    }

    let depth = a.prefixes.config().depth;
    let tree = a.prefixes.tree();
    let _ = writeln!(o, "\nTop prefixes (to depth {depth}; * = identifiers)");
    let _ = writeln!(
        o,
        "  {:<50} {:>10} {:>6} {:>12} {:>6}",
        "pattern", "keys", "keys%", "memory", "mem%"
    );
    tree_lines(&mut o, &tree, None, 0, depth, a.memory_bytes, a.keys);
    if a.prefixes.level() < MAX_DEPTH as i32 {
        let _ = writeln!(
            o,
            "  (over --prefix-cap distinct patterns: patterns cut to {})",
            match a.prefixes.level() {
                l @ 1.. => format!("{l} segment(s)"),
                0 => "the first 2 bytes".to_owned(),
                _ => "*".to_owned(),
            }
        );
    }
    if a.prefixes.forced() {
        let _ = writeln!(o, "  (warning: {CUT_BY_MEMORY_NOTE})");
    }

    let _ = writeln!(o, "\nBiggest keys by estimated memory");
    let _ = writeln!(
        o,
        "  {:>3} {:<60} {:<8} {:<10} {:>11} {:>10}",
        "db", "key", "type", "encoding", "memory", "elements"
    );
    for k in overall_top_by_memory(r, top_n) {
        let _ = writeln!(
            o,
            "  {:>3} {:<60} {:<8} {:<10} {:>11} {:>10}",
            k.db,
            printable_key(&k.key),
            k.type_key.name(),
            k.encoding.as_str(),
            human_bytes(k.memory_bytes),
            k.elements
        );
    }
    let (lfu, lru) = a.hot_keys();
    for (title, keys) in [
        ("Hottest keys by LFU counter", lfu),
        ("Most recently used keys (LRU idle time)", lru),
    ] {
        if keys.is_empty() {
            continue;
        }
        let _ = writeln!(o, "\n{title}");
        let _ = writeln!(
            o,
            "  {:>3} {:<60} {:<8} {:>8} {:>10}",
            "db", "key", "type", "lfu", "idle s"
        );
        for k in keys {
            let _ = writeln!(
                o,
                "  {:>3} {:<60} {:<8} {:>8} {:>10}",
                k.db,
                printable_key(&k.key),
                k.type_key.name(),
                k.lfu_freq.map(|f| f.to_string()).unwrap_or_default(),
                k.idle_seconds.map(|f| f.to_string()).unwrap_or_default()
            );
        }
    }
    if let Some(note) = a.hot_keys_note() {
        let _ = writeln!(o, "\nHot keys\n  {note}");
    }
    let slots = a.top_slots(5);
    if !slots.is_empty() {
        let _ = writeln!(o, "\nMost loaded cluster slots (by estimated memory)");
        for (slot, b) in slots {
            let _ = writeln!(
                o,
                "  slot {slot:>5} {:>10} keys {:>12}",
                b.keys,
                human_bytes(b.memory_bytes)
            );
        }
    }
    if a.hash_tags.overflowed() {
        let _ = writeln!(
            o,
            "\nHash tags: more than {} distinct tags; see slots.parquet",
            HASH_TAG_CAP
        );
    } else if !a.hash_tags.is_empty() {
        let _ = writeln!(o, "\nHeaviest hash tags ({} distinct)", a.hash_tags.len());
        for (tag, b) in a.hash_tags.top(5) {
            let _ = writeln!(
                o,
                "  {{{}}} {:>10} keys {:>12}",
                printable_key(tag),
                b.keys,
                human_bytes(b.memory_bytes)
            );
        }
    }
    let over = a.over_threshold.len();
    if over > 0 {
        let _ = writeln!(
            o,
            "\n{over} key(s) over the big-key thresholds (see bigkeys.parquet, reason = over_threshold)"
        );
    }
    o
}

/// The report of every file.
pub fn render(reports: &[FileReport], top_n: usize) -> String {
    reports
        .iter()
        .map(|r| render_file(r, top_n))
        .collect::<Vec<_>>()
        .join("\n")
}
