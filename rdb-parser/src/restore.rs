//! Writing values back to a server: as a `RESTORE` payload (the value's
//! serialized bytes exactly as the file holds them, with the trailer `DUMP`
//! adds), or as plain commands (`SET`, `RPUSH`, `SADD`, `ZADD`, `HSET`,
//! `XADD`, `ARMSET`…) for a server too old for the file's format.
//!
//! ```
//! use rdb_parser::restore::{payload_version, restore_payload};
//!
//! let p = restore_payload(0, &[0x01, b'v'], 10);
//! assert_eq!(payload_version(&p), Some(10));
//! ```

use crate::crc64;
use crate::cursor::Cursor;
use crate::error::{Error, ErrorKind, Result};
use crate::mmap::ReleaseBehind;
use crate::string::Scalar;
use crate::types::{Kind, Magic, ValueType, NEWEST_REDIS_VERSION};
use crate::value::{skip_value, Element, Scratch, StreamId, StreamVisitor, Value};

/// A `DUMP`/`RESTORE` payload: type byte, value, RDB version (u16 LE),
/// CRC64 (LE) of everything before it.
pub fn restore_payload(type_byte: u8, value: &[u8], rdb_version: u32) -> Vec<u8> {
    let mut p = Vec::with_capacity(value.len() + 11);
    p.push(type_byte);
    p.extend_from_slice(value);
    p.extend_from_slice(&(rdb_version.min(u32::from(u16::MAX)) as u16).to_le_bytes());
    let crc = crc64::checksum(&p);
    p.extend_from_slice(&crc.to_le_bytes());
    p
}

/// The RDB version a payload says it was written with, if its checksum
/// holds (a zero checksum is accepted, as servers do).
pub fn payload_version(payload: &[u8]) -> Option<u32> {
    if payload.len() < 11 {
        return None;
    }
    let (body, crc) = payload.split_at(payload.len() - 8);
    let stored = u64::from_le_bytes(crc.try_into().ok()?);
    if stored != 0 && stored != crc64::checksum(body) {
        return None;
    }
    let v = &body[body.len() - 2..];
    Some(u32::from(u16::from_le_bytes([v[0], v[1]])))
}

/// The value a `DUMP` payload holds, read where it lies (no copy), once its
/// trailer holds (see [`payload_version`]) and its bytes are exactly one
/// value of its type. Offsets in errors count from the payload's start.
pub fn payload_value(payload: &[u8]) -> Result<Value<'_>> {
    let version = payload_version(payload).ok_or_else(|| {
        Error::malformed(
            "a DUMP payload's trailer: RDB version (2 bytes) and its CRC64 (8 bytes)",
            payload.len().saturating_sub(10) as u64,
            None,
        )
    })?;
    payload_value_of(payload, version)
}

/// [`payload_value`] of a payload whose trailer the caller has checked
/// already ([`payload_version`] gave `version`), so its CRC64 is not
/// computed again. A payload of RDB version 80 or more is Valkey's, whose
/// type byte 22 is its hash with field expiries (Redis's versions are far
/// below).
pub fn payload_value_of(payload: &[u8], version: u32) -> Result<Value<'_>> {
    if payload.len() < 11 {
        return Err(Error::truncated(
            "a DUMP payload: a type byte, a value and a trailer of 10 bytes",
            0,
            11,
            payload.len() as u64,
        ));
    }
    let magic = if version >= 80 {
        Magic::Valkey
    } else {
        Magic::Redis
    };
    let body = &payload[..payload.len() - 10];
    let Some(vt) = ValueType::from_byte(body[0], magic) else {
        return Err(Error::new(ErrorKind::UnknownValueType(body[0]), 0));
    };
    let mut cur = Cursor::new(&body[1..], 1);
    skip_value(&mut cur, vt, &mut ReleaseBehind::new(None, 1))?;
    if !cur.is_empty() {
        return Err(Error::malformed(
            "the end of the payload's value (its trailer)",
            cur.offset(),
            None,
        ));
    }
    Ok(Value::new(vt, &body[1..], 1, None))
}

/// A one-key RDB file (db 0, key `k`) holding a payload's value, so that
/// `Rdb` can read what `DUMP` returned. None if the payload's
/// trailer is bad.
pub fn payload_as_rdb(payload: &[u8]) -> Option<Vec<u8>> {
    let version = payload_version(payload)?;
    let body = &payload[..payload.len() - 10];
    let mut f = format!("REDIS{:04}", version.min(9999)).into_bytes();
    f.extend_from_slice(&[0xfe, 0x00, body[0], 0x01, b'k']);
    f.extend_from_slice(&body[1..]);
    f.push(0xff);
    f.extend_from_slice(&[0; 8]);
    Some(f)
}

