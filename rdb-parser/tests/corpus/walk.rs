//! The full walk: every record read, every value decoded and digested, the
//! checksum checked (tests/robustness/walk.rs and fuzz/fuzz_targets/parse.rs
//! carry the same walk; keep them in step).

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};

use rdb_parser::{
    ChecksumStatus, Element, Entry, Error, ErrorKind, Kind, Magic, Rdb, RdbString, Record, Result,
    Scalar, Scratch, StreamId, StreamVisitor, ValueType,
};

/// Stream contents seen by the walk.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct StreamCounts {
    pub(super) entries: u64,
    pub(super) fields: u64,
    pub(super) groups: u64,
    pub(super) group_pending: u64,
    pub(super) consumers: u64,
    pub(super) consumer_pending: u64,
}

/// Everything a complete walk of one file saw.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Summary {
    pub(super) magic: Magic,
    pub(super) version: u32,
    pub(super) keys: u64,
    pub(super) keys_per_db: BTreeMap<u64, u64>,
    pub(super) selected_dbs: BTreeSet<u64>,
    pub(super) types: BTreeMap<ValueType, u64>,
    /// Elements reported by `for_each_element` (pairs for hashes).
    pub(super) elements: u64,
    /// Collections with no element at all.
    pub(super) empty_collections: u64,
    /// Hash fields carrying their own expire time.
    pub(super) field_expires: u64,
    pub(super) key_bytes: u64,
    pub(super) string_value_bytes: u64,
    pub(super) stream: StreamCounts,
    /// Sum of the streams' stored length fields.
    pub(super) stream_lengths: u64,
    /// `name/vN` of module values, `aux:name/vN` of module aux records.
    pub(super) modules: BTreeSet<String>,
    pub(super) aux_fields: u64,
    pub(super) functions: u64,
    pub(super) functions_pre_ga: u64,
    pub(super) slot_info: u64,
    pub(super) slot_import: u64,
    pub(super) module_aux: u64,
    pub(super) with_expire: u64,
    pub(super) with_idle: u64,
    pub(super) with_lfu: u64,
    /// Some string (key, string value, aux) was LZF-compressed.
    pub(super) lzf_seen: bool,
    pub(super) checksum: ChecksumStatus,
    pub(super) eof_offset: u64,
    pub(super) trailing_bytes: u64,
    /// Disagreements between the parser's own accessors on data that parsed
    /// (e.g. `element_count` against the elements walked): always a bug.
    pub(super) inconsistencies: Vec<String>,
}

impl Summary {
    pub(super) fn new(rdb: &Rdb<'_>) -> Summary {
        Summary {
            magic: rdb.magic(),
            version: rdb.version(),
            keys: 0,
            keys_per_db: BTreeMap::new(),
            selected_dbs: BTreeSet::new(),
            types: BTreeMap::new(),
            elements: 0,
            empty_collections: 0,
            field_expires: 0,
            key_bytes: 0,
            string_value_bytes: 0,
            stream: StreamCounts::default(),
            stream_lengths: 0,
            modules: BTreeSet::new(),
            aux_fields: 0,
            functions: 0,
            functions_pre_ga: 0,
            slot_info: 0,
            slot_import: 0,
            module_aux: 0,
            with_expire: 0,
            with_idle: 0,
            with_lfu: 0,
            lzf_seen: false,
            checksum: ChecksumStatus::Skipped,
            eof_offset: 0,
            trailing_bytes: 0,
            inconsistencies: Vec::new(),
        }
    }
}

pub(super) fn hash_scalar(h: &mut DefaultHasher, s: &Scalar<'_>) {
    match s {
        Scalar::Int(i) => (0u8, *i).hash(h),
        Scalar::Bytes(b) => (1u8, *b).hash(h),
    }
}

pub(super) fn hash_element(h: &mut DefaultHasher, e: &Element<'_>) {
    match e {
        Element::Member(m) => {
            0u8.hash(h);
            hash_scalar(h, m);
        }
        Element::Scored { member, score } => {
            1u8.hash(h);
            hash_scalar(h, member);
            score.to_bits().hash(h);
        }
        Element::Field {
            field,
            value,
            expire_at_ms,
        } => {
            2u8.hash(h);
            hash_scalar(h, field);
            hash_scalar(h, value);
            expire_at_ms.hash(h);
        }
    }
}

