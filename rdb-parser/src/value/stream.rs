//! Streams (types 15, 19, 21, 26, 27): listpack nodes keyed by a master
//! id, then stream metadata and consumer groups.
//!
//! Type 27 (`RDB_TYPE_STREAM_LISTPACKS_5`, Redis 8.8, RDB 14) adds to each
//! consumer group, after its consumers, a NACK zone: a length, then that
//! many 16-byte big-endian stream ids (the group's pending entries that were
//! released with `XNACK` and belong to no consumer). Source: redis/librdb
//! `src/lib/parser.c` `elementStreamLP`, states `ST_LOAD_NACK_ZONE_COUNT` /
//! `ST_LOAD_NACK_ZONE_ENTRY` (librdb v2.3.0).
//!
//! Node listpack: master entry (count, deleted, field count, fields, 0),
//! then entries (flags, ms delta, seq delta, [field count, field/value
//! pairs | values for the master fields], entry item count).

use super::element::Scratch;
use super::listpack::Listpack;
use crate::cursor::Cursor;
use crate::error::{Error, Result};
use crate::mmap::ReleaseBehind;
use crate::string::{RdbString, Scalar};
use crate::types::ValueType;

const FLAG_DELETED: i64 = 1;
const FLAG_SAMEFIELDS: i64 = 2;

/// A stream entry id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct StreamId {
    /// Milliseconds part.
    pub ms: u64,
    /// Sequence part.
    pub seq: u64,
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// Stream-level facts stored after the entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct StreamMeta {
    /// Number of (live) entries.
    pub length: u64,
    /// Largest id ever added.
    pub last_id: StreamId,
    /// First entry id (v2+).
    pub first_id: Option<StreamId>,
    /// Largest deleted id (v2+).
    pub max_deleted_id: Option<StreamId>,
    /// Entries ever added (v2+).
    pub entries_added: Option<u64>,
    /// Number of listpack nodes.
    pub nodes: u64,
    /// Number of consumer groups.
    pub groups: u64,
}

/// Receives a stream's contents as they are decoded. Every method has an
/// empty default, so a visitor implements only what it needs.
#[allow(unused_variables)]
pub trait StreamVisitor {
    /// A listpack node: its master id and the listpack's size in bytes
    /// (decompressed). Its entries follow.
    fn node(&mut self, master: StreamId, listpack_bytes: u64) {}
    /// A live (not deleted) entry with its field/value pairs.
    fn entry(&mut self, id: StreamId, fields: &[(Scalar<'_>, Scalar<'_>)]) {}
    /// A consumer group; its pending entries and consumers follow.
    /// `entries_read` is `None` when the file does not have it (before
    /// version 2) or says it is unknown.
    fn group(&mut self, name: &[u8], last_id: StreamId, entries_read: Option<i64>, pending: u64) {}
    /// A pending entry of the current group.
    fn group_pending(&mut self, id: StreamId, delivery_time_ms: i64, delivery_count: u64) {}
    /// A consumer of the current group; its pending ids follow.
    fn consumer(
        &mut self,
        name: &[u8],
        seen_time_ms: i64,
        active_time_ms: Option<i64>,
        pending: u64,
    ) {
    }
    /// An id pending for the current consumer.
    fn consumer_pending(&mut self, id: StreamId) {}
    /// An id in the current group's NACK zone (type 27): pending in the
    /// group (reported by [`StreamVisitor::group_pending`]), owned by no
    /// consumer, released for re-delivery. Reported after the consumers.
    fn nacked(&mut self, id: StreamId) {}
}

/// A visitor that ignores everything.
impl StreamVisitor for () {}

fn version_of(vt: ValueType) -> u8 {
    match vt {
        ValueType::StreamListpacks => 1,
        ValueType::StreamListpacks2 => 2,
        ValueType::StreamListpacks3 => 3,
        ValueType::StreamListpacks4 => 4,
        _ => 5,
    }
}

fn read_id(cur: &mut Cursor<'_>, what: &'static str) -> Result<StreamId> {
    Ok(StreamId {
        ms: cur.len(what)?,
        seq: cur.len(what)?,
    })
}

fn raw_id(cur: &mut Cursor<'_>) -> Result<StreamId> {
    let b = cur.array::<16>("a raw stream id")?;
    let (ms, seq) = b.split_at(8);
    Ok(StreamId {
        ms: u64::from_be_bytes(ms.try_into().unwrap_or_default()),
        seq: u64::from_be_bytes(seq.try_into().unwrap_or_default()),
    })
}