/// Receives commands as they are produced.
pub trait CommandSink {
    /// One command, name first.
    fn command(&mut self, args: &[&[u8]]);
}

/// How commands are produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommandOptions {
    /// A variadic command (`RPUSH`, `HSET`…) is cut after this many
    /// arguments…
    pub max_args: usize,
    /// …or once its arguments hold this many bytes.
    pub max_bytes: usize,
    /// The server knows the stream fields of Redis 7.0 (`XSETID …
    /// ENTRIESADDED … MAXDELETEDID`, `XGROUP CREATE … ENTRIESREAD`).
    pub streams_v2: bool,
    /// The RDB version of module payloads (written with `RESTORE`).
    pub rdb_version: u32,
}

impl Default for CommandOptions {
    fn default() -> CommandOptions {
        CommandOptions {
            max_args: 1024,
            max_bytes: 1 << 20,
            streams_v2: true,
            rdb_version: NEWEST_REDIS_VERSION,
        }
    }
}

/// A sorted-set score as `ZADD` takes it (round-trips exactly).
pub fn format_score(v: f64) -> String {
    if v.is_infinite() {
        return if v > 0.0 {
            "+inf".into()
        } else {
            "-inf".into()
        };
    }
    let a = v.abs();
    if a != 0.0 && !(1e-5..1e17).contains(&a) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

/// Arguments of a variadic command, sent as one command per batch: their
/// bytes end to end in one buffer and where each ends (no allocation per
/// argument).
struct Batch<'k> {
    cmd: &'static [u8],
    key: &'k [u8],
    buf: Vec<u8>,
    ends: Vec<usize>,
    opts: CommandOptions,
}

impl<'k> Batch<'k> {
    fn new(cmd: &'static [u8], key: &'k [u8], opts: &CommandOptions) -> Batch<'k> {
        Batch {
            cmd,
            key,
            buf: Vec::new(),
            ends: Vec::new(),
            opts: *opts,
        }
    }

    fn arg(&mut self, a: &[u8]) {
        self.buf.extend_from_slice(a);
        self.ends.push(self.buf.len());
    }

    fn scalar(&mut self, s: Scalar<'_>) {
        s.with_bytes(|b| self.arg(b));
    }

    /// Flushes at a boundary between whole members (`whole` args each).
    fn flush_if_full(&mut self, sink: &mut dyn CommandSink) {
        if self.ends.len() >= self.opts.max_args || self.buf.len() >= self.opts.max_bytes {
            self.flush(sink);
        }
    }

    fn flush(&mut self, sink: &mut dyn CommandSink) {
        if self.ends.is_empty() {
            return;
        }
        let mut all: Vec<&[u8]> = Vec::with_capacity(self.ends.len() + 2);
        all.push(self.cmd);
        all.push(self.key);
        let mut start = 0;
        for &end in &self.ends {
            all.push(&self.buf[start..end]);
            start = end;
        }
        sink.command(&all);
        self.buf.clear();
        self.ends.clear();
    }
}

/// Writes `value` under `key` as commands (no expire: the caller adds
/// `PEXPIREAT`). Returns false for an empty collection, which servers
/// refuse to create (nothing is written then).
pub fn value_commands(
    value: &Value<'_>,
    key: &[u8],
    scratch: &mut Scratch,
    opts: &CommandOptions,
    sink: &mut dyn CommandSink,
) -> Result<bool> {
    match value.kind() {
        Kind::String => {
            let s = value.as_string()?;
            let mut buf = Vec::new();
            let b = s.bytes(&mut buf)?;
            sink.command(&[b"SET", key, b]);
            Ok(true)
        }
        Kind::Module => {
            let payload = restore_payload(value.value_type().byte(), value.raw(), opts.rdb_version);
            sink.command(&[b"RESTORE", key, b"0", &payload, b"REPLACE"]);
            Ok(true)
        }
        Kind::Stream => stream_commands(value, key, scratch, opts, sink),
        Kind::Array => array_commands(value, key, scratch, opts, sink),
        _ => collection_commands(value, key, scratch, opts, sink),
    }
}

