//! `rdbscope dump`: every key as a JSON line, or as Redis commands.
//!
//! Chunks of whole records are formatted in parallel into per-chunk buffers
//! and written in file order, a bounded window of chunks at a time.

use std::io::{self, BufWriter, Write};

use rdb_parser::restore::{value_commands, CommandOptions, CommandSink};
use rdb_parser::{
    ChecksumStatus, Element, Entry, ErrorKind, Kind, Rdb, RdbString, Record, Records, Scalar,
    Scratch, StreamId, StreamMeta, StreamVisitor, ValueType, DEFAULT_CHUNK_BYTES,
};

use crate::args::{DumpArgs, DumpFormat};
use crate::glob::Glob;
use crate::input::{with_key, Input};
use crate::json;

/// Which keys to print.
pub(crate) struct Filter {
    pub(crate) db: Option<u64>,
    pub(crate) glob: Option<Glob>,
    pub(crate) kind: Option<Kind>,
}

impl Filter {
    fn keeps(&self, entry: &Entry<'_>, key: &[u8]) -> bool {
        self.db.is_none_or(|db| db == entry.db)
            && self.kind.is_none_or(|k| k == entry.kind())
            && self.glob.as_ref().is_none_or(|g| g.matches(key))
    }
}

/// Chunks larger than this (one huge record) are streamed, not buffered.
const STREAM_CHUNK_BYTES: u64 = 64 << 20;

/// A streaming formatter hands its buffer to the writer past this size.
const STREAM_FLUSH_BYTES: usize = 1 << 20;

struct ChunkOutput {
    bytes: Vec<u8>,
    eof: Option<(u64, Option<u64>)>,
    skipped_empty: u64,
}

pub(crate) fn run(a: DumpArgs) -> anyhow::Result<()> {
    crate::threads::init_threads(a.threads);
    let kind = match a.kind.as_deref() {
        None => None,
        Some(t) => Some(Kind::from_name(t).ok_or_else(|| {
            anyhow::anyhow!(
                "unknown --type {t:?}: use string, list, set, zset, hash, stream, module or array"
            )
        })?),
    };
    let filter = Filter {
        db: a.db,
        glob: a.pattern.as_deref().map(|p| Glob::new(p.as_bytes())),
        kind,
    };
    let input = Input::open(&a.file)?;
    let rdb = input.rdb()?;
    let chunks = rdb
        .chunks(DEFAULT_CHUNK_BYTES)
        .map_err(|e| input.error(e))?;
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 20, stdout.lock());
    let window = rayon::current_num_threads().max(1) * 2;
    let mut eof = None;
    let mut skipped_empty = 0;
    // Chunks are formatted in parallel into buffers, a window at a time; a
    // chunk holding a huge record is formatted alone and streamed, so no
    // buffer grows with a value's size.
    let huge = |c: &rdb_parser::Chunk| c.end - c.start > STREAM_CHUNK_BYTES;
    let mut i = 0;
    while i < chunks.len() {
        let outputs = if huge(&chunks[i]) {
            let o = format_chunk(
                &rdb,
                rdb.chunk_records(&chunks[i]),
                &filter,
                a.format,
                Some(&mut out),
            )
            .map_err(|e| input.error(e))?;
            i += 1;
            vec![o]
        } else {
            let start = i;
            while i < chunks.len() && i - start < window && !huge(&chunks[i]) {
                i += 1;
            }
            rdb.par_map_chunks(&chunks[start..i], |_, records| {
                format_chunk(&rdb, records, &filter, a.format, None)
            })
            .map_err(|e| input.error(e))?
        };
        for o in outputs {
            out.write_all(&o.bytes)?;
            eof = eof.or(o.eof);
            skipped_empty += o.skipped_empty;
        }
    }
    out.flush()?;
    if skipped_empty > 0 {
        eprintln!("rdbscope: {skipped_empty} empty collection(s) in the file were not written (Redis skips them on load too)");
    }
    if !a.no_checksum {
        if let Some((offset, stored)) = eof {
            if let ChecksumStatus::Mismatch { stored, computed } =
                rdb.checksum_status(offset, stored)
            {
                anyhow::bail!(
                    "{}: CRC64 mismatch: stored 0x{stored:016x}, computed 0x{computed:016x} (the file is corrupt; --no-checksum skips this check)",
                    input.path.display()
                );
            }
        }
    }
    Ok(())
}