/// Counts and hashes everything a stream walk reports.
pub(super) struct DigestVisitor<'h> {
    pub(super) h: &'h mut DefaultHasher,
    pub(super) counts: StreamCounts,
}

impl StreamVisitor for DigestVisitor<'_> {
    fn entry(&mut self, id: StreamId, fields: &[(Scalar<'_>, Scalar<'_>)]) {
        self.counts.entries += 1;
        self.counts.fields += fields.len() as u64;
        (10u8, id).hash(self.h);
        for (f, v) in fields {
            hash_scalar(self.h, f);
            hash_scalar(self.h, v);
        }
    }
    fn group(&mut self, name: &[u8], last_id: StreamId, entries_read: Option<i64>, pending: u64) {
        self.counts.groups += 1;
        (11u8, name, last_id, entries_read, pending).hash(self.h);
    }
    fn group_pending(&mut self, id: StreamId, delivery_time_ms: i64, delivery_count: u64) {
        self.counts.group_pending += 1;
        (12u8, id, delivery_time_ms, delivery_count).hash(self.h);
    }
    fn consumer(
        &mut self,
        name: &[u8],
        seen_time_ms: i64,
        active_time_ms: Option<i64>,
        pending: u64,
    ) {
        self.counts.consumers += 1;
        (13u8, name, seen_time_ms, active_time_ms, pending).hash(self.h);
    }
    fn consumer_pending(&mut self, id: StreamId) {
        self.counts.consumer_pending += 1;
        (14u8, id).hash(self.h);
    }
}

/// Decodes a string, hashes its bytes into `h` and returns its length.
pub(super) fn string_bytes(
    s: &RdbString<'_>,
    buf: &mut Vec<u8>,
    sum: &mut Summary,
    h: &mut DefaultHasher,
) -> Result<u64> {
    if matches!(s, RdbString::Lzf { .. }) {
        sum.lzf_seen = true;
    }
    let b = s.bytes(buf)?;
    b.hash(h);
    let n = b.len() as u64;
    if n != s.len() {
        sum.inconsistencies.push(format!(
            "string of declared length {} has {n} bytes",
            s.len()
        ));
    }
    Ok(n)
}

/// Decodes one entry completely; returns a digest of everything decoded.
pub(super) fn decode_entry(
    e: &Entry<'_>,
    scratch: &mut Scratch,
    buf: &mut Vec<u8>,
    sum: &mut Summary,
) -> Result<u64> {
    let mut h = DefaultHasher::new();
    sum.key_bytes += string_bytes(&e.key, buf, sum, &mut h)?;
    let v = &e.value;
    let vt = e.value_type();
    vt.hash(&mut h);
    let counted = v.element_count(scratch)?;
    match e.kind() {
        Kind::String => {
            let s = v.as_string()?;
            let n = string_bytes(&s, buf, sum, &mut h)?;
            sum.string_value_bytes += n;
            if n != counted {
                sum.inconsistencies.push(format!(
                    "string at {}: element_count {counted}, {n} bytes",
                    v.offset()
                ));
            }
        }
        Kind::Stream => {
            let mut visitor = DigestVisitor {
                h: &mut h,
                counts: StreamCounts::default(),
            };
            let meta = v.walk_stream(scratch, &mut visitor)?;
            let c = visitor.counts;
            let head = v.stream_meta()?;
            if head != meta {
                sum.inconsistencies.push(format!(
                    "stream at {}: stream_meta {head:?} != walk {meta:?}",
                    v.offset()
                ));
            }
            if meta.groups != c.groups {
                sum.inconsistencies.push(format!(
                    "stream at {}: {} groups, walked {}",
                    v.offset(),
                    meta.groups,
                    c.groups
                ));
            }
            if counted != meta.length {
                sum.inconsistencies.push(format!(
                    "stream at {}: element_count {counted} != length {}",
                    v.offset(),
                    meta.length
                ));
            }
            sum.stream_lengths += meta.length;
            let s = &mut sum.stream;
            s.entries += c.entries;
            s.fields += c.fields;
            s.groups += c.groups;
            s.group_pending += c.group_pending;
            s.consumers += c.consumers;
            s.consumer_pending += c.consumer_pending;
            format!("{meta:?}").hash(&mut h);
        }
        Kind::Module => {
            let id = v.module_id()?;
            sum.modules
                .insert(format!("{}/v{}", id.name(), id.encoding_version()));
            id.hash(&mut h);
            v.raw().hash(&mut h);
        }
        Kind::Array => {
            let head = v.walk_array(scratch, |i, item| {
                i.hash(&mut h);
                let mut b = Vec::new();
                item.push_to(&mut b);
                b.hash(&mut h);
            })?;
            head.count.hash(&mut h);
        }
        _ => {
            let mut n = 0u64;
            let mut expires = 0u64;
            v.for_each_element(scratch, |el| {
                n += 1;
                if let Element::Field {
                    expire_at_ms: Some(_),
                    ..
                } = el
                {
                    expires += 1;
                }
                hash_element(&mut h, &el);
            })?;
            if n != counted {
                sum.inconsistencies.push(format!(
                    "{vt:?} at {}: element_count {counted}, walked {n}",
                    v.offset()
                ));
            }
            if n == 0 {
                sum.empty_collections += 1;
            }
            sum.elements += n;
            sum.field_expires += expires;
        }
    }
    Ok(h.finish())
}

