//! The diff's vocabulary: figures of one side, a row compared across the
//! two sides with its deltas, a big key's change, and the whole [`Diff`].

/// Figures of one row on one side (what a table row holds; a figure a
/// table does not have stays 0).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fig {
    /// Keys.
    pub keys: u64,
    /// Estimated memory once loaded.
    pub memory_bytes: u64,
    /// Bytes in the RDB file.
    pub rdb_bytes: u64,
    /// Keys with a TTL (`expires` of a database, `keys_with_ttl` of a prefix).
    pub expires: u64,
}

impl Fig {
    /// Adds `other`'s figures (rows of several sources of one side).
    pub fn add(&mut self, other: &Fig) {
        self.keys += other.keys;
        self.memory_bytes += other.memory_bytes;
        self.rdb_bytes += other.rdb_bytes;
        self.expires += other.expires;
    }
}

/// `after - before`, saturating at the bounds of `i64`.
pub fn delta(before: u64, after: u64) -> i64 {
    let d = i128::from(after) - i128::from(before);
    d.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// The change in percent of `before`; `None` when `before` is 0.
pub fn delta_pct(before: u64, after: u64) -> Option<f64> {
    (before > 0).then(|| (after as f64 - before as f64) * 100.0 / before as f64)
}

/// How a row changed between the two sides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// No keys before, some after.
    New,
    /// Keys before, none after.
    Vanished,
    /// Keys on both sides; some figure differs.
    Changed,
    /// The same figures on both sides.
    Unchanged,
}

impl Status {
    /// The name used in every output.
    pub fn name(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Vanished => "vanished",
            Status::Changed => "changed",
            Status::Unchanged => "unchanged",
        }
    }
}

/// One row (a pattern, a type and encoding, a TTL bucket, a database, a
/// slot) on both sides.
#[derive(Clone, Debug, PartialEq)]
pub struct Row<K> {
    /// What the row is about.
    pub key: K,
    /// Its figures on the OLD side.
    pub before: Fig,
    /// Its figures on the NEW side.
    pub after: Fig,
}

impl<K> Row<K> {
    /// A row with no figures yet.
    pub fn new(key: K) -> Row<K> {
        Row {
            key,
            before: Fig::default(),
            after: Fig::default(),
        }
    }

    /// Keys after minus keys before.
    pub fn keys_delta(&self) -> i64 {
        delta(self.before.keys, self.after.keys)
    }

    /// Memory after minus memory before.
    pub fn memory_delta(&self) -> i64 {
        delta(self.before.memory_bytes, self.after.memory_bytes)
    }

    /// Memory change in percent of before (`None` for a new row).
    pub fn memory_delta_pct(&self) -> Option<f64> {
        delta_pct(self.before.memory_bytes, self.after.memory_bytes)
    }

    /// RDB bytes after minus before.
    pub fn rdb_delta(&self) -> i64 {
        delta(self.before.rdb_bytes, self.after.rdb_bytes)
    }

    /// Keys with a TTL after minus before.
    pub fn expires_delta(&self) -> i64 {
        delta(self.before.expires, self.after.expires)
    }

    /// New, vanished, changed or unchanged.
    pub fn status(&self) -> Status {
        match (self.before.keys, self.after.keys) {
            (0, a) if a > 0 => Status::New,
            (b, 0) if b > 0 => Status::Vanished,
            _ if self.before == self.after => Status::Unchanged,
            _ => Status::Changed,
        }
    }
}

/// A key pattern at a depth of the prefix tree (`user`, `user:*`, ...).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pattern {
    /// The pattern, as in `prefixes.parquet`.
    pub pattern: String,
    /// Its depth (segments), from 1.
    pub depth: u32,
}

/// One key's figures on one side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyFig {
    /// `string`, `hash`, ...
    pub kind: String,
    /// The encoding once loaded.
    pub encoding: String,
    /// Estimated memory.
    pub memory_bytes: u64,
    /// Elements (string length for strings).
    pub elements: u64,
    /// Bytes in the RDB file.
    pub rdb_bytes: u64,
}

/// A key: its database and bytes.
pub type KeyId = (i64, Vec<u8>);

/// Keys' figures on one side.
pub type KeyMap = std::collections::HashMap<KeyId, KeyFig>;

/// What is known of a key on one side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySide {
    /// Present, with these figures.
    Present(KeyFig),
    /// Absent (the side's keys.parquet has no such key).
    Absent,
    /// Not among the side's big keys, and the side has no keys.parquet
    /// to say whether it exists.
    Unknown,
}

impl KeySide {
    /// The figures when present.
    pub fn fig(&self) -> Option<&KeyFig> {
        match self {
            KeySide::Present(f) => Some(f),
            _ => None,
        }
    }
}

/// How a big key changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum KeyChangeKind {
    /// Absent before, a big key after.
    New,
    /// A big key before, absent after.
    Vanished,
    /// Present on both sides, more memory after.
    Grown,
    /// Present on both sides, less memory after.
    Shrunk,
    /// Present on both sides, same memory, but another type, encoding or
    /// element count.
    Changed,
    /// A big key after; whether it existed before is unknown (OLD has no
    /// keys.parquet).
    EnteredTop,
    /// A big key before; whether it still exists is unknown (NEW has no
    /// keys.parquet).
    LeftTop,
}

impl KeyChangeKind {
    /// The name used in every output.
    pub fn name(self) -> &'static str {
        match self {
            KeyChangeKind::New => "new",
            KeyChangeKind::Vanished => "vanished",
            KeyChangeKind::Grown => "grown",
            KeyChangeKind::Shrunk => "shrunk",
            KeyChangeKind::Changed => "changed",
            KeyChangeKind::EnteredTop => "entered_top",
            KeyChangeKind::LeftTop => "left_top",
        }
    }
}