fn format_chunk<'a>(
    rdb: &Rdb<'a>,
    records: Records<'a>,
    filter: &Filter,
    format: DumpFormat,
    stream: Option<&mut dyn Write>,
) -> rdb_parser::Result<ChunkOutput> {
    let mut f = Formatter {
        stream,
        stream_error: None,
        rdb_version: rdb.version(),
        strbuf: Vec::new(),
        scratch: Scratch::new(),
        out: Vec::new(),
        last_db: None,
        skipped_empty: 0,
    };
    let mut eof = None;
    let mut keybuf = Vec::new();
    for r in records {
        match r? {
            Record::Entry(e) => {
                let key = e.key.bytes(&mut keybuf)?;
                if !filter.keeps(&e, key) {
                    continue;
                }
                match format {
                    DumpFormat::Jsonl => f.jsonl(&e, key),
                    DumpFormat::Resp => f.resp(&e, key),
                }
                .map_err(|err| with_key(err, &e))?;
                f.spill();
                if let Some(err) = f.stream_error.take() {
                    return Err(rdb_parser::Error::new(
                        ErrorKind::Io(err.to_string()),
                        e.record_start,
                    ));
                }
            }
            Record::Eof {
                offset,
                stored_checksum,
                ..
            } => eof = Some((offset, stored_checksum)),
            _ => {}
        }
    }
    Ok(ChunkOutput {
        bytes: f.out,
        eof,
        skipped_empty: f.skipped_empty,
    })
}

struct Formatter<'w> {
    /// Where a huge chunk's output goes as it is made (None: buffer it all).
    stream: Option<&'w mut dyn Write>,
    stream_error: Option<io::Error>,
    rdb_version: u32,
    strbuf: Vec<u8>,
    scratch: Scratch,
    out: Vec<u8>,
    last_db: Option<u64>,
    skipped_empty: u64,
}