fn collection_commands(
    value: &Value<'_>,
    key: &[u8],
    scratch: &mut Scratch,
    opts: &CommandOptions,
    sink: &mut dyn CommandSink,
) -> Result<bool> {
    let cmd: &'static [u8] = match value.kind() {
        Kind::List => b"RPUSH",
        Kind::Set => b"SADD",
        Kind::Zset => b"ZADD",
        _ => b"HSET",
    };
    let mut batch = Batch::new(cmd, key, opts);
    let mut field_ttls: Vec<(Vec<u8>, i64)> = Vec::new();
    let mut any = false;
    value.for_each_element(scratch, |el| {
        any = true;
        match el {
            Element::Member(m) => batch.scalar(m),
            Element::Scored { member, score } => {
                if score.is_nan() {
                    return; // ZADD refuses NaN; Redis never stores it.
                }
                batch.arg(format_score(score).as_bytes());
                batch.scalar(member);
            }
            Element::Field {
                field,
                value,
                expire_at_ms,
            } => {
                batch.scalar(field);
                batch.scalar(value);
                if let Some(t) = expire_at_ms {
                    let mut f = Vec::new();
                    field.push_to(&mut f);
                    field_ttls.push((f, t));
                }
            }
        }
        batch.flush_if_full(sink);
    })?;
    batch.flush(sink);
    for (field, t) in field_ttls {
        sink.command(&[
            b"HPEXPIREAT",
            key,
            t.to_string().as_bytes(),
            b"FIELDS",
            b"1",
            &field,
        ]);
    }
    Ok(any)
}

/// A sparse array (Redis 8.8): `ARMSET key idx value …` in batches, then
/// `ARSEEK key insert_idx+1` when the file has an insert index (redis/redis
/// `src/t_array.c`: `ARSEEK idx` sets the insert index to `idx - 1`).
fn array_commands(
    value: &Value<'_>,
    key: &[u8],
    scratch: &mut Scratch,
    opts: &CommandOptions,
    sink: &mut dyn CommandSink,
) -> Result<bool> {
    let mut batch = Batch::new(b"ARMSET", key, opts);
    let mut text = Vec::new();
    let header = value.walk_array(scratch, |idx, item| {
        batch.arg(idx.to_string().as_bytes());
        text.clear();
        item.push_to(&mut text);
        batch.arg(&text);
        batch.flush_if_full(sink);
    })?;
    batch.flush(sink);
    if let Some(next) = header.insert_idx.and_then(|i| i.checked_add(1)) {
        sink.command(&[b"ARSEEK", key, next.to_string().as_bytes()]);
    }
    Ok(true)
}

struct GroupState {
    name: Vec<u8>,
    last_id: StreamId,
    entries_read: Option<i64>,
    pending: Vec<(StreamId, i64, u64)>,
    consumers: Vec<(Vec<u8>, Vec<StreamId>)>,
    nacked: Vec<StreamId>,
}

/// Sends `XADD` commands as entries are walked and gathers groups, which
/// need the pending entries matched to consumers.
struct StreamWriter<'s, 'k> {
    sink: &'s mut dyn CommandSink,
    key: &'k [u8],
    groups: Vec<GroupState>,
    entries: u64,
}

impl StreamVisitor for StreamWriter<'_, '_> {
    fn entry(&mut self, id: StreamId, fields: &[(Scalar<'_>, Scalar<'_>)]) {
        self.entries += 1;
        let idtxt = id.to_string();
        let mut owned: Vec<Vec<u8>> = Vec::with_capacity(fields.len() * 2);
        for (f, v) in fields {
            let mut a = Vec::new();
            f.push_to(&mut a);
            owned.push(a);
            let mut b = Vec::new();
            v.push_to(&mut b);
            owned.push(b);
        }
        let mut args: Vec<&[u8]> = vec![b"XADD", self.key, idtxt.as_bytes()];
        args.extend(owned.iter().map(Vec::as_slice));
        self.sink.command(&args);
    }

    fn group(&mut self, name: &[u8], last_id: StreamId, entries_read: Option<i64>, _pending: u64) {
        self.groups.push(GroupState {
            name: name.to_vec(),
            last_id,
            entries_read,
            pending: Vec::new(),
            consumers: Vec::new(),
            nacked: Vec::new(),
        });
    }

    fn group_pending(&mut self, id: StreamId, delivery_time_ms: i64, delivery_count: u64) {
        if let Some(g) = self.groups.last_mut() {
            g.pending.push((id, delivery_time_ms, delivery_count));
        }
    }

