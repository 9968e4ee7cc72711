//! Strings: `int`, `embstr` or `raw`, and the Redis 8.2+ and Valkey 8.1+
//! objects that hold the key and a short value in one allocation.

use rdb_parser::{parse_canonical_i64, Entry, RdbString};

use super::hll::{is_sparse_hll, sparse_hll_alloc};
use super::layouts::{kvobj_header, valkey_key_part, Era, Profile};
use super::measure::Measure;
use crate::server::ObjEncoding;

/// Valkey 8.1+ keeps a string inside the object (with the key) while the
/// object without its expire slot stays within 128 bytes: measured on
/// Valkey 9.1, `klen + key sds header + vlen <= 114`, the same for keys with
/// and without a TTL, built by commands or loaded.
fn valkey_embeds(p: &Profile, key_len: u64, len: u64) -> bool {
    8 + 1 + p.sds_hdr(key_len) + key_len + 1 + 4 + len <= 128
}

/// Valkey 8.1+ strings: one allocation holds the object, the key and (for
/// embstr) the value.
fn valkey9_string(p: &Profile, s: RdbString<'_>, is_int: bool, key_len: u64, ttl: bool) -> Measure {
    let len = s.len();
    let key_part = valkey_key_part(p, key_len, ttl);
    let (encoding, bytes) = match s {
        _ if is_int => (ObjEncoding::Int, p.j(16 + key_part)),
        // A value under 4 bytes still takes 4 (measured on Valkey 9.1).
        _ if valkey_embeds(p, key_len, len) => {
            (ObjEncoding::Embstr, p.j(8 + key_part + 3 + len.max(4) + 1))
        }
        _ => (ObjEncoding::Raw, p.j(16 + key_part) + p.sds(len)),
    };
    Measure {
        encoding,
        memory_bytes: bytes,
        elements: len,
        max_element_bytes: len,
    }
}

/// Redis 8.2+ strings: the `kvobj` holds the key, and holds a short value
/// too while the whole object fits a 64-byte cache line (8.2 and 8.4
/// count the expire slot in that test, 8.6 does not); longer values are
/// `raw` in their own sds.
fn redis8_string(p: &Profile, len: u64, is_int: bool, key_len: u64, ttl: bool) -> Measure {
    let header = kvobj_header(p, key_len, ttl);
    let ttl_term = if ttl && p.era != Era::Redis86 { 8 } else { 0 };
    let embeds = len <= 44 && 16 + (key_len + 3) + ttl_term + 4 + len <= 64;
    let (encoding, bytes) = if is_int {
        (ObjEncoding::Int, header)
    } else if embeds {
        let expire = if ttl { 8 } else { 0 };
        let key = 1 + p.sds_hdr(key_len) + key_len + 1;
        (ObjEncoding::Embstr, p.j(16 + expire + key + 3 + len + 1))
    } else {
        (ObjEncoding::Raw, header + p.sds(len))
    };
    Measure {
        encoding,
        memory_bytes: bytes,
        elements: len,
        max_element_bytes: len,
    }
}

/// A string key's value (an arm of `measure_value`). A sparse
/// HyperLogLog that PFADD grew holds spare room on the live server: its
/// value is a raw sds of the ladder's size (see `hll`).
#[inline]
pub(super) fn measure_string(
    p: &Profile,
    e: &Entry<'_>,
    key_len: u64,
) -> rdb_parser::Result<Measure> {
    // Read once: the string's header, LZF or not, is parsed per key.
    let s = e.value.as_string()?;
    let mut m = measure_plain_string(p, e, s, key_len);
    if !p.fresh_load && is_sparse_hll(s) {
        let ttl = e.expire_at_ms.is_some();
        let object = match p.era {
            Era::Valkey9 => p.j(16 + valkey_key_part(p, key_len, ttl)),
            _ if p.embeds_key() => kvobj_header(p, key_len, ttl),
            _ => 16,
        };
        m.memory_bytes = object + sparse_hll_alloc(p, s.len());
    }
    Ok(m)
}

/// A string as SET (or the file's load) makes it: no spare room.
fn measure_plain_string(p: &Profile, e: &Entry<'_>, s: RdbString<'_>, key_len: u64) -> Measure {
    let era = p.era;
    let robj = 16;
    let len = s.len();
    let is_int = match s {
        RdbString::Int(_) => true,
        RdbString::Raw(b) => b.len() <= 20 && parse_canonical_i64(b).is_some(),
        RdbString::Lzf { .. } => false,
    };
    if era == Era::Valkey9 {
        return valkey9_string(p, s, is_int, key_len, e.expire_at_ms.is_some());
    }
    if p.embeds_key() {
        return redis8_string(p, len, is_int, key_len, e.expire_at_ms.is_some());
    }
    let (encoding, bytes) = if is_int {
        (ObjEncoding::Int, robj)
    } else if len <= 44 {
        (
            ObjEncoding::Embstr,
            if era == Era::Redis6 {
                len + 18
            } else {
                p.j(len + 20)
            },
        )
    } else {
        (ObjEncoding::Raw, robj + p.sds(len))
    };
    Measure {
        encoding,
        memory_bytes: bytes,
        elements: len,
        max_element_bytes: len,
    }
}
