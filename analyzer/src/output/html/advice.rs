//! The recommendations: what to do about a file, each computed from its
//! view (big keys, prefixes, TTL buckets, slots, hash tags) with the keys or
//! prefixes it applies to and the memory at stake; none is hard-coded.

use super::page::{bytes, count};
use super::view::FileView;

/// Collections with at least this many elements block the server on
/// `DEL` (freeing is linear in the elements).
pub const BLOCKING_ELEMENTS: u64 = 10_000;
/// Lists and streams with at least this many elements look untrimmed.
pub const LONG_ELEMENTS: u64 = 100_000;
/// A prefix without TTL is listed from this share of the memory.
pub const NO_TTL_SHARE: f64 = 0.01;
/// A slot holding this many times the mean of the slots with keys is a
/// hot spot (and at least [`HOT_SLOT_SHARE`] of the memory).
pub const HOT_SLOT_FACTOR: u64 = 20;
/// See [`HOT_SLOT_FACTOR`].
pub const HOT_SLOT_SHARE: f64 = 0.01;
/// A hot slot holds at least this much memory (below, a node does not
/// feel it).
pub const HOT_SLOT_BYTES: u64 = 1 << 20;
/// Sources are skewed when the biggest holds this many times the mean.
pub const SKEW_FACTOR: f64 = 1.25;
/// Items listed per recommendation.
const ITEMS: usize = 10;

/// Words in a prefix that mark data meant to be temporary.
const TEMPORARY: [&str; 7] = ["cache", "tmp", "temp", "token", "login", "lock", "otp"];

/// One recommendation.
#[derive(Clone, Debug, PartialEq)]
pub struct Advice {
    /// What to do, in a line.
    pub title: String,
    /// Why, and how.
    pub detail: String,
    /// The keys or prefixes it applies to (at most 10), with their memory.
    pub items: Vec<(String, u64)>,
    /// How many keys or prefixes it applies to in all.
    pub count: usize,
    /// Memory at stake, over all of them.
    pub memory_bytes: u64,
}

fn advice(title: &str, detail: String, mut all: Vec<(String, u64)>) -> Option<Advice> {
    if all.is_empty() {
        return None;
    }
    all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let memory_bytes = all.iter().map(|i| i.1).sum();
    let count = all.len();
    all.truncate(ITEMS);
    Some(Advice {
        title: title.to_owned(),
        detail,
        items: all,
        count,
        memory_bytes,
    })
}

/// A recommendation whose totals (`count` items, `memory_bytes` at stake)
/// come from the analysis's aggregates, its items being only the top ones.
fn advice_of_totals(
    title: String,
    detail: String,
    items: Vec<(String, u64)>,
    count: u64,
    memory_bytes: u64,
) -> Option<Advice> {
    (count > 0 && memory_bytes > 0).then(|| Advice {
        title,
        detail,
        items: items.into_iter().take(ITEMS).collect(),
        count: count as usize,
        memory_bytes,
    })
}

/// A key as a recommendation lists it: `db 0: name (hash of 1,000 elements)`.
fn key_label(k: &super::view::KeyRow) -> String {
    format!(
        "db {}: {} ({} of {} elements)",
        k.db,
        k.key,
        k.kind,
        count(k.elements)
    )
}

/// Raising a listpack limit to keep just-over collections compact, one
/// recommendation per type; and compressing big strings.
fn savings(f: &FileView) -> Vec<Advice> {
    let mut out: Vec<Advice> = f
        .near_limit
        .iter()
        .filter_map(|r| {
            let setting = format!("{}-max-listpack-entries", r.kind);
            let items = f
                .near_limit_keys
                .iter()
                .filter(|(k, _)| k.kind == r.kind)
                .map(|(k, saved)| (key_label(k), *saved))
                .collect();
            advice_of_totals(
                format!("Raise {setting} to {}", r.up_to),
                format!(
                    "These {kind}s have more than {} elements (the limit), at most {}, and no element \
                     longer than {} bytes ({kind}-max-listpack-value): with {setting} {} they would \
                     stay compact listpacks and take about {} instead of {}. A listpack is scanned \
                     element by element, so raise the limit in modest steps on latency-sensitive \
                     servers; the keys convert when next written (or rewrite them).",
                    count(r.entries),
                    count(r.up_to),
                    r.value,
                    r.up_to,
                    bytes(r.memory_bytes.saturating_sub(r.saved_bytes)),
                    bytes(r.memory_bytes),
                    kind = r.kind,
                ),
                items,
                r.keys,
                r.saved_bytes,
            )
        })
        .collect();
    let (keys, memory, saved) = f.compressible;
    out.extend(advice_of_totals(
        "Compress big strings in the application".to_owned(),
        format!(
            "These strings of 1 KiB or more shrank to half their size or less under the LZF \
             compression the server applies when it saves: in memory they are kept whole ({}). \
             Storing them compressed (zstd, LZ4, gzip in the client) would free about the \
             difference, at the cost of compressing in the application.",
            bytes(memory)
        ),
        f.compressible_keys
            .iter()
            .map(|(k, saved)| (key_label(k), *saved))
            .collect(),
        keys,
        saved,
    ));
    out
}

