//! [`KeyFacts`]: everything the analyzers need to know about one key,
//! computed once per key from the parser's [`Entry`].
//!
//! Exact: type, element counts, string length, the largest element, the
//! record's size in the file, expiry and LRU/LFU metadata, the cluster slot.
//! Predicted: the encoding `OBJECT ENCODING` would report after the file is
//! loaded into a given server, and the memory it would take there, both
//! from [`crate::memory`].

use std::fmt;

use rdb_parser::{Entry, Kind, Magic, ModuleId, Scratch, ValueType};

use crate::memory;
use crate::slot::slot_and_tag;

/// A Redis version, major and minor (`7.2`), the granularity at which
/// encodings and memory layouts change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RedisVersion {
    /// Major version.
    pub major: u32,
    /// Minor version.
    pub minor: u32,
}

impl RedisVersion {
    /// `major.minor`.
    pub const fn new(major: u32, minor: u32) -> RedisVersion {
        RedisVersion { major, minor }
    }

    /// Parses `7`, `7.2` or `7.2.4` (anything after the minor is ignored).
    pub fn parse(s: &str) -> Option<RedisVersion> {
        let mut parts = s.trim().split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = match parts.next() {
            Some(m) => m.parse().ok()?,
            None => 0,
        };
        Some(RedisVersion { major, minor })
    }

    /// The oldest Redis version that writes RDB files of `rdb_version`
    /// (used when the file has no `redis-ver` aux field). Valkey's own
    /// format (`VALKEY` magic) is treated as Redis 7.2, whose encodings
    /// Valkey kept.
    pub fn from_rdb_version(magic: Magic, rdb_version: u32) -> RedisVersion {
        if magic == Magic::Valkey {
            return RedisVersion::new(7, 2);
        }
        match rdb_version {
            0..=6 => RedisVersion::new(2, 8),
            7 => RedisVersion::new(3, 2),
            8 => RedisVersion::new(4, 0),
            9 => RedisVersion::new(6, 2),
            10 => RedisVersion::new(7, 0),
            11 => RedisVersion::new(7, 2),
            12 => RedisVersion::new(7, 4),
            _ => RedisVersion::new(8, 0),
        }
    }
}

impl fmt::Display for RedisVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// The server's `*-max-*` limits that decide compact encodings. Defaults
/// are the values compiled into the server (`config.c`), which is what a
/// server started without a config file uses (7.x names; 6.x's `ziplist`
/// names have the same values). Note: the sample `redis.conf` shipped with
/// Redis (and distro packages) lowers `hash-max-listpack-entries` to 128.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncodingLimits {
    /// `hash-max-listpack-entries`.
    pub hash_max_listpack_entries: u64,
    /// `hash-max-listpack-value`.
    pub hash_max_listpack_value: u64,
    /// `zset-max-listpack-entries`.
    pub zset_max_listpack_entries: u64,
    /// `zset-max-listpack-value`.
    pub zset_max_listpack_value: u64,
    /// `set-max-intset-entries`.
    pub set_max_intset_entries: u64,
    /// `set-max-listpack-entries` (7.2+).
    pub set_max_listpack_entries: u64,
    /// `set-max-listpack-value` (7.2+).
    pub set_max_listpack_value: u64,
    /// Bytes of one quicklist node, from `list-max-listpack-size` (-2 = 8 KB).
    pub list_max_listpack_bytes: u64,
}

impl Default for EncodingLimits {
    fn default() -> EncodingLimits {
        EncodingLimits {
            hash_max_listpack_entries: 512,
            hash_max_listpack_value: 64,
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
            set_max_intset_entries: 512,
            set_max_listpack_entries: 128,
            set_max_listpack_value: 64,
            list_max_listpack_bytes: 8192,
        }
    }
}

/// An object encoding, as `OBJECT ENCODING` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ObjEncoding {
    /// A string holding a 64-bit integer.
    Int,
    /// A short string allocated with its object header (44 bytes or less).
    Embstr,
    /// A string in its own allocation.
    Raw,
    /// A compact listpack (7.0+).
    Listpack,
    /// A listpack hash with field expiry (7.4+).
    ListpackEx,
    /// A list of listpack/ziplist nodes (3.2+).
    Quicklist,
    /// A compact ziplist (before 7.0).
    Ziplist,
    /// A linked list (before 3.2).
    Linkedlist,
    /// A set of integers.
    Intset,
    /// A hash table.
    Hashtable,
    /// A skip list plus a hash table (sorted sets).
    Skiplist,
    /// A stream (radix tree of listpacks).
    Stream,
    /// A module value: `OBJECT ENCODING` says `raw` for these.
    Module,
}