/// Reads the metadata that follows the nodes (cursor after the nodes).
fn read_tail_meta(cur: &mut Cursor<'_>, vt: ValueType, nodes: u64) -> Result<StreamMeta> {
    let v = version_of(vt);
    let length = cur.len("a stream length")?;
    let last_id = read_id(cur, "a stream last id")?;
    let (first_id, max_deleted_id, entries_added) = if v >= 2 {
        (
            Some(read_id(cur, "a stream first id")?),
            Some(read_id(cur, "a stream max deleted id")?),
            Some(cur.len("a stream entries-added count")?),
        )
    } else {
        (None, None, None)
    };
    let groups = cur.count("a consumer group count", 3)?;
    Ok(StreamMeta {
        length,
        last_id,
        first_id,
        max_deleted_id,
        entries_added,
        nodes,
        groups,
    })
}

fn skip_nodes(cur: &mut Cursor<'_>) -> Result<u64> {
    let nodes = cur.count("a stream node count", 2)?;
    for _ in 0..nodes {
        RdbString::skip(cur, "a stream node key")?;
        RdbString::skip(cur, "a stream node listpack")?;
    }
    Ok(nodes)
}

/// Reads the metadata, skipping the nodes.
pub(crate) fn read_meta(cur: &mut Cursor<'_>, vt: ValueType) -> Result<StreamMeta> {
    let nodes = skip_nodes(cur)?;
    read_tail_meta(cur, vt, nodes)
}

/// Skips a whole stream value.
pub(crate) fn skip(cur: &mut Cursor<'_>, vt: ValueType) -> Result<()> {
    walk_groups(
        cur,
        vt,
        &mut Scratch::default(),
        &mut (),
        true,
        ReleaseBehind::new(None, 0),
    )
    .map(|_| ())
}

/// Walks groups after the metadata. With `skip_entries`, nodes are skipped.
fn walk_groups(
    cur: &mut Cursor<'_>,
    vt: ValueType,
    scratch: &mut Scratch,
    visitor: &mut impl StreamVisitor,
    skip_entries: bool,
    behind: ReleaseBehind<'_>,
) -> Result<StreamMeta> {
    let nodes = if skip_entries {
        skip_nodes(cur)?
    } else {
        walk_nodes(cur, scratch, visitor, behind)?
    };
    let meta = read_tail_meta(cur, vt, nodes)?;
    let v = version_of(vt);
    for _ in 0..meta.groups {
        let name = RdbString::read(cur, "a consumer group name")?;
        let last_id = read_id(cur, "a consumer group last id")?;
        // Redis writes -1 (as a 64-bit length) when the count is unknown.
        let entries_read = if v >= 2 {
            Some(cur.len("a consumer group entries-read count")? as i64).filter(|&n| n >= 0)
        } else {
            None
        };
        let pel = cur.count("a pending entries count", 17)?;
        if !skip_entries {
            visitor.group(name.bytes(&mut scratch.a)?, last_id, entries_read, pel);
        }
        for _ in 0..pel {
            let id = raw_id(cur)?;
            let delivery_time = cur.i64_le("a pending entry delivery time")?;
            let delivery_count = cur.len("a pending entry delivery count")?;
            if !skip_entries {
                visitor.group_pending(id, delivery_time, delivery_count);
            }
        }
        let consumers = cur.count("a consumer count", 10)?;
        for _ in 0..consumers {
            let cname = RdbString::read(cur, "a consumer name")?;
            let seen = cur.i64_le("a consumer seen time")?;
            let active = if v >= 3 {
                Some(cur.i64_le("a consumer active time")?)
            } else {
                None
            };
            let cpel = cur.count("a consumer pending count", 16)?;
            if !skip_entries {
                visitor.consumer(cname.bytes(&mut scratch.a)?, seen, active, cpel);
            }
            for _ in 0..cpel {
                let id = raw_id(cur)?;
                if !skip_entries {
                    visitor.consumer_pending(id);
                }
            }
        }
        if v >= 5 {
            let nacked = cur.count("a NACK zone length", 16)?;
            for _ in 0..nacked {
                let id = raw_id(cur)?;
                if !skip_entries {
                    visitor.nacked(id);
                }
            }
        }
    }
    if v >= 4 {
        skip_idmp(cur)?;
    }
    Ok(meta)
}

/// Redis 8.6 idempotent-producer state: settings, producers with their
/// recent ids, and counters. Skipped (it holds no entries).
fn skip_idmp(cur: &mut Cursor<'_>) -> Result<()> {
    cur.len("an IDMP duration")?;
    cur.len("an IDMP max entries")?;
    let producers = cur.count("an IDMP producer count", 2)?;
    for _ in 0..producers {
        RdbString::skip(cur, "an IDMP producer id")?;
        let n = cur.count("an IDMP entry count", 3)?;
        for _ in 0..n {
            RdbString::skip(cur, "an IDMP idempotency id")?;
            cur.len("an IDMP stream id ms")?;
            cur.len("an IDMP stream id seq")?;
        }
    }
    cur.len("an IDMP ids-added count")?;
    cur.len("an IDMP duplicates count")?;
    Ok(())
}