    fn consumer(&mut self, name: &[u8], _seen: i64, _active: Option<i64>, _pending: u64) {
        if let Some(g) = self.groups.last_mut() {
            g.consumers.push((name.to_vec(), Vec::new()));
        }
    }

    fn consumer_pending(&mut self, id: StreamId) {
        if let Some(c) = self.groups.last_mut().and_then(|g| g.consumers.last_mut()) {
            c.1.push(id);
        }
    }

    fn nacked(&mut self, id: StreamId) {
        if let Some(g) = self.groups.last_mut() {
            g.nacked.push(id);
        }
    }
}

/// `XCLAIM` of one pending entry to `consumer`, with its delivery time and
/// count.
fn claim(sink: &mut dyn CommandSink, key: &[u8], g: &GroupState, consumer: &[u8], id: StreamId) {
    let Some(p) = g.pending.iter().find(|p| p.0 == id) else {
        return;
    };
    sink.command(&[
        b"XCLAIM",
        key,
        &g.name,
        consumer,
        b"0",
        id.to_string().as_bytes(),
        b"TIME",
        p.1.to_string().as_bytes(),
        b"RETRYCOUNT",
        p.2.to_string().as_bytes(),
        b"FORCE",
        b"JUSTID",
    ]);
}

/// The NACK zone (type 27): entries pending in the group but owned by no
/// consumer. `XNACK` (Redis 8.8) releases only pending entries, so each is
/// claimed by a temporary consumer, released with `XNACK … FAIL IDS 1 id
/// RETRYCOUNT n` (keeping its delivery count), and the consumer removed.
fn nack_commands(sink: &mut dyn CommandSink, key: &[u8], g: &GroupState) {
    if g.nacked.is_empty() {
        return;
    }
    let tmp: &[u8] = b"rdbscope-nack";
    sink.command(&[b"XGROUP", b"CREATECONSUMER", key, &g.name, tmp]);
    for &id in &g.nacked {
        claim(sink, key, g, tmp, id);
        let count = g
            .pending
            .iter()
            .find(|p| p.0 == id)
            .map_or(0, |p| p.2)
            .to_string();
        sink.command(&[
            b"XNACK",
            key,
            &g.name,
            b"FAIL",
            b"IDS",
            b"1",
            id.to_string().as_bytes(),
            b"RETRYCOUNT",
            count.as_bytes(),
        ]);
    }
    sink.command(&[b"XGROUP", b"DELCONSUMER", key, &g.name, tmp]);
}