fn string_encoding(s: &RdbString<'_>) -> &'static str {
    match s {
        RdbString::Int(_) => "int",
        RdbString::Raw(_) => "raw",
        RdbString::Lzf { .. } => "lzf",
    }
}

fn push_id(out: &mut Vec<u8>, id: StreamId) {
    out.push(b'"');
    out.extend_from_slice(id.to_string().as_bytes());
    out.push(b'"');
}

fn push_scalar_json(out: &mut Vec<u8>, s: Scalar<'_>) {
    match s {
        Scalar::Int(i) => {
            out.push(b'"');
            rdb_parser::push_decimal(out, i);
            out.push(b'"');
        }
        Scalar::Bytes(b) => json::push_bytes(out, b),
    }
}

impl Formatter<'_> {
    /// Streams the buffer out when it is large (streaming formatters only).
    fn spill(&mut self) {
        spill(&mut self.out, &mut self.stream, &mut self.stream_error);
    }

    fn jsonl(&mut self, e: &Entry<'_>, key: &[u8]) -> rdb_parser::Result<()> {
        let out = &mut self.out;
        out.extend_from_slice(b"{\"db\":");
        out.extend_from_slice(e.db.to_string().as_bytes());
        out.extend_from_slice(b",\"key\":");
        json::push_bytes(out, key);
        out.extend_from_slice(b",\"type\":\"");
        out.extend_from_slice(e.kind().name().as_bytes());
        out.extend_from_slice(b"\",\"encoding\":\"");
        let enc = match e.value_type() {
            ValueType::String => string_encoding(&e.value.as_string()?),
            vt => vt.file_encoding(),
        };
        out.extend_from_slice(enc.as_bytes());
        out.extend_from_slice(b"\",\"expire_at_ms\":");
        json::push_opt_i64(out, e.expire_at_ms);
        // Redis Enterprise's per-key opcodes, only when the file has them.
        for (name, v) in [
            (&b",\"ram_lru\":"[..], e.enterprise.ram_lru),
            (&b",\"slot_num\":"[..], e.enterprise.slot_num),
        ] {
            if let Some(v) = v {
                out.extend_from_slice(name);
                out.extend_from_slice(v.to_string().as_bytes());
            }
        }
        out.extend_from_slice(b",\"value\":");
        match e.kind() {
            Kind::String => {
                let s = e.value.as_string()?;
                let b = s.bytes(&mut self.strbuf)?;
                json::push_bytes(&mut self.out, b);
            }
            Kind::Module => {
                let id = e.value.module_id()?;
                let out = &mut self.out;
                out.extend_from_slice(b"{\"module\":");
                json::push_str(out, &id.name());
                out.extend_from_slice(
                    format!(
                        ",\"encver\":{},\"rdb_bytes\":{}}}",
                        id.encoding_version(),
                        e.value.serialized_len()
                    )
                    .as_bytes(),
                );
            }
            Kind::Stream => {
                let mut w = JsonStream {
                    out: &mut self.out,
                    entries: 0,
                    groups: 0,
                    pending: 0,
                    consumers: 0,
                    cpending: 0,
                    nacked: 0,
                };
                w.out.extend_from_slice(b"{\"entries\":[");
                let meta = e.value.walk_stream(&mut self.scratch, &mut w)?;
                w.finish(&meta);
            }
            Kind::Array => {
                let out = &mut self.out;
                let (stream, error) = (&mut self.stream, &mut self.stream_error);
                let mut text = Vec::new();
                out.extend_from_slice(b"{\"elements\":[");
                let mut first = true;
                let h = e.value.walk_array(&mut self.scratch, |idx, item| {
                    spill(out, stream, error);
                    if !first {
                        out.push(b',');
                    }
                    first = false;
                    out.push(b'[');
                    out.extend_from_slice(idx.to_string().as_bytes());
                    out.push(b',');
                    text.clear();
                    item.push_to(&mut text);
                    json::push_bytes(out, &text);
                    out.push(b']');
                })?;
                out.extend_from_slice(b"],\"count\":");
                out.extend_from_slice(h.count.to_string().as_bytes());
                out.extend_from_slice(b",\"insert_idx\":");
                match h.insert_idx {
                    Some(i) => out.extend_from_slice(i.to_string().as_bytes()),
                    None => out.extend_from_slice(b"null"),
                }
                out.push(b'}');
            }
            _ => {
                let out = &mut self.out;
                let (stream, error) = (&mut self.stream, &mut self.stream_error);
                out.push(b'[');
                let mut first = true;
                e.value.for_each_element(&mut self.scratch, |el| {
                    spill(out, stream, error);
                    if !first {
                        out.push(b',');
                    }
                    first = false;
                    match el {
                        Element::Member(m) => push_scalar_json(out, m),
                        Element::Scored { member, score } => {
                            out.push(b'[');
                            push_scalar_json(out, member);
                            out.push(b',');
                            json::push_score(out, score);
                            out.push(b']');
                        }
                        Element::Field {
                            field,
                            value,
                            expire_at_ms,
                        } => {
                            out.push(b'[');
                            push_scalar_json(out, field);
                            out.push(b',');
                            push_scalar_json(out, value);
                            if let Some(t) = expire_at_ms {
                                out.push(b',');
                                out.extend_from_slice(t.to_string().as_bytes());
                            }
                            out.push(b']');
                        }
                    }
                })?;
                out.push(b']');
            }
        }
        self.out.extend_from_slice(b"}\n");
        Ok(())
    }

    fn resp(&mut self, e: &Entry<'_>, key: &[u8]) -> rdb_parser::Result<()> {
        let start = self.out.len();
        if self.last_db != Some(e.db) {
            resp_command(&mut self.out, &[b"SELECT", e.db.to_string().as_bytes()]);
            self.last_db = Some(e.db);
        }
        let opts = CommandOptions {
            rdb_version: self.rdb_version,
            ..CommandOptions::default()
        };
        let mut sink = RespSink {
            out: &mut self.out,
            stream: &mut self.stream,
            error: &mut self.stream_error,
        };
        let written = value_commands(&e.value, key, &mut self.scratch, &opts, &mut sink)?;
        if !written {
            // An empty collection: Redis refuses such commands and skips such keys on load.
            self.out.truncate(start);
            self.skipped_empty += 1;
            return Ok(());
        }
        if let Some(t) = e.expire_at_ms {
            resp_command(
                &mut self.out,
                &[b"PEXPIREAT", key, t.to_string().as_bytes()],
            );
        }
        Ok(())
    }
}

/// Encodes commands as RESP, streaming the buffer out when it grows large.
struct RespSink<'a, 'w> {
    out: &'a mut Vec<u8>,
    stream: &'a mut Option<&'w mut dyn Write>,
    error: &'a mut Option<io::Error>,
}

impl CommandSink for RespSink<'_, '_> {
    fn command(&mut self, args: &[&[u8]]) {
        spill(self.out, self.stream, self.error);
        resp_command(self.out, args);
    }
}

fn spill(out: &mut Vec<u8>, stream: &mut Option<&mut dyn Write>, error: &mut Option<io::Error>) {
    if let Some(w) = stream.as_mut() {
        if out.len() >= STREAM_FLUSH_BYTES && error.is_none() {
            if let Err(e) = w.write_all(out) {
                *error = Some(e);
            }
            out.clear();
        }
    }
}

/// Appends one RESP command.
fn resp_command(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        push_bulk(out, a);
    }
}

fn push_bulk(out: &mut Vec<u8>, a: &[u8]) {
    out.push(b'$');
    out.extend_from_slice(a.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(a);
    out.extend_from_slice(b"\r\n");
}

/// Writes a stream as JSON while it is walked.
struct JsonStream<'o> {
    out: &'o mut Vec<u8>,
    entries: u64,
    groups: u64,
    pending: u64,
    consumers: u64,
    cpending: u64,
    nacked: u64,
}