/// Walks a whole stream value, reporting to `visitor`.
pub(crate) fn walk(
    cur: &mut Cursor<'_>,
    vt: ValueType,
    scratch: &mut Scratch,
    visitor: &mut impl StreamVisitor,
    behind: ReleaseBehind<'_>,
) -> Result<StreamMeta> {
    walk_groups(cur, vt, scratch, visitor, false, behind)
}

fn walk_nodes(
    cur: &mut Cursor<'_>,
    scratch: &mut Scratch,
    visitor: &mut impl StreamVisitor,
    mut behind: ReleaseBehind<'_>,
) -> Result<u64> {
    let nodes = cur.count("a stream node count", 2)?;
    for _ in 0..nodes {
        behind.at(cur.offset());
        let key_at = cur.offset();
        let key = RdbString::read(cur, "a stream node key")?;
        let key = key.bytes(&mut scratch.b)?;
        if key.len() != 16 {
            return Err(Error::malformed(
                "a 16-byte stream node key",
                key_at,
                Some(key.len() as u64),
            ));
        }
        let master = StreamId {
            ms: u64::from_be_bytes(key[..8].try_into().unwrap_or_default()),
            seq: u64::from_be_bytes(key[8..].try_into().unwrap_or_default()),
        };
        let lp_at = cur.offset();
        let lp = RdbString::read(cur, "a stream node listpack")?;
        let (blob_at, compressed) = match lp {
            RdbString::Raw(b) => (cur.offset() - b.len() as u64, false),
            RdbString::Lzf { offset, .. } => (offset, true),
            RdbString::Int(_) => {
                return Err(Error::malformed("a stream node listpack", lp_at, None))
            }
        };
        let blob = lp.bytes(&mut scratch.a)?;
        visitor.node(master, blob.len() as u64);
        walk_node(master, blob, visitor).map_err(|e| e.rebase(blob_at, compressed))?;
    }
    Ok(nodes)
}

fn next_int(items: &mut Listpack<'_>, what: &'static str) -> Result<i64> {
    let at = 0;
    match items.next_entry()? {
        Some(s) => s.as_int().ok_or_else(|| Error::malformed(what, at, None)),
        None => Err(Error::malformed(what, at, None)),
    }
}

fn next_item<'b>(items: &mut Listpack<'b>, what: &'static str) -> Result<Scalar<'b>> {
    items
        .next_entry()?
        .ok_or_else(|| Error::malformed(what, 0, None))
}

fn walk_node(master: StreamId, blob: &[u8], visitor: &mut impl StreamVisitor) -> Result<()> {
    let mut items = Listpack::new(blob)?;
    let _count = next_int(&mut items, "a stream node entry count")?;
    let _deleted = next_int(&mut items, "a stream node deleted count")?;
    let nfields = next_int(&mut items, "a stream master field count")?;
    if nfields < 0 || nfields as usize > blob.len() {
        return Err(Error::malformed(
            "a stream master field count",
            0,
            Some(nfields as u64),
        ));
    }
    let mut master_fields = Vec::with_capacity(nfields as usize);
    for _ in 0..nfields {
        master_fields.push(next_item(&mut items, "a stream master field")?);
    }
    if next_int(&mut items, "the stream master entry terminator (0)")? != 0 {
        return Err(Error::malformed(
            "the stream master entry terminator (0)",
            0,
            None,
        ));
    }
    let mut pairs: Vec<(Scalar<'_>, Scalar<'_>)> = Vec::with_capacity(master_fields.len());
    while let Some(flags) = items.next_entry()? {
        let flags = flags
            .as_int()
            .ok_or_else(|| Error::malformed("stream entry flags", 0, None))?;
        let ms_delta = next_int(&mut items, "a stream entry ms delta")?;
        let seq_delta = next_int(&mut items, "a stream entry seq delta")?;
        let id = StreamId {
            ms: master.ms.wrapping_add(ms_delta as u64),
            seq: master.seq.wrapping_add(seq_delta as u64),
        };
        pairs.clear();
        if flags & FLAG_SAMEFIELDS != 0 {
            for field in &master_fields {
                pairs.push((*field, next_item(&mut items, "a stream entry value")?));
            }
        } else {
            let n = next_int(&mut items, "a stream entry field count")?;
            if n < 0 || n as usize > blob.len() {
                return Err(Error::malformed(
                    "a stream entry field count",
                    0,
                    Some(n as u64),
                ));
            }
            for _ in 0..n {
                let f = next_item(&mut items, "a stream entry field")?;
                let v = next_item(&mut items, "a stream entry value")?;
                pairs.push((f, v));
            }
        }
        let _lp_count = next_int(&mut items, "a stream entry item count")?;
        if flags & FLAG_DELETED == 0 {
            visitor.entry(id, &pairs);
        }
    }
    Ok(())
}
