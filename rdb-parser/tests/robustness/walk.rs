//! The full walk: every record read, every value decoded, the checksum
//! checked (the same decoding as tests/corpus/walk.rs `walk_all`).

use rdb_parser::{
    ChecksumStatus, Element, Entry, Error, ErrorKind, Kind, Rdb, RdbString, Record, Result, Scalar,
    Scratch, StreamId, StreamVisitor,
};

#[derive(Debug, Default)]
pub(super) struct Walked {
    pub(super) keys: u64,
    /// The parser's accessors disagreeing on data that parsed: a bug.
    pub(super) inconsistencies: Vec<String>,
}

#[derive(Default)]
pub(super) struct CountingVisitor {
    pub(super) entries: u64,
    pub(super) groups: u64,
    pub(super) group_pending: u64,
    pub(super) consumers: u64,
    pub(super) consumer_pending: u64,
    pub(super) bytes: u64,
}

impl StreamVisitor for CountingVisitor {
    fn entry(&mut self, _id: StreamId, fields: &[(Scalar<'_>, Scalar<'_>)]) {
        self.entries += 1;
        for (f, v) in fields {
            self.bytes += f.len() + v.len();
        }
    }
    fn group(&mut self, name: &[u8], _last: StreamId, _read: Option<i64>, _pending: u64) {
        self.groups += 1;
        self.bytes += name.len() as u64;
    }
    fn group_pending(&mut self, _id: StreamId, _time: i64, _count: u64) {
        self.group_pending += 1;
    }
    fn consumer(&mut self, name: &[u8], _seen: i64, _active: Option<i64>, _pending: u64) {
        self.consumers += 1;
        self.bytes += name.len() as u64;
    }
    fn consumer_pending(&mut self, _id: StreamId) {
        self.consumer_pending += 1;
    }
}

pub(super) fn string_len(s: &RdbString<'_>, buf: &mut Vec<u8>, w: &mut Walked) -> Result<u64> {
    let n = s.bytes(buf)?.len() as u64;
    if n != s.len() {
        w.inconsistencies.push(format!(
            "string of declared length {} has {n} bytes",
            s.len()
        ));
    }
    Ok(n)
}

pub(super) fn decode_entry(
    e: &Entry<'_>,
    scratch: &mut Scratch,
    buf: &mut Vec<u8>,
    w: &mut Walked,
) -> Result<()> {
    string_len(&e.key, buf, w)?;
    let v = &e.value;
    let counted = v.element_count(scratch)?;
    match e.kind() {
        Kind::String => {
            let n = string_len(&v.as_string()?, buf, w)?;
            if n != counted {
                w.inconsistencies.push(format!(
                    "string at {}: element_count {counted}, {n} bytes",
                    v.offset()
                ));
            }
        }
        Kind::Stream => {
            let mut visitor = CountingVisitor::default();
            let meta = v.walk_stream(scratch, &mut visitor)?;
            let head = v.stream_meta()?;
            if head != meta || meta.groups != visitor.groups || counted != meta.length {
                w.inconsistencies.push(format!(
                    "stream at {}: stream_meta {head:?}, walk {meta:?}, {} groups walked, element_count {counted}",
                    v.offset(),
                    visitor.groups
                ));
            }
        }
        Kind::Module => {
            v.module_id()?;
        }
        Kind::Array => {
            let mut n = 0u64;
            let h = v.walk_array(scratch, |_, item| {
                n += 1;
                std::hint::black_box(item);
            })?;
            if n != counted || h.count != counted {
                w.inconsistencies.push(format!(
                    "array at {}: element_count {counted}, walked {n}",
                    v.offset()
                ));
            }
        }
        _ => {
            let mut n = 0u64;
            v.for_each_element(scratch, |el| {
                n += 1;
                if let Element::Scored { score, .. } = el {
                    std::hint::black_box(score);
                }
            })?;
            if n != counted {
                w.inconsistencies.push(format!(
                    "{:?} at {}: element_count {counted}, walked {n}",
                    e.value_type(),
                    v.offset()
                ));
            }
        }
    }
    Ok(())
}

/// Reads every record, decodes every value and checks the checksum; a
/// mismatch and a missing EOF are errors.
pub(super) fn walk_all(data: &[u8]) -> Result<Walked> {
    let rdb = Rdb::new(data)?;
    let mut w = Walked::default();
    let mut scratch = Scratch::new();
    let mut buf = Vec::new();
    let mut eof = false;
    for r in rdb.records() {
        match r? {
            Record::Entry(e) => {
                decode_entry(&e, &mut scratch, &mut buf, &mut w).map_err(|err| {
                    match e.key.bytes(&mut buf) {
                        Ok(k) => err.with_key(k),
                        Err(_) => err,
                    }
                })?;
                w.keys += 1;
                if e.record_end <= e.record_start || e.record_end > data.len() as u64 {
                    w.inconsistencies
                        .push(format!("record {}..{}", e.record_start, e.record_end));
                }
            }
            Record::Aux { name, value } => {
                string_len(&name, &mut buf, &mut w)?;
                string_len(&value, &mut buf, &mut w)?;
            }
            Record::Function { name, code, .. } => {
                if let Some(name) = name {
                    string_len(&name, &mut buf, &mut w)?;
                }
                string_len(&code, &mut buf, &mut w)?;
            }
            Record::SlotImport { job_name, .. } => {
                string_len(&job_name, &mut buf, &mut w)?;
            }
            Record::ModuleAux { module, .. } => {
                std::hint::black_box(module.name());
            }
            Record::Eof {
                offset,
                stored_checksum,
                ..
            } => {
                eof = true;
                if let ChecksumStatus::Mismatch { stored, computed } =
                    rdb.checksum_status(offset, stored_checksum)
                {
                    return Err(Error::new(
                        ErrorKind::ChecksumMismatch { stored, computed },
                        offset + 1,
                    ));
                }
            }
            _ => {}
        }
    }
    if !eof {
        return Err(Error::new(
            ErrorKind::Malformed {
                expected: "an EOF record",
                found: None,
            },
            data.len() as u64,
        ));
    }
    Ok(w)
}