/// Across several files (the nodes of a cluster): sources holding far
/// more memory than the mean.
pub fn source_skew(files: &[FileView]) -> Option<Advice> {
    if files.len() < 2 {
        return None;
    }
    let total: u64 = files.iter().map(|f| f.memory_bytes).sum();
    let mean = total as f64 / files.len() as f64;
    let over: Vec<(String, u64)> = files
        .iter()
        .filter(|f| f.memory_bytes as f64 > SKEW_FACTOR * mean && f.memory_bytes > 0)
        .map(|f| (f.source.clone(), f.memory_bytes))
        .collect();
    let excess: u64 = over
        .iter()
        .map(|(_, m)| (*m as f64 - mean).max(0.0) as u64)
        .sum();
    let n = over.len() as u64;
    advice_of_totals(
        "Rebalance the sources that hold the most".to_owned(),
        format!(
            "These files hold more than {:.0} % of the mean memory per file ({}): if they are the \
             nodes of one cluster, move slots away from them (the hot slots and hash tags of each \
             file show which), or split their biggest keys. At stake: their memory above the mean.",
            SKEW_FACTOR * 100.0,
            bytes(mean as u64)
        ),
        over,
        n,
        excess,
    )
}

/// Every recommendation that applies to `f`, in a fixed order.
pub fn recommendations(f: &FileView) -> Vec<Advice> {
    let blocking = f
        .big_keys
        .iter()
        .filter(|k| k.kind != "string" && k.elements >= BLOCKING_ELEMENTS)
        .map(|k| (key_label(k), k.memory_bytes))
        .collect();
    let long = f
        .big_keys
        .iter()
        .filter(|k| (k.kind == "list" || k.kind == "stream") && k.elements >= LONG_ELEMENTS)
        .map(|k| (key_label(k), k.memory_bytes))
        .collect();
    let no_ttl = f
        .prefixes
        .iter()
        .filter(|p| {
            p.depth == 1
                && p.keys_with_ttl == 0
                && p.keys > 1
                && p.memory_bytes as f64 >= NO_TTL_SHARE * f.memory_bytes as f64
        })
        .map(|p| {
            let lower = p.pattern.to_ascii_lowercase();
            let temporary = TEMPORARY.iter().any(|w| lower.contains(w));
            let label = if temporary {
                format!("{} (looks temporary)", p.pattern)
            } else {
                p.pattern.clone()
            };
            (label, p.memory_bytes)
        })
        .collect();
    let expired: Vec<(String, u64)> = f
        .expiry
        .iter()
        .filter(|b| b.label == "expired" && b.keys > 0)
        .map(|b| (format!("{} keys", b.keys), b.memory_bytes))
        .collect();
    let with_keys = f.slots.iter().filter(|s| s.1 > 0).count() as u64;
    let slot_total: u64 = f.slots.iter().map(|s| s.2).sum();
    let mean = slot_total.checked_div(with_keys).unwrap_or(0);
    let hot_slots = f
        .slots
        .iter()
        .filter(|s| {
            with_keys > 1
                && s.2 > mean.saturating_mul(HOT_SLOT_FACTOR)
                && s.2 as f64 >= HOT_SLOT_SHARE * slot_total as f64
                && s.2 >= HOT_SLOT_BYTES
        })
        .map(|s| (format!("slot {}", s.0), s.2))
        .collect();
    [
        advice(
            "Delete big collections with UNLINK or in chunks, not DEL",
            format!(
                "DEL frees a collection on the main thread, element by element: collections of \
                 {} elements or more stall every client while they go. Use UNLINK \
                 (freed in the background), or empty them in chunks (HSCAN + HDEL, LTRIM, ZREMRANGEBYRANK); \
                 a cleanup ticket (rdbscope ticket submit cleanup) does both.",
                count(BLOCKING_ELEMENTS)
            ),
            blocking,
        ),
        advice(
            "Trim long lists and streams",
            format!(
                "Lists and streams of {} elements or more grow without bound unless \
                 something trims them: cap them with LTRIM or XADD … MAXLEN ~ / XTRIM.",
                count(LONG_ELEMENTS)
            ),
            long,
        ),
        advice(
            "Give a TTL to prefixes that have none",
            format!(
                "No key under these prefixes (each at least {:.0} % of the memory) has a TTL; data \
                 meant to be temporary (caches, tokens, locks, login data) stays until something deletes it. \
                 Set an EXPIRE where the keys are written, or clean them up once.",
                NO_TTL_SHARE * 100.0
            ),
            no_ttl,
        ),
        advice(
            "Keys expired but not yet reclaimed",
            "These keys had expired when the snapshot was taken but were still in memory: the \
             server's active expiry is behind. They go when read, when the expire cycle reaches them, \
             or when the file is loaded; many of them suggest raising active-expire-effort."
                .to_owned(),
            expired,
        ),
        advice(
            "Spread the hot cluster slots",
            format!(
                "These slots hold more than {HOT_SLOT_FACTOR} times the memory of the average slot \
                 with keys: in a cluster, their node carries that load alone. Look at the hash tags \
                 ({{…}}) that pin keys to them, and at the big keys they hold."
            ),
            hot_slots,
        ),
    ]
    .into_iter()
    .flatten()
    .chain(savings(f))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::super::view::{CountRow, KeyRow, PrefixNode};
    use super::*;

    fn key(kind: &str, key: &str, elements: u64, memory_bytes: u64) -> KeyRow {
        KeyRow {
            db: 0,
            key: key.into(),
            kind: kind.into(),
            encoding: "x".into(),
            memory_bytes,
            elements,
            max_element_bytes: 1,
            expire_at_ms: None,
            lfu_freq: None,
            idle_seconds: None,
        }
    }

    fn prefix(pattern: &str, keys_with_ttl: u64, memory_bytes: u64) -> PrefixNode {
        PrefixNode {
            pattern: pattern.into(),
            depth: 1,
            keys: 10,
            memory_bytes,
            keys_with_ttl,
        }
    }

    #[test]
    fn each_rule_fires_on_what_it_names_only() {
        let mut f = FileView {
            memory_bytes: 1000,
            ..FileView::default()
        };
        assert!(recommendations(&f).is_empty());
        f.big_keys = vec![
            key("hash", "h", BLOCKING_ELEMENTS, 100),
            key("list", "l", LONG_ELEMENTS, 300),
            key("string", "s", 1 << 30, 500),
            key("set", "small", 10, 1),
        ];
        f.prefixes = vec![
            prefix("cache", 0, 400),
            prefix("user", 5, 400),
            prefix("tiny", 0, 5),
        ];
        f.expiry = vec![CountRow {
            label: "expired".into(),
            keys: 3,
            memory_bytes: 30,
        }];
        // 1 MiB and 512 KiB among 100 slots of a byte: both are far over
        // the mean, only the first is big enough to matter.
        f.slots = (0..100u16)
            .map(|s| (s, 1, 1))
            .chain([(500, 1, HOT_SLOT_BYTES), (600, 1, HOT_SLOT_BYTES / 2)])
            .collect();
        let r = recommendations(&f);
        let titles: Vec<&str> = r.iter().map(|a| a.title.as_str()).collect();
        assert_eq!(titles.len(), 5, "{titles:?}");
        // DEL: the hash and the list, not the string nor the small set.
        assert_eq!(r[0].count, 2);
        assert_eq!(r[0].memory_bytes, 400);
        assert_eq!(r[0].items[0].0, "db 0: l (list of 100,000 elements)");
        // Long: the list only.
        assert_eq!(r[1].items.len(), 1);
        assert_eq!(r[1].memory_bytes, 300);
        // No TTL: cache (temporary-looking); not user (has TTLs), not tiny (<1 %).
        assert_eq!(
            r[2].items,
            vec![("cache (looks temporary)".to_owned(), 400)]
        );
        assert_eq!(r[3].memory_bytes, 30);
        assert_eq!(r[4].items, vec![("slot 500".to_owned(), HOT_SLOT_BYTES)]);
    }

    #[test]
    fn savings_and_skew_carry_the_analysis_totals() {
        use super::super::view::LimitRow;
        let mut f = FileView {
            memory_bytes: 1000,
            ..FileView::default()
        };
        f.near_limit = vec![
            LimitRow {
                kind: "hash".into(),
                entries: 128,
                value: 64,
                up_to: 256,
                keys: 40,
                memory_bytes: 900,
                saved_bytes: 500,
            },
            LimitRow {
                kind: "set".into(),
                entries: 128,
                value: 64,
                up_to: 256,
                keys: 0,
                memory_bytes: 0,
                saved_bytes: 0,
            },
        ];
        f.near_limit_keys = vec![(key("hash", "h1", 200, 30), 20)];
        f.compressible = (3, 300, 200);
        f.compressible_keys = vec![(key("string", "s", 5000, 100), 90)];
        let r = recommendations(&f);
        let titles: Vec<&str> = r.iter().map(|a| a.title.as_str()).collect();
        assert_eq!(
            titles,
            [
                "Raise hash-max-listpack-entries to 256",
                "Compress big strings in the application"
            ]
        );
        assert_eq!((r[0].count, r[0].memory_bytes), (40, 500));
        assert_eq!(
            r[0].items,
            vec![("db 0: h1 (hash of 200 elements)".to_owned(), 20)]
        );
        assert_eq!((r[1].count, r[1].memory_bytes), (3, 200));

        let node = |source: &str, memory_bytes| FileView {
            source: source.into(),
            memory_bytes,
            ..FileView::default()
        };
        let even = [node("a", 100), node("b", 110), node("c", 90)];
        assert!(source_skew(&even).is_none());
        assert!(source_skew(&even[..1]).is_none());
        let skewed = [node("a", 100), node("b", 400), node("c", 100)];
        let a = source_skew(&skewed).expect("skew");
        assert_eq!(a.items, vec![("b".to_owned(), 400)]);
        assert_eq!(a.memory_bytes, 200, "above the mean of 200");
    }
}
