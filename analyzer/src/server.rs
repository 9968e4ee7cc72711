//! The server a file is modelled as loaded into: its version, its
//! encoding limits, and the encodings `OBJECT ENCODING` reports.

use std::fmt;

use rdb_parser::Magic;

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
    /// `list-compress-depth` (0 = no compressed nodes): inner quicklist
    /// nodes are modelled at the LZF size the file stored them at.
    pub list_compress_depth: u64,
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
            list_compress_depth: 0,
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
    /// Redis 8.8's sparse array (`OBJ_ENCODING_SLICED_ARRAY`).
    SlicedArray,
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
            ObjEncoding::SlicedArray => "sliced_array",
        }
    }
}

impl fmt::Display for ObjEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
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