fn stream_commands(
    value: &Value<'_>,
    key: &[u8],
    scratch: &mut Scratch,
    opts: &CommandOptions,
    sink: &mut dyn CommandSink,
) -> Result<bool> {
    let mut w = StreamWriter {
        sink,
        key,
        groups: Vec::new(),
        entries: 0,
    };
    let meta = value.walk_stream(scratch, &mut w)?;
    let StreamWriter {
        sink,
        groups,
        entries,
        ..
    } = w;
    if entries == 0 {
        // Create the stream empty without touching its ids: a temporary
        // group with MKSTREAM (an XADD + XDEL would leave a max deleted id).
        sink.command(&[
            b"XGROUP",
            b"CREATE",
            key,
            b"rdbscope-tmp",
            b"$",
            b"MKSTREAM",
        ]);
        sink.command(&[b"XGROUP", b"DESTROY", key, b"rdbscope-tmp"]);
    }
    let last = meta.last_id.to_string();
    let zero = StreamId::default();
    match (meta.entries_added, meta.max_deleted_id) {
        (Some(0), Some(maxdel)) if meta.last_id == zero && maxdel == zero => {}
        (Some(added), Some(maxdel)) if opts.streams_v2 => sink.command(&[
            b"XSETID",
            key,
            last.as_bytes(),
            b"ENTRIESADDED",
            added.to_string().as_bytes(),
            b"MAXDELETEDID",
            maxdel.to_string().as_bytes(),
        ]),
        _ if meta.last_id == zero => {}
        _ => sink.command(&[b"XSETID", key, last.as_bytes()]),
    }
    for g in groups {
        let gid = g.last_id.to_string();
        match g.entries_read {
            Some(n) if opts.streams_v2 => sink.command(&[
                b"XGROUP",
                b"CREATE",
                key,
                &g.name,
                gid.as_bytes(),
                b"ENTRIESREAD",
                n.to_string().as_bytes(),
            ]),
            _ => sink.command(&[b"XGROUP", b"CREATE", key, &g.name, gid.as_bytes()]),
        }
        for (consumer, pending) in &g.consumers {
            sink.command(&[b"XGROUP", b"CREATECONSUMER", key, &g.name, consumer]);
            for &id in pending {
                claim(sink, key, &g, consumer, id);
            }
        }
        nack_commands(sink, key, &g);
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_roundtrip() {
        let p = restore_payload(0, &[0x01, b'v'], 9);
        assert_eq!(payload_version(&p), Some(9));
        let mut bad = p.clone();
        bad[1] ^= 1;
        assert_eq!(payload_version(&bad), None);
        let file = payload_as_rdb(&p).unwrap();
        let rdb = crate::reader::Rdb::new(&file).unwrap();
        let e = rdb.entries().next().unwrap().unwrap();
        assert_eq!(e.value.as_string().unwrap().as_raw().unwrap(), b"v");
        let mut out = Vec::new();
        struct Collect<'a>(&'a mut Vec<Vec<Vec<u8>>>);
        impl CommandSink for Collect<'_> {
            fn command(&mut self, args: &[&[u8]]) {
                self.0.push(args.iter().map(|a| a.to_vec()).collect());
            }
        }
        let wrote = value_commands(
            &e.value,
            b"key",
            &mut Scratch::new(),
            &CommandOptions::default(),
            &mut Collect(&mut out),
        )
        .unwrap();
        assert!(wrote);
        assert_eq!(
            out,
            vec![vec![b"SET".to_vec(), b"key".to_vec(), b"v".to_vec()]]
        );
    }

    /// What `payload_value` reads is what the same payload read as a
    /// one-key file gives; a bad trailer, a value cut short or followed by
    /// more bytes, and an unknown type byte are errors at their offsets.
    #[test]
    fn payload_value_in_place() {
        // A list in the oldest encoding (type 1): a length, then each
        // element as a length-prefixed string.
        let raw = [3, 1, b'a', 2, b'b', b'b', 5, b'1', b'2', b'3', b'4', b'5'];
        let p = restore_payload(1, &raw, 11);
        let file = payload_as_rdb(&p).unwrap();
        let rdb = crate::reader::Rdb::new(&file).unwrap();
        let e = rdb.entries().next().unwrap().unwrap();
        let v = payload_value(&p).unwrap();
        assert_eq!(v.value_type(), e.value.value_type());
        assert_eq!(v.raw(), e.value.raw());
        let mut got = Vec::new();
        v.for_each_element(&mut Scratch::new(), |el| got.push(format!("{el:?}")))
            .unwrap();
        assert_eq!(got.len(), 3, "{got:?}");
        assert!(got[2].contains("[49, 50, 51, 52, 53]"), "{got:?}");

        let mut bad = p.clone();
        bad[2] ^= 1;
        let err = payload_value(&bad).unwrap_err();
        assert_eq!(err.offset(), (p.len() - 10) as u64, "{err}");
        assert!(err.to_string().contains("trailer"), "{err}");

        // One byte less of the value, the trailer made right again.
        let cut = restore_payload(p[0], &p[1..p.len() - 11], 11);
        assert!(payload_value(&cut).is_err());
        // One byte more.
        let mut longer = p[1..p.len() - 10].to_vec();
        longer.push(0);
        let more = restore_payload(p[0], &longer, 11);
        let err = payload_value(&more).unwrap_err();
        assert_eq!(err.offset(), (p.len() - 10) as u64, "{err}");
        // The version as the caller found it: the same value, its CRC64
        // not asked (a wrong one goes unseen).
        let mut wrong_crc = p.clone();
        *wrong_crc.last_mut().unwrap() ^= 1;
        assert!(payload_value(&wrong_crc).is_err());
        assert_eq!(
            payload_value_of(&wrong_crc, 11).unwrap().raw(),
            e.value.raw()
        );
        assert!(payload_value_of(&p[..10], 11).is_err());
        // Type byte 8 is no type.
        let err = payload_value(&restore_payload(8, &[0], 11)).unwrap_err();
        assert_eq!(err.offset(), 0);
        assert!(
            matches!(err.kind(), ErrorKind::UnknownValueType(8)),
            "{err}"
        );
    }

    #[test]
    fn scores() {
        assert_eq!(format_score(1.5), "1.5");
        assert_eq!(format_score(f64::INFINITY), "+inf");
        assert_eq!(format_score(1e300).parse::<f64>().unwrap(), 1e300);
    }
}