/// A big key (on either side's big-key lists) that changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyChange {
    /// How.
    pub change: KeyChangeKind,
    /// Its database.
    pub db: i64,
    /// The key's bytes.
    pub key: Vec<u8>,
    /// On the OLD side.
    pub before: KeySide,
    /// On the NEW side.
    pub after: KeySide,
}

impl KeyChange {
    /// Memory after minus before, when both are known (an absent key
    /// counts 0).
    pub fn memory_delta(&self) -> Option<i64> {
        let mem = |s: &KeySide| match s {
            KeySide::Present(f) => Some(f.memory_bytes),
            KeySide::Absent => Some(0),
            KeySide::Unknown => None,
        };
        Some(delta(mem(&self.before)?, mem(&self.after)?))
    }
}

/// One input file of a side, as its `summary.json` describes it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SourceMeta {
    /// The `source` name its rows carry.
    pub source: String,
    /// `redis-ver` (or Valkey's version) from the file.
    pub server_version: String,
    /// RDB format version.
    pub rdb_version: u64,
    /// The file's `ctime` (seconds), when recorded.
    pub ctime: Option<i64>,
    /// The server version the memory model assumed.
    pub modelled_version: String,
    /// The prefix coarsening level (8: no pattern was cut).
    pub prefix_level: i64,
}

/// What a side is: its inputs, files and totals.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SideMeta {
    /// `OLD` or `NEW`.
    pub label: String,
    /// The directory read (for RDB inputs: the files given).
    pub inputs: Vec<String>,
    /// The files analyzed, as `summary.json` lists them.
    pub sources: Vec<SourceMeta>,
    /// Whether the side has `keys.parquet` (one row per key).
    pub has_keys: bool,
    /// Keys, memory, RDB bytes and keys with a TTL, over all its files.
    pub totals: Fig,
}

impl SideMeta {
    /// The finest prefix depth at which every file's patterns are whole.
    pub fn prefix_level(&self) -> i64 {
        self.sources
            .iter()
            .map(|s| s.prefix_level)
            .min()
            .unwrap_or(8)
    }
}

/// Two analyses compared.
#[derive(Clone, Debug, Default)]
pub struct Diff {
    /// The OLD side.
    pub old: SideMeta,
    /// The NEW side.
    pub new: SideMeta,
    /// Patterns at every compared depth, by depth, then the size of the
    /// memory change (largest first), then pattern.
    pub prefixes: Vec<Row<Pattern>>,
    /// The deepest pattern depth compared (both sides' patterns are
    /// whole down to it).
    pub compared_depth: u32,
    /// Keys, memory and TTL keys per (type, encoding).
    pub types: Vec<Row<(String, String)>>,
    /// Keys and memory per TTL bucket (each side's buckets are relative
    /// to its own snapshot time).
    pub expiry: Vec<Row<String>>,
    /// Per database.
    pub dbs: Vec<Row<i64>>,
    /// Per cluster slot holding keys on either side.
    pub slots: Vec<Row<u16>>,
    /// Big keys that changed, by the size of their memory change.
    pub keys: Vec<KeyChange>,
    /// Whether both sides have keys.parquet (so a big key missing from a
    /// side's lists is known to be absent or present).
    pub per_key: bool,
    /// What a reader must know (versions differ, per-key diffs not
    /// available, patterns cut).
    pub notes: Vec<String>,
}

impl Diff {
    /// The totals of both sides as one row.
    pub fn totals(&self) -> Row<()> {
        Row {
            key: (),
            before: self.old.totals,
            after: self.new.totals,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(before: Fig, after: Fig) -> Row<()> {
        Row {
            key: (),
            before,
            after,
        }
    }

    #[test]
    fn deltas_and_status() {
        let a = Fig {
            keys: 10,
            memory_bytes: 1000,
            rdb_bytes: 100,
            expires: 1,
        };
        let b = Fig {
            keys: 15,
            memory_bytes: 1500,
            rdb_bytes: 90,
            expires: 1,
        };
        let r = row(a, b);
        assert_eq!(r.keys_delta(), 5);
        assert_eq!(r.memory_delta(), 500);
        assert_eq!(r.rdb_delta(), -10);
        assert_eq!(r.memory_delta_pct(), Some(50.0));
        assert_eq!(r.status(), Status::Changed);
        assert_eq!(row(Fig::default(), b).status(), Status::New);
        assert_eq!(row(Fig::default(), b).memory_delta_pct(), None);
        assert_eq!(row(a, Fig::default()).status(), Status::Vanished);
        assert_eq!(row(a, Fig::default()).memory_delta_pct(), Some(-100.0));
        assert_eq!(row(a, a).status(), Status::Unchanged);
        assert_eq!(delta(0, u64::MAX), i64::MAX);
        assert_eq!(delta(u64::MAX, 0), i64::MIN);
    }

    #[test]
    fn key_memory_delta() {
        let fig = KeyFig {
            kind: "hash".into(),
            encoding: "hashtable".into(),
            memory_bytes: 300,
            elements: 3,
            rdb_bytes: 30,
        };
        let mut c = KeyChange {
            change: KeyChangeKind::New,
            db: 0,
            key: b"k".to_vec(),
            before: KeySide::Absent,
            after: KeySide::Present(fig.clone()),
        };
        assert_eq!(c.memory_delta(), Some(300));
        c.before = KeySide::Unknown;
        assert_eq!(c.memory_delta(), None);
        assert_eq!(c.after.fig(), Some(&fig));
    }
}