impl JsonStream<'_> {
    fn close_consumer(&mut self) {
        if self.consumers > 0 {
            self.out.extend_from_slice(b"]}");
        }
    }

    fn close_group(&mut self) {
        if self.groups > 0 {
            // With a NACK zone open, `]}` closes it and the group.
            if self.nacked == 0 {
                if self.consumers == 0 {
                    self.out.extend_from_slice(b"],\"consumers\":[");
                } else {
                    self.close_consumer();
                }
            }
            self.out.extend_from_slice(b"]}");
        }
    }

    fn finish(mut self, meta: &StreamMeta) {
        if self.groups == 0 {
            self.out.extend_from_slice(b"],\"groups\":[");
        } else {
            self.close_group();
        }
        let out = &mut *self.out;
        out.extend_from_slice(b"],\"length\":");
        out.extend_from_slice(meta.length.to_string().as_bytes());
        out.extend_from_slice(b",\"last_id\":");
        push_id(out, meta.last_id);
        for (name, id) in [
            ("first_id", meta.first_id),
            ("max_deleted_id", meta.max_deleted_id),
        ] {
            out.extend_from_slice(format!(",\"{name}\":").as_bytes());
            match id {
                Some(id) => push_id(out, id),
                None => out.extend_from_slice(b"null"),
            }
        }
        out.extend_from_slice(b",\"entries_added\":");
        json::push_opt_i64(out, meta.entries_added.map(|n| n as i64));
        out.push(b'}');
    }
}

impl StreamVisitor for JsonStream<'_> {
    fn entry(&mut self, id: StreamId, fields: &[(Scalar<'_>, Scalar<'_>)]) {
        if self.entries > 0 {
            self.out.push(b',');
        }
        self.entries += 1;
        self.out.extend_from_slice(b"{\"id\":");
        push_id(self.out, id);
        self.out.extend_from_slice(b",\"fields\":[");
        for (i, (f, v)) in fields.iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            self.out.push(b'[');
            push_scalar_json(self.out, *f);
            self.out.push(b',');
            push_scalar_json(self.out, *v);
            self.out.push(b']');
        }
        self.out.extend_from_slice(b"]}");
    }

    fn group(&mut self, name: &[u8], last_id: StreamId, entries_read: Option<i64>, _pending: u64) {
        if self.groups == 0 {
            self.out.extend_from_slice(b"],\"groups\":[");
        } else {
            self.close_group();
            self.out.push(b',');
        }
        self.groups += 1;
        self.pending = 0;
        self.consumers = 0;
        self.nacked = 0;
        self.out.extend_from_slice(b"{\"name\":");
        json::push_bytes(self.out, name);
        self.out.extend_from_slice(b",\"last_id\":");
        push_id(self.out, last_id);
        self.out.extend_from_slice(b",\"entries_read\":");
        json::push_opt_i64(self.out, entries_read);
        self.out.extend_from_slice(b",\"pending\":[");
    }

    fn group_pending(&mut self, id: StreamId, delivery_time_ms: i64, delivery_count: u64) {
        if self.pending > 0 {
            self.out.push(b',');
        }
        self.pending += 1;
        self.out.extend_from_slice(b"{\"id\":");
        push_id(self.out, id);
        self.out.extend_from_slice(
            format!(
                ",\"delivery_time_ms\":{delivery_time_ms},\"delivery_count\":{delivery_count}}}"
            )
            .as_bytes(),
        );
    }

    fn consumer(
        &mut self,
        name: &[u8],
        seen_time_ms: i64,
        active_time_ms: Option<i64>,
        _pending: u64,
    ) {
        if self.consumers == 0 {
            self.out.extend_from_slice(b"],\"consumers\":[");
        } else {
            self.close_consumer();
            self.out.push(b',');
        }
        self.consumers += 1;
        self.cpending = 0;
        self.out.extend_from_slice(b"{\"name\":");
        json::push_bytes(self.out, name);
        self.out.extend_from_slice(
            format!(",\"seen_time_ms\":{seen_time_ms},\"active_time_ms\":").as_bytes(),
        );
        json::push_opt_i64(self.out, active_time_ms);
        self.out.extend_from_slice(b",\"pending\":[");
    }

    fn consumer_pending(&mut self, id: StreamId) {
        if self.cpending > 0 {
            self.out.push(b',');
        }
        self.cpending += 1;
        push_id(self.out, id);
    }

    fn nacked(&mut self, id: StreamId) {
        if self.nacked == 0 {
            if self.consumers == 0 {
                self.out.extend_from_slice(b"],\"consumers\":[");
            } else {
                self.close_consumer();
            }
            self.out.extend_from_slice(b"],\"nacked\":[");
        } else {
            self.out.push(b',');
        }
        self.nacked += 1;
        push_id(self.out, id);
    }
}