/// Reads every record, decodes every value completely and checks the
/// checksum. A checksum mismatch and a missing EOF are errors.
pub(super) fn walk_all(data: &[u8]) -> Result<Summary> {
    walk(data, true)
}

/// [`walk_all`] without verifying the checksum (the summary says
/// [`ChecksumStatus::Skipped`]); a missing EOF is still an error.
pub(super) fn walk_unverified(data: &[u8]) -> Result<Summary> {
    walk(data, false)
}

fn walk(data: &[u8], verify_checksum: bool) -> Result<Summary> {
    let rdb = Rdb::new(data)?;
    let mut sum = Summary::new(&rdb);
    let mut scratch = Scratch::new();
    let mut buf = Vec::new();
    let mut eof = false;
    let mut h = DefaultHasher::new();
    for r in rdb.records() {
        match r? {
            Record::Entry(e) => {
                decode_entry(&e, &mut scratch, &mut buf, &mut sum).map_err(|err| {
                    match e.key.bytes(&mut buf) {
                        Ok(k) => err.with_key(k),
                        Err(_) => err,
                    }
                })?;
                sum.keys += 1;
                *sum.keys_per_db.entry(e.db).or_default() += 1;
                *sum.types.entry(e.value_type()).or_default() += 1;
                sum.with_expire += u64::from(e.expire_at_ms.is_some());
                sum.with_idle += u64::from(e.idle_seconds.is_some());
                sum.with_lfu += u64::from(e.lfu_freq.is_some());
                if e.record_end <= e.record_start || e.record_end > data.len() as u64 {
                    sum.inconsistencies
                        .push(format!("record {}..{}", e.record_start, e.record_end));
                }
            }
            Record::Aux { name, value } => {
                sum.aux_fields += 1;
                string_bytes(&name, &mut buf, &mut sum, &mut h)?;
                string_bytes(&value, &mut buf, &mut sum, &mut h)?;
            }
            Record::SelectDb(db) => {
                sum.selected_dbs.insert(db);
            }
            Record::ResizeDb { .. } => {}
            Record::ModuleAux { module, .. } => {
                sum.module_aux += 1;
                sum.modules.insert(format!(
                    "aux:{}/v{}",
                    module.name(),
                    module.encoding_version()
                ));
            }
            Record::Function { pre_ga, name, code } => {
                if pre_ga {
                    sum.functions_pre_ga += 1;
                } else {
                    sum.functions += 1;
                }
                if let Some(name) = name {
                    string_bytes(&name, &mut buf, &mut sum, &mut h)?;
                }
                string_bytes(&code, &mut buf, &mut sum, &mut h)?;
            }
            Record::SlotInfo { .. } => sum.slot_info += 1,
            Record::SlotImport { job_name, .. } => {
                sum.slot_import += 1;
                string_bytes(&job_name, &mut buf, &mut sum, &mut h)?;
            }
            Record::Eof {
                offset,
                stored_checksum,
                trailing_bytes,
            } => {
                eof = true;
                sum.eof_offset = offset;
                sum.trailing_bytes = trailing_bytes;
                if verify_checksum {
                    sum.checksum = rdb.checksum_status(offset, stored_checksum);
                    if let ChecksumStatus::Mismatch { stored, computed } = sum.checksum {
                        return Err(Error::new(
                            ErrorKind::ChecksumMismatch { stored, computed },
                            offset + 1,
                        ));
                    }
                }
            }
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
    Ok(sum)
}