impl ObjEncoding {
    /// The name `OBJECT ENCODING` prints.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjEncoding::Int => "int",
            ObjEncoding::Embstr => "embstr",
            ObjEncoding::Raw | ObjEncoding::Module => "raw",
            ObjEncoding::Listpack => "listpack",
            ObjEncoding::ListpackEx => "listpackex",
            ObjEncoding::Quicklist => "quicklist",
            ObjEncoding::Ziplist => "ziplist",
            ObjEncoding::Linkedlist => "linkedlist",
            ObjEncoding::Intset => "intset",
            ObjEncoding::Hashtable => "hashtable",
            ObjEncoding::Skiplist => "skiplist",
            ObjEncoding::Stream => "stream",
        }
    }
}

impl fmt::Display for ObjEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Settings that turn an [`Entry`] into [`KeyFacts`]: the model of the
/// server that loads the file.
#[derive(Clone, Copy, Debug)]
pub struct FactsContext {
    /// Memory and encoding model of the loading server.
    pub profile: memory::Profile,
}

/// Everything known about one key, computed once and shared by every analyzer.
#[derive(Clone, Copy, Debug)]
pub struct KeyFacts<'k> {
    /// Database number.
    pub db: u64,
    /// The key (borrowed from the file, or from a worker's buffer when the
    /// key was stored as an integer or LZF-compressed).
    pub key: &'k [u8],
    /// Data type.
    pub kind: Kind,
    /// Type byte in the file.
    pub value_type: ValueType,
    /// For module values: which module type.
    pub module: Option<ModuleId>,
    /// Predicted `OBJECT ENCODING` after loading.
    pub encoding: ObjEncoding,
    /// Size of the whole record in the file (expire/LRU/LFU opcodes, type, key, value).
    pub rdb_bytes: u64,
    /// String length for strings, element count otherwise (stream length
    /// for streams, 1 for module values).
    pub elements: u64,
    /// Largest single element: the string itself for strings; a member,
    /// field or value for collections; a field or value for streams; 0 for
    /// module values.
    pub max_element_bytes: u64,
    /// Estimated `MEMORY USAGE key SAMPLES 0` once loaded ([`memory`]).
    pub memory_bytes: u64,
    /// Absolute expire time, ms since the epoch.
    pub expire_at_ms: Option<i64>,
    /// LRU idle seconds, when the file has them.
    pub idle_seconds: Option<u64>,
    /// LFU counter, when the file has it.
    pub lfu_freq: Option<u8>,
    /// Cluster slot (CRC16 with hash tags).
    pub slot: u16,
    /// The key's hash tag (between `{` and `}`), when it has one.
    pub hash_tag: Option<&'k [u8]>,
}

impl<'k> KeyFacts<'k> {
    /// Computes the facts of `entry`, whose key bytes (already decoded) are
    /// `key`: one walk over a collection's elements gives the encoding after
    /// load, the memory estimate, the element count and the longest element.
    pub fn from_entry(
        entry: &Entry<'_>,
        key: &'k [u8],
        ctx: &FactsContext,
        scratch: &mut Scratch,
    ) -> rdb_parser::Result<KeyFacts<'k>> {
        KeyFacts::with_slot(entry, key, slot_and_tag(key), ctx, scratch)
    }

    /// [`KeyFacts::from_entry`] with the key's cluster slot and hash tag
    /// already found ([`slot_and_tag`]): a caller that wants the slot
    /// early (to prefetch its counter) finds it once.
    pub fn with_slot(
        entry: &Entry<'_>,
        key: &'k [u8],
        (slot, tag): (u16, &'k [u8]),
        ctx: &FactsContext,
        scratch: &mut Scratch,
    ) -> rdb_parser::Result<KeyFacts<'k>> {
        let m = memory::measure(&ctx.profile, entry, key.len() as u64, scratch)?;
        let module = match entry.kind() {
            Kind::Module => Some(entry.value.module_id()?),
            _ => None,
        };
        Ok(KeyFacts {
            db: entry.db,
            key,
            kind: entry.kind(),
            value_type: entry.value_type(),
            module,
            encoding: m.encoding,
            rdb_bytes: entry.record_len(),
            elements: m.elements,
            max_element_bytes: m.max_element_bytes,
            memory_bytes: m.memory_bytes,
            expire_at_ms: entry.expire_at_ms,
            idle_seconds: entry.idle_seconds,
            lfu_freq: entry.lfu_freq,
            slot,
            hash_tag: (tag.len() != key.len()).then_some(tag),
        })
    }

    /// `TYPE`'s answer: `string`, `list`, … or `module:<type name>`.
    pub fn type_name(&self) -> String {
        type_name(self.kind, self.module)
    }
}

/// `string`, `list`, … or `module:<type name>`.
pub fn type_name(kind: Kind, module: Option<ModuleId>) -> String {
    match (kind, module) {
        (Kind::Module, Some(id)) => format!("module:{}", id.name()),
        _ => kind.name().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_and_order() {
        assert_eq!(RedisVersion::parse("7.2.4"), Some(RedisVersion::new(7, 2)));
        assert_eq!(RedisVersion::parse("6"), Some(RedisVersion::new(6, 0)));
        assert_eq!(RedisVersion::parse("x"), None);
        assert!(RedisVersion::new(7, 10) > RedisVersion::new(7, 2));
    }
}
