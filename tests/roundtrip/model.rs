//! The shared vocabulary of the round trips: what a server can do, and a key's contents
//! normalised (read from a server or from `rdbscope dump`).

use std::collections::{BTreeMap, BTreeSet};

use testkit::{ServerBin, ServerKind};

pub(super) type Bytes = Vec<u8>;
pub(super) type Cmd = Vec<Vec<u8>>;

/// 2100-01-01T00:00:00Z in ms: key and field expiries that never fire during a test.
pub(super) const FAR: i64 = 4_102_444_800_000;

#[derive(Clone, Copy, Debug)]
pub(super) struct Features {
    /// Redis 7.0+ / Valkey: listpack everywhere, PEXPIRETIME, stream v2 metadata, functions,
    /// plain quicklist nodes (DEBUG QUICKLIST-PACKED-THRESHOLD).
    pub(super) v7: bool,
    /// Redis 7.2+ / Valkey: small sets of strings are listpacks; consumers have active-time.
    pub(super) v72: bool,
    /// Hash field expiration (Redis 7.4+, Valkey 9+).
    pub(super) hfe: bool,
    /// Modules loaded (redis-stack).
    pub(super) modules: bool,
}

impl Features {
    pub(super) fn of(bin: &ServerBin) -> Features {
        let mut it = bin
            .version()
            .split('.')
            .map(|s| s.parse::<u32>().unwrap_or(0));
        let major = it.next().unwrap_or(0);
        let minor = it.next().unwrap_or(0);
        let valkey = bin.kind == ServerKind::Valkey9;
        let v = (major, minor);
        Features {
            v7: major >= 7,
            v72: valkey || v >= (7, 2),
            hfe: if valkey { major >= 9 } else { v >= (7, 4) },
            modules: !bin.modules.is_empty(),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Val {
    Str(Bytes),
    List(Vec<Bytes>),
    Set(BTreeSet<Bytes>),
    ZSet(BTreeMap<Bytes, f64>),
    /// field -> (value, field expire-at ms)
    Hash(BTreeMap<Bytes, (Bytes, Option<i64>)>),
    Stream(Box<StreamVal>),
    /// Module type name; `DUMP` payload when read from a server.
    Module {
        name: String,
        dump: Option<Bytes>,
    },
}

impl Val {
    pub(super) fn count(&self) -> usize {
        match self {
            Val::Str(b) => b.len(),
            Val::List(v) => v.len(),
            Val::Set(s) => s.len(),
            Val::ZSet(z) => z.len(),
            Val::Hash(h) => h.len(),
            Val::Stream(s) => s.entries.len(),
            Val::Module { .. } => 0,
        }
    }
}

/// In the `Option<Option<T>>` fields, the outer `None` means "this source cannot tell" (an
/// older server) and is not compared.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct StreamVal {
    pub(super) length: i64,
    pub(super) last_id: String,
    pub(super) first_id: Option<Option<String>>,
    pub(super) max_deleted_id: Option<Option<String>>,
    pub(super) entries_added: Option<Option<i64>>,
    pub(super) entries: Vec<(String, Vec<(Bytes, Bytes)>)>,
    pub(super) groups: BTreeMap<Bytes, Group>,
}

#[derive(Clone, Debug, PartialEq)]
pub(super) struct Group {
    pub(super) last_id: String,
    pub(super) entries_read: Option<Option<i64>>,
    /// (id, delivery time ms, delivery count), by id
    pub(super) pending: Vec<(String, i64, i64)>,
    pub(super) consumers: BTreeMap<Bytes, Consumer>,
}

#[derive(Clone, Debug, PartialEq)]
pub(super) struct Consumer {
    pub(super) seen_time: i64,
    pub(super) active_time: Option<Option<i64>>,
    pub(super) pending: Vec<String>,
}

#[derive(Clone, Debug)]
pub(super) struct KeyVal {
    /// `TYPE` answer; module type name for module values.
    pub(super) ty: String,
    /// `OBJECT ENCODING` (server) or the dump's `encoding`.
    pub(super) encoding: Option<String>,
    pub(super) expire: Option<i64>,
    pub(super) val: Val,
}

pub(super) type Snapshot = BTreeMap<(u32, Bytes), KeyVal>;
