//! Hashes: `listpack`, `listpackex` (field expiry, 7.4+) or `hashtable`,
//! and Valkey's table of embedded entries and per-key index of fields
//! with a TTL.

use rdb_parser::{Element, Entry, Scalar, Scratch, Value, ValueType};

use super::compact::{blob_len, lp_entry};
use super::layouts::{Era, Profile};
use super::measure::Measure;
use super::tables::{
    dict_buckets, dict_buckets_after_conversion, dict_grown, valkey_hashtable,
    valkey_hashtable_after_conversion,
};
use super::walk::{compact_sizes_later, Walk};
use crate::server::ObjEncoding;

/// Valkey 9's per-key index of the hash fields that have a TTL (`vset`,
/// `vset.c`): one field is a tagged pointer, up to 127 a sorted pointer
/// vector (an 8-byte header and 8 bytes a field, grown one slot at a
/// time), beyond that a hash table (fields sharing an expiry) or a radix
/// tree of time buckets; plus a few bytes of bookkeeping. Measured on
/// Valkey 9.1 with fields sharing one expiry.
fn valkey_vset(p: &Profile, ttl_fields: u64) -> u64 {
    const BOOKKEEPING: u64 = 10;
    match ttl_fields {
        0 => 0,
        1 => BOOKKEEPING,
        2..=127 => BOOKKEEPING + p.j(8 + 8 * ttl_fields),
        _ => BOOKKEEPING + valkey_hashtable_after_conversion(127, ttl_fields),
    }
}

/// What Redis 8.6 charges for one hash-table field (`entryMemUsage`,
/// `8.6:src/entry.c`): field and value in one `Entry` when the entry's
/// requested size (16 bytes of expiry for a field with a TTL, the field's
/// sds, the value as an 8-bit-header sds) is at most 128 bytes, else the
/// field with an 8-byte value pointer and the value's own sds; counted at
/// the requested size, the separate value at its allocation.
fn redis86_entry(p: &Profile, f: u64, v: u64, ttl: bool) -> u64 {
    let exp = if ttl { 16 } else { 0 };
    let fhdr = p.sds_hdr(f);
    let field = if ttl { fhdr.max(3) } else { fhdr } + f + 1;
    let value = 3 + v + 1;
    if exp + field + value <= 128 {
        exp + field + value
    } else {
        exp + 8 + fhdr.max(3) + f + 1 + p.sds(v)
    }
}

/// A hash's value (an arm of `measure_value`).
#[inline(never)]
pub(super) fn measure_hash(
    p: &Profile,
    e: &Entry<'_>,
    scratch: &mut Scratch,
) -> rdb_parser::Result<Measure> {
    let vt = e.value_type();
    let v = &e.value;
    let l = &p.limits;
    let era = p.era;
    let robj = 16;
    let lazy = compact_sizes_later(vt);
    let limit = l.hash_max_listpack_entries;
    let (w, lpex) = walk_hash(p, v, vt, scratch, if lazy { 0 } else { limit })?;
    let n = w.count;
    let compact_ok = n <= l.hash_max_listpack_entries && w.max_len <= l.hash_max_listpack_value;
    // A hash the file stored as a table but small enough to start as
    // a listpack is converted at its first long entry, presized for
    // the entries read so far; it may still be rehashing at the end.
    let converted_at = match (vt, w.first_long) {
        (ValueType::Hash, Some(i)) if n <= l.hash_max_listpack_entries => Some(i),
        _ => None,
    };
    let buckets = 8 * match converted_at {
        Some(i) => dict_buckets_after_conversion(i, n),
        // Built by HSET on Redis <= 7.0, a big hash becomes a table
        // at its 513th field and grows from there.
        None if !p.fresh_load && era <= Era::Redis70 && n > l.hash_max_listpack_entries => {
            dict_buckets_after_conversion(l.hash_max_listpack_entries, n)
        }
        // Built by HSET on 7.2+: a listpack until its 513th field, then a
        // table presized for 513, grown one field at a time from there.
        // (One with a long field or value became a table at its first
        // such field, empty: grown field by field from there.)
        None if !p.fresh_load && n > l.hash_max_listpack_entries => {
            let at = if w.max_len > l.hash_max_listpack_value {
                0
            } else {
                l.hash_max_listpack_entries + 1
            };
            dict_grown(at, at, n, 1)
        }
        // A hash with field TTLs is loaded into an unsized table, filled
        // field by field, one bucket moved an add (measured on 7.4 and
        // 8.2: a 700-field hash loads still rehashing).
        None if vt.has_field_expiry() && era >= Era::Redis74 => dict_grown(0, 0, n, 1),
        None => dict_buckets(n),
    };
    let (encoding, bytes) = if vt.has_field_expiry() && era >= Era::Redis74 && era < Era::Valkey80 {
        if compact_ok {
            let lp = match vt {
                ValueType::HashListpackEx | ValueType::HashListpackExPreGa => blob_len(e)?,
                _ => lpex,
            };
            // The listpackEx struct: 32 bytes in 7.4, 24 in 8.2+ (no key
            // pointer), counted unrounded by 8.4+.
            let lpex_struct = match era {
                Era::Redis74 => p.j(32),
                _ => p.compact(24),
            };
            (ObjEncoding::ListpackEx, robj + lpex_struct + p.compact(lp))
        } else {
            let entries = if era == Era::Redis86 {
                w.vk_entries
            } else {
                w.mstr + w.sds_b
            };
            (
                ObjEncoding::Hashtable,
                robj + p.dict_struct() + buckets + entries + 24 * n,
            )
        }
    } else if era >= Era::Valkey9 && w.any_ttl {
        // Valkey keeps any hash with a field TTL as a table, and
        // indexes those fields in a per-key volatile set.
        let table = valkey_hashtable(n);
        let vset = valkey_vset(p, w.ttl_fields);
        (ObjEncoding::Hashtable, robj + table + w.vk_entries + vset)
    } else if compact_ok {
        match vt {
            ValueType::HashZiplist if era == Era::Redis6 => {
                (ObjEncoding::Ziplist, robj + blob_len(e)?)
            }
            ValueType::HashListpack => (ObjEncoding::Listpack, robj + p.compact(blob_len(e)?)),
            _ => {
                let c = if lazy {
                    &walk_hash(p, v, vt, scratch, limit)?.0
                } else {
                    &w
                };
                if era == Era::Redis6 {
                    (ObjEncoding::Ziplist, robj + c.zl_bytes)
                } else {
                    (ObjEncoding::Listpack, robj + p.compact(c.lp_bytes))
                }
            }
        }
    } else if era >= Era::Valkey9 {
        let table = match converted_at {
            Some(i) => valkey_hashtable_after_conversion(i, n),
            // Built by HSET: grown from its 513th field.
            None if !p.fresh_load && n > l.hash_max_listpack_entries => {
                valkey_hashtable_after_conversion(l.hash_max_listpack_entries, n)
            }
            None => valkey_hashtable(n),
        };
        (ObjEncoding::Hashtable, robj + table + w.vk_entries)
    } else {
        // 8.6: field and value in one entry; before, two sds.
        let entries = if era == Era::Redis86 {
            w.vk_entries
        } else {
            w.sds_a + w.sds_b
        };
        (
            ObjEncoding::Hashtable,
            robj + p.dict_struct() + buckets + entries + 24 * n,
        )
    };
    Ok(Measure {
        encoding,
        memory_bytes: bytes,
        elements: n,
        max_element_bytes: w.max_len,
    })
}

