//! Fuzz target: the full walk of tests/corpus/walk.rs on arbitrary bytes.
//!
//! Input that starts with `REDIS` or `VALKEY` (a corpus file) is used as is;
//! otherwise its first byte picks a header to put in front of the rest, so
//! random bytes get past the magic and the version into the records.
//!
//! Besides "no panic", it checks what can always be checked:
//! * on input that parses, the parser's accessors agree with one another
//!   (`element_count` against the elements walked, `stream_meta` against the
//!   stream walk, string lengths against their bytes);
//! * reading the file cut into chunks gives the same records as one pass;
//! * each value that parses, made a `DUMP` payload, reads back the same
//!   with `restore::payload_value` (and the raw input, as a payload, never
//!   panics it);
//! * each value `reencode::plain_payload` re-encodes for RDB 9 reads back
//!   as the same string or elements.

#![no_main]

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use libfuzzer_sys::fuzz_target;
use rdb_parser::reencode::{plain_payload, Reencoded};
use rdb_parser::restore::{payload_value, restore_payload};
use rdb_parser::{
    ChecksumStatus, Element, Entry, Error, ErrorKind, Kind, Magic, Rdb, RdbString, Record, Records,
    Result, Scalar, Scratch, StreamId, StreamVisitor,
};

const HEADERS: [&[u8]; 8] = [
    b"",
    b"REDIS0011",
    b"REDIS0009",
    b"REDIS0003",
    b"REDIS0012",
    b"REDIS0010",
    b"VALKEY080",
    b"REDIS0007",
];

fuzz_target!(|data: &[u8]| {
    // The bytes as a `DUMP` payload: an error or a value, never a panic.
    let _ = payload_value(data);
    if data.starts_with(b"REDIS") || data.starts_with(b"VALKEY") {
        check(data);
    } else if let Some((&pick, rest)) = data.split_first() {
        let input = [HEADERS[usize::from(pick) % HEADERS.len()], rest].concat();
        check(&input);
    }
});

/// A value's string or elements as bytes (scores by their bits), or its
/// error.
fn contents(v: &rdb_parser::Value<'_>) -> Result<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    if v.kind() == Kind::String {
        let mut buf = Vec::new();
        out.push(v.as_string()?.bytes(&mut buf)?.to_vec());
        return Ok(out);
    }
    let b = |s: Scalar<'_>| s.with_bytes(<[u8]>::to_vec);
    v.for_each_element(&mut Scratch::new(), |e| match e {
        Element::Member(m) => out.push(b(m)),
        Element::Scored { member, score } => {
            out.push(b(member));
            out.push(score.to_bits().to_le_bytes().to_vec());
        }
        Element::Field { field, value, .. } => {
            out.push(b(field));
            out.push(b(value));
        }
    })?;
    Ok(out)
}

fn check(input: &[u8]) {
    let whole = walk(input);
    if let Ok(records) = &whole {
        // A file that reads in one pass reads the same in chunks.
        let rdb = Rdb::new(input).expect("the header parsed once");
        for target in [1u64, 64] {
            let chunks = rdb
                .chunks(target)
                .expect("the chunk scan of a file that parses");
            let mut got = Vec::new();
            for c in &chunks {
                got.extend(
                    walk_records(input, &rdb, rdb.chunk_records(c), Some(c.last))
                        .expect("a chunk of a file that parses"),
                );
            }
            assert_eq!(
                &got, records,
                "chunks of {target} bytes differ from one pass"
            );
        }
    }
}

/// Hashes of every record (with everything decoded from it), or the first error.
fn walk(input: &[u8]) -> Result<Vec<u64>> {
    let rdb = Rdb::new(input)?;
    walk_records(input, &rdb, rdb.records(), None)
}

fn walk_records(
    input: &[u8],
    rdb: &Rdb<'_>,
    records: Records<'_>,
    last: Option<bool>,
) -> Result<Vec<u64>> {
    let mut out = Vec::new();
    let mut scratch = Scratch::new();
    let mut buf = Vec::new();
    let mut eof = false;
    for r in records {
        let mut h = DefaultHasher::new();
        match r? {
            Record::Entry(e) => {
                decode_entry(&e, &mut scratch, &mut buf, &mut h).map_err(|err| {
                    match e.key.bytes(&mut buf) {
                        Ok(k) => err.with_key(k),
                        Err(_) => err,
                    }
                })?;
                (
                    e.db,
                    e.expire_at_ms,
                    e.idle_seconds,
                    e.lfu_freq,
                    e.record_start,
                    e.record_end,
                )
                    .hash(&mut h);
                assert!(e.record_start < e.record_end && e.record_end <= input.len() as u64);
                // The value as a `DUMP` payload reads back the same, in place
                // (where the magic and the version agree on the dialect).
                if (rdb.magic() == Magic::Valkey) == (rdb.version() >= 80) {
                    let p = restore_payload(e.value_type().byte(), e.value.raw(), rdb.version());
                    let v = payload_value(&p).expect("the payload of a value that parsed");
                    assert_eq!(
                        (v.value_type(), v.raw()),
                        (e.value.value_type(), e.value.raw())
                    );
                }
                // Re-encoded in plain types for RDB 9, it holds the same.
                let mut plain = Vec::new();
                if let Ok(Reencoded::Payload) =
                    plain_payload(&e.value, 9, &mut Scratch::new(), &mut plain)
                {
                    let back = payload_value(&plain).expect("a re-encoded payload");
                    assert_eq!(back.kind(), e.value.kind());
                    assert_eq!(contents(&back), contents(&e.value));
                }
            }
            Record::Aux { name, value } => {
                string(&name, &mut buf, &mut h)?;
                string(&value, &mut buf, &mut h)?;
            }
            Record::Function { name, code, pre_ga } => {
                pre_ga.hash(&mut h);
                if let Some(name) = name {
                    string(&name, &mut buf, &mut h)?;
                }
                string(&code, &mut buf, &mut h)?;
            }
            Record::SlotImport { job_name, ranges } => {
                string(&job_name, &mut buf, &mut h)?;
                ranges.hash(&mut h);
            }
            Record::ModuleAux { module, when } => {
                (module.name(), module.encoding_version(), when).hash(&mut h)
            }
            Record::Eof {
                offset,
                stored_checksum,
                trailing_bytes,
            } => {
                eof = true;
                (offset, stored_checksum, trailing_bytes).hash(&mut h);
                if let ChecksumStatus::Mismatch { stored, computed } =
                    rdb.checksum_status(offset, stored_checksum)
                {
                    return Err(Error::new(
                        ErrorKind::ChecksumMismatch { stored, computed },
                        offset + 1,
                    ));
                }
            }
            other => format!("{other:?}").hash(&mut h),
        }
        out.push(h.finish());
    }
    if !eof && last != Some(false) {
        return Err(Error::new(
            ErrorKind::Malformed {
                expected: "an EOF record",
                found: None,
            },
            input.len() as u64,
        ));
    }
    Ok(out)
}

