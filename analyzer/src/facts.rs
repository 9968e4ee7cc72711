//! [`KeyFacts`]: everything the analyzers need to know about one key,
//! computed once per key from the parser's [`Entry`].
//!
//! Exact: type, element counts, string length, the largest element, the
//! record's size in the file, expiry and LRU/LFU metadata, the cluster slot.
//! Predicted: the encoding `OBJECT ENCODING` would report after the file is
//! loaded into a given server, and the memory it would take there, both
//! from [`crate::memory`].

use rdb_parser::{Entry, Kind, ModuleId, Scratch, ValueType};

use crate::memory;
pub use crate::server::{EncodingLimits, ObjEncoding, RedisVersion};
use crate::slot::slot_and_tag;

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
    /// Whether Redis Enterprise's per-key opcodes (107 `RAM_LRU`, 121
    /// `SLOT_NUM`) preceded the key.
    pub enterprise_opcodes: bool,
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
    /// early (to prefetch its counter) finds it once. Inlined, so that the
    /// facts are built where the caller keeps them, not copied there.
    #[inline(always)]
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
            enterprise_opcodes: entry.enterprise.any(),
            slot,
            hash_tag: (tag.len() != key.len()).then_some(tag),
        })
    }

    /// `TYPE`'s answer: `string`, `list`, … or `module:<type name>`.
    pub fn type_name(&self) -> String {
        type_name(self.kind, self.module)
    }

    /// How [`KeyFacts::memory_bytes`] was estimated.
    pub fn memory_model(&self) -> MemoryModel {
        MemoryModel::of(self.kind, self.module)
    }
}

/// How a key's memory was estimated: `keys.parquet`'s `memory_model`
/// column, and the loose share of `summary.json`'s totals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemoryModel {
    /// By the memory model of the server's layouts.
    Model = 0,
    /// A module value: its serialized size stands in for what the module
    /// would report (a loose estimate).
    Serialized = 1,
}

impl MemoryModel {
    /// The model used for values of `kind` (and module type `module`):
    /// module values are estimated by their serialized size unless their
    /// type is modelled ([`crate::memory::module_modelled`]).
    pub fn of(kind: Kind, module: Option<ModuleId>) -> MemoryModel {
        match (kind, module) {
            (Kind::Module, Some(id)) if crate::memory::module_modelled(id) => MemoryModel::Model,
            (Kind::Module, _) => MemoryModel::Serialized,
            _ => MemoryModel::Model,
        }
    }

    /// The column's value: `model` or `serialized`.
    pub fn as_str(self) -> &'static str {
        match self {
            MemoryModel::Model => "model",
            MemoryModel::Serialized => "serialized",
        }
    }
}

/// `string`, `list`, … or `module:<type name>`.
pub fn type_name(kind: Kind, module: Option<ModuleId>) -> String {
    match (kind, module) {
        (Kind::Module, Some(id)) => format!("module:{}", id.name()),
        _ => kind.name().to_owned(),
    }
}