/// A hash's fields and values, and the listpack size with field expire
/// times (`listpackex`); compact sizes for the first `compact_limit` only.
fn walk_hash(
    p: &Profile,
    v: &Value<'_>,
    vt: ValueType,
    scratch: &mut Scratch,
    compact_limit: u64,
) -> rdb_parser::Result<(Walk, u64)> {
    let mut w = Walk::limited(compact_limit);
    let mut lpex = 7u64;
    v.for_each_element(scratch, |el| {
        if let Element::Field {
            field,
            value,
            expire_at_ms,
        } = el
        {
            if w.first_long.is_none()
                && (field.len() > p.limits.hash_max_listpack_value
                    || value.len() > p.limits.hash_max_listpack_value)
            {
                w.first_long = Some(w.count);
            }
            w.count += 1;
            w.scalar(p, field, false);
            w.scalar(p, value, true);
            w.mstr_field(p, field.len(), expire_at_ms.is_some());
            if p.era == Era::Redis86 {
                w.vk_entries += redis86_entry(p, field.len(), value.len(), expire_at_ms.is_some());
            } else if p.era >= Era::Valkey80 {
                let (f, v) = (field.len(), value.len());
                let ttl = if expire_at_ms.is_some() { 8 } else { 0 };
                let fsz = p.sds_hdr(f).max(if ttl > 0 { 3 } else { 1 }) + f + 1;
                w.vk_entries += if fsz + v + 4 + ttl <= 128 {
                    p.j(ttl + fsz + v + 4)
                } else {
                    p.j(ttl + 8 + p.sds_hdr(f).max(3) + f + 1) + p.sds(v)
                };
            }
            if w.count <= w.compact_limit && vt.has_field_expiry() {
                lpex += lp_entry(field)
                    + lp_entry(value)
                    + lp_entry(Scalar::Int(expire_at_ms.unwrap_or(0)));
            }
        }
    })?;

    Ok((w, lpex))
}

#[cfg(test)]
mod tests {
    use super::super::alloc::Allocator;
    use super::*;
    use crate::server::EncodingLimits;

    #[test]
    fn redis86_entries_embed_small_values() {
        let p = Profile::new(
            Era::Redis86,
            Allocator::Jemalloc,
            false,
            EncodingLimits::default(),
        );
        // "f1" = "abc": sdshdr5 field (1 + 2 + 1) and sdshdr8 value (3 + 3 + 1).
        assert_eq!(redis86_entry(&p, 2, 3, false), 4 + 7);
        // A TTL adds 16 bytes and forces an 8-bit field header.
        assert_eq!(redis86_entry(&p, 2, 3, true), 16 + 6 + 7);
        // Past 128 bytes the value is its own sds behind a pointer.
        assert_eq!(redis86_entry(&p, 10, 200, false), 8 + 14 + p.sds(200));
    }
}