fn string(s: &RdbString<'_>, buf: &mut Vec<u8>, h: &mut DefaultHasher) -> Result<u64> {
    let b = s.bytes(buf)?;
    b.hash(h);
    assert_eq!(b.len() as u64, s.len(), "string length");
    Ok(b.len() as u64)
}

fn hash_scalar(h: &mut DefaultHasher, s: &Scalar<'_>) {
    match s {
        Scalar::Int(i) => (0u8, *i).hash(h),
        Scalar::Bytes(b) => (1u8, *b).hash(h),
    }
}

struct Visitor<'h> {
    h: &'h mut DefaultHasher,
    groups: u64,
}

impl StreamVisitor for Visitor<'_> {
    fn entry(&mut self, id: StreamId, fields: &[(Scalar<'_>, Scalar<'_>)]) {
        id.hash(self.h);
        for (f, v) in fields {
            hash_scalar(self.h, f);
            hash_scalar(self.h, v);
        }
    }
    fn group(&mut self, name: &[u8], last_id: StreamId, entries_read: Option<i64>, pending: u64) {
        self.groups += 1;
        (name, last_id, entries_read, pending).hash(self.h);
    }
    fn group_pending(&mut self, id: StreamId, delivery_time_ms: i64, delivery_count: u64) {
        (id, delivery_time_ms, delivery_count).hash(self.h);
    }
    fn consumer(
        &mut self,
        name: &[u8],
        seen_time_ms: i64,
        active_time_ms: Option<i64>,
        pending: u64,
    ) {
        (name, seen_time_ms, active_time_ms, pending).hash(self.h);
    }
    fn consumer_pending(&mut self, id: StreamId) {
        id.hash(self.h);
    }
}

fn decode_entry(
    e: &Entry<'_>,
    scratch: &mut Scratch,
    buf: &mut Vec<u8>,
    h: &mut DefaultHasher,
) -> Result<()> {
    string(&e.key, buf, h)?;
    e.value_type().hash(h);
    let v = &e.value;
    let counted = v.element_count(scratch)?;
    match e.kind() {
        Kind::String => {
            let n = string(&v.as_string()?, buf, h)?;
            assert_eq!(n, counted, "element_count of a string");
        }
        Kind::Stream => {
            let mut visitor = Visitor { h, groups: 0 };
            let meta = v.walk_stream(scratch, &mut visitor)?;
            assert_eq!(meta.groups, visitor.groups, "groups walked");
            assert_eq!(v.stream_meta()?, meta, "stream_meta against the walk");
            assert_eq!(counted, meta.length, "element_count of a stream");
        }
        Kind::Module => {
            let id = v.module_id()?;
            (id.name(), id.encoding_version(), v.raw()).hash(h);
        }
        Kind::Array => {
            let mut n = 0u64;
            let head = v.walk_array(scratch, |i, item| {
                n += 1;
                i.hash(h);
                let mut b = Vec::new();
                item.push_to(&mut b);
                b.hash(h);
            })?;
            assert_eq!(n, counted, "element_count of an array");
            assert_eq!(head.count, counted, "array header count");
        }
        _ => {
            let mut n = 0u64;
            v.for_each_element(scratch, |el| {
                n += 1;
                match el {
                    Element::Member(m) => hash_scalar(h, &m),
                    Element::Scored { member, score } => {
                        hash_scalar(h, &member);
                        score.to_bits().hash(h);
                    }
                    Element::Field {
                        field,
                        value,
                        expire_at_ms,
                    } => {
                        hash_scalar(h, &field);
                        hash_scalar(h, &value);
                        expire_at_ms.hash(h);
                    }
                }
            })?;
            assert_eq!(
                n,
                counted,
                "element_count against the elements walked ({:?})",
                e.value_type()
            );
        }
    }
    Ok(())
}
