//! One key's estimate: its value measured by type (or taken from the
//! file's blob when the server keeps it), plus what the key itself costs.

use rdb_parser::{Entry, Kind, Scratch, ValueType};

use super::arrays::measure_array;
use super::hashes::measure_hash;
use super::layouts::{kvobj_header, valkey_key_part, Era, Profile};
use super::lists::measure_list;
use super::measure::Measure;
use super::modules::module_mem_usage;
use super::sets::measure_set;
use super::streams::measure_stream;
use super::strings::measure_string;
use super::zsets::measure_zset;
use crate::server::ObjEncoding;

/// Estimates one key. `key_len` is the key's length in bytes. Inlined
/// into the per-key loop: a call of its own cost the whole analysis 1.5 %
/// in the `dist` build.
#[inline(always)]
pub fn measure(
    p: &Profile,
    e: &Entry<'_>,
    key_len: u64,
    scratch: &mut Scratch,
) -> rdb_parser::Result<Measure> {
    if e.kind() == Kind::String {
        // Most keys: straight to the string's measure (no blob kept, no
        // object to adjust), past `measure_value`'s dispatch and call.
        let mut m = measure_string(p, e, key_len)?;
        m.memory_bytes += p.key_cost(key_len);
        return Ok(m);
    }
    let mut m = measure_value(p, e, key_len, scratch)?;
    m.memory_bytes += p.key_cost(key_len);
    if p.era == Era::Valkey9 {
        m.memory_bytes = valkey9_adjust(p, &m, e, key_len);
    } else if p.embeds_key() {
        // Redis 8.2+: the kvobj (robj, expire slot, key) replaces the
        // 16-byte robj counted by the value's cost.
        let header = kvobj_header(p, key_len, e.expire_at_ms.is_some());
        m.memory_bytes = header + m.memory_bytes.saturating_sub(16);
    }
    Ok(m)
}

fn valkey9_adjust(p: &Profile, m: &Measure, e: &Entry<'_>, key_len: u64) -> u64 {
    // Valkey 8.1+: the key (and its expire time) live inside the value
    // object, which replaces the 16-byte robj counted by the value's cost.
    let key_part = valkey_key_part(p, key_len, e.expire_at_ms.is_some());
    p.j(16 + key_part) + m.memory_bytes.saturating_sub(16)
}

fn measure_value(
    p: &Profile,
    e: &Entry<'_>,
    key_len: u64,
    scratch: &mut Scratch,
) -> rdb_parser::Result<Measure> {
    let v = &e.value;
    let robj = 16;
    if let Some(m) = kept_blob(p, e, scratch) {
        return Ok(m);
    }
    match e.kind() {
        Kind::String => measure_string(p, e, key_len),
        Kind::List => measure_list(p, e, scratch),
        Kind::Set => measure_set(p, e, scratch),
        Kind::Zset => measure_zset(p, e, scratch),
        Kind::Hash => measure_hash(p, e, scratch),
        Kind::Stream => measure_stream(p, e, scratch),
        Kind::Array => measure_array(p, e, scratch),
        Kind::Module => {
            // Modules report their own usage: computed for the types whose
            // usage follows from their content (7.x counts no robj for
            // them; 8.2+ and Valkey 8.1+ count the object holding the key,
            // which replaces the robj below); else the serialized size is
            // the best offline stand-in.
            let memory_bytes = match module_mem_usage(e)? {
                Some(mem) if p.embeds_key() => robj + mem,
                Some(mem) => mem,
                None => robj + v.serialized_len(),
            };
            Ok(Measure {
                encoding: ObjEncoding::Module,
                memory_bytes,
                elements: 1,
                max_element_bytes: 0,
            })
        }
    }
}

/// A set, sorted set or hash that the server keeps as the file's blob on
/// load costs the blob's allocation: decided from the blob's shape alone
/// (entry count and longest entry), without the per-element arithmetic.
/// `None` when the server converts it, or when the blob is malformed (the
/// full walk then reports where).
fn kept_blob(p: &Profile, e: &Entry<'_>, scratch: &mut Scratch) -> Option<Measure> {
    let l = &p.limits;
    let redis6 = p.era == Era::Redis6;
    let vt = e.value_type();
    match vt {
        ValueType::SetIntset
        | ValueType::SetListpack
        | ValueType::ZsetListpack
        | ValueType::HashListpack => {}
        ValueType::ZsetZiplist | ValueType::HashZiplist if redis6 => {}
        _ => return None,
    }
    let shape = e.value.compact_shape(scratch).ok()??;
    let both = shape.max_even.max(shape.max_odd);
    let pairs = shape.entries / 2;
    let (encoding, elements, max_len) = match vt {
        ValueType::SetIntset if shape.entries <= l.set_max_intset_entries => {
            (ObjEncoding::Intset, shape.entries, both)
        }
        ValueType::SetListpack
            if shape.entries <= l.set_max_listpack_entries && both <= l.set_max_listpack_value =>
        {
            (ObjEncoding::Listpack, shape.entries, both)
        }
        ValueType::ZsetListpack | ValueType::ZsetZiplist
            if shape.entries.is_multiple_of(2)
                && pairs <= l.zset_max_listpack_entries
                && shape.max_even <= l.zset_max_listpack_value =>
        {
            (ObjEncoding::Listpack, pairs, shape.max_even)
        }
        ValueType::HashListpack | ValueType::HashZiplist
            if shape.entries.is_multiple_of(2)
                && pairs <= l.hash_max_listpack_entries
                && both <= l.hash_max_listpack_value =>
        {
            (ObjEncoding::Listpack, pairs, both)
        }
        _ => return None,
    };
    // Redis 6 counts ziplists and intsets by their bytes, later servers by
    // their allocation.
    let (encoding, blob) = match vt {
        ValueType::ZsetZiplist | ValueType::HashZiplist => (ObjEncoding::Ziplist, shape.blob_len),
        ValueType::SetIntset if redis6 => (encoding, shape.blob_len),
        _ => (encoding, p.compact(shape.blob_len)),
    };
    Some(Measure {
        encoding,
        memory_bytes: 16 + blob,
        elements,
        max_element_bytes: max_len,
    })
}
