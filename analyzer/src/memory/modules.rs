//! Module values whose memory follows from what the module serialized:
//! RedisBloom's Bloom and Cuckoo filters, Top-K and Count-Min sketches,
//! RedisTimeSeries' series of compressed chunks and RedisJSON's documents.
//! Other module types (graphs, search indexes, ...) keep their serialized
//! size (`memory_model = "serialized"`).

use rdb_parser::{Entry, ModuleId, ModuleOperand};

/// RedisBloom's scalable Bloom filter.
const BLOOM: &str = "MBbloom--";
/// RedisBloom's Cuckoo filter.
const CUCKOO: &str = "MBbloomCF";
/// RedisBloom's Top-K.
const TOPK: &str = "TopK-TYPE";
/// RedisBloom's Count-Min sketch.
const CMS: &str = "CMSk-TYPE";
/// RedisTimeSeries' series.
const SERIES: &str = "TSDB-TYPE";
/// RedisJSON's document.
const JSON: &str = "ReJSON-RL";

/// True when values of module type `id` are modelled from their content:
/// RedisBloom's types in every encoding, RedisTimeSeries' series saved as
/// chunks (encoding version 2 and later; before, as samples) and
/// RedisJSON's documents saved as JSON text (encoding version 3; before,
/// ReJSON 1.x's own binary tree).
pub fn module_modelled(id: ModuleId) -> bool {
    match id.name().as_str() {
        BLOOM | CUCKOO | TOPK | CMS => true,
        SERIES => id.encoding_version() >= 2,
        JSON => id.encoding_version() == 3,
        _ => false,
    }
}

/// What the module's `mem_usage` callback reports for the value, or `None`
/// for module types not modelled (or a value whose saved fields are not in
/// the shape this model reads).
pub(super) fn module_mem_usage(e: &Entry<'_>) -> rdb_parser::Result<Option<u64>> {
    let id = e.value.module_id()?;
    if !module_modelled(id) {
        return Ok(None);
    }
    Ok(match id.name().as_str() {
        BLOOM => {
            // `BFMemUsage` (rebloom.c): the 32-byte chain, then per filter
            // its 64-byte link and its bit array, saved as one string each.
            let (filters, bytes) = e.value.module_strings()?;
            Some(32 + 64 * filters + bytes)
        }
        CUCKOO => {
            // `CFMemUsage`: the 40-byte `CuckooFilter`, a 16-byte `SubCF`
            // per sub-filter, and each sub-filter's bucket array (saved as
            // one string each).
            let (filters, bytes) = e.value.module_strings()?;
            Some(40 + 16 * filters + bytes)
        }
        TOPK => topk(&e.value.module_operands()?),
        CMS => cms(&e.value.module_operands()?),
        SERIES => series(&e.value.module_operands()?),
        JSON => e
            .value
            .module_first_string()?
            .and_then(|text| serde_json::from_slice::<serde_json::Value>(&text).ok())
            .map(|doc| json_memory(&doc)),
        _ => None,
    })
}

/// `TopKMemUsage` (rm_topk.c): `sizeof(TopK)` (2,088 bytes with its
/// 256-entry decay table) + the width × depth 8-byte buckets + k 24-byte
/// heap slots. Saved as k, width, depth, decay, then the two arrays.
fn topk(ops: &[ModuleOperand]) -> Option<u64> {
    use ModuleOperand::{Double, Int};
    match ops {
        [Int(k), Int(width), Int(depth), Double(_), ..] => {
            Some(2088 + width.checked_mul(*depth)?.checked_mul(8)? + k.checked_mul(24)?)
        }
        _ => None,
    }
}

/// `CMSMemUsage` (rm_cms.c): a pointer's 8 bytes + width × depth counters
/// counted at 8 bytes (`sizeof(size_t)`), though each is a 4-byte `uint32`.
/// Saved as width, depth, count, then the counters.
fn cms(ops: &[ModuleOperand]) -> Option<u64> {
    use ModuleOperand::{Int, Str};
    match ops {
        [Int(width), Int(depth), Int(_), Str(_), ..] => {
            Some(8 + width.checked_mul(*depth)?.checked_mul(8)?)
        }
        _ => None,
    }
}

/// Bytes of a RedisTimeSeries `CompressedChunk` struct (measured on
/// RedisTimeSeries 1.12: 80).
const TS_CHUNK_STRUCT: u64 = 80;
/// Bytes of an uncompressed `Chunk` struct (base timestamp, the samples'
/// two arrays, count and size; from the source, not measured).
const TS_RAW_CHUNK_STRUCT: u64 = 40;

/// `SeriesMemUsage` (RedisTimeSeries `tsdb.c`): a pointer's 8 bytes, each
/// label's two strings with their terminators and its 16-byte `Label`,
/// and per chunk its struct + its data buffer. A compressed chunk is saved
/// as ten integers (the first its buffer size) then the buffer, an
/// uncompressed one as three (the last its size) then the buffer; the
/// label strings are the series' other strings after its name.
/// Compaction rules (not read) add about 100 bytes each.
fn series(ops: &[ModuleOperand]) -> Option<u64> {
    use ModuleOperand::{Int, Str};
    let mut total = 8u64;
    let mut chunks = 0u64;
    let mut chunk_str = vec![false; ops.len()];
    for i in 10..ops.len() {
        if let (Int(size), Str(len)) = (ops[i - 10], ops[i]) {
            let ints = ops[i - 10..i].iter().all(|o| matches!(o, Int(_)));
            if ints && size == len {
                chunks += 1;
                chunk_str[i] = true;
                total += TS_CHUNK_STRUCT + len;
            }
        }
    }
    // Uncompressed chunks: base timestamp, sample count, buffer size, then
    // the buffer.
    for i in 3..ops.len() {
        if let (Int(size), Str(len)) = (ops[i - 1], ops[i]) {
            let ints = matches!((ops[i - 3], ops[i - 2]), (Int(_), Int(_)));
            if ints && size == len && !chunk_str[i] {
                chunks += 1;
                chunk_str[i] = true;
                total += TS_RAW_CHUNK_STRUCT + len;
            }
        }
    }
    if chunks == 0 {
        return None; // an unknown layout
    }
    // Label strings: every string but the key name and the chunk buffers.
    let labels: u64 = ops
        .iter()
        .zip(&chunk_str)
        .skip(1)
        .filter_map(|(o, &c)| match o {
            Str(len) if !c => Some(len + 1 + 8),
            _ => None,
        })
        .sum();
    Some(total + labels)
}

/// RedisJSON's `get_memory` over its `ijson` tree (the document is saved
/// as JSON text and parsed back the same way): 8 bytes a value, plus a
/// number's out-of-line storage (none for integers -128..=383, 4 for
/// 24-bit integers, 16 otherwise and for floats), a string's bytes, an
/// array's `8 × (capacity + 2)` and an object's `8 × (3 × capacity + 2)`
/// with its keys' bytes (capacities grown by doubling from empty, as the
/// parser pushes: the next power of two, at least 4; measured on Redis
/// 7.4 with RedisJSON 2.8).
fn json_memory(v: &serde_json::Value) -> u64 {
    use serde_json::Value;
    let cap = |n: usize| (n as u64).next_power_of_two().max(4);
    8 + match v {
        Value::Null | Value::Bool(_) => 0,
        Value::Number(n) => match n.as_i64() {
            Some(i) if (-128..=383).contains(&i) => 0,
            Some(i) if i > -8_388_608 && i <= 8_388_607 => 4,
            _ => 16,
        },
        Value::String(s) => s.len() as u64,
        Value::Array(a) if a.is_empty() => 0,
        Value::Array(a) => 8 * (cap(a.len()) + 2) + a.iter().map(json_memory).sum::<u64>(),
        Value::Object(o) if o.is_empty() => 0,
        Value::Object(o) => {
            8 * (3 * cap(o.len()) + 2)
                + o.iter()
                    .map(|(k, v)| k.len() as u64 + json_memory(v))
                    .sum::<u64>()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ModuleOperand::{Double, Int, Str};

    #[test]
    fn sketches_follow_their_dimensions() {
        let t = [
            Int(10),
            Int(8),
            Int(7),
            Double(0.9),
            Str(448),
            Str(240),
            Str(1),
        ];
        assert_eq!(topk(&t), Some(2088 + 8 * 7 * 8 + 240));
        let c = [Int(100), Int(5), Int(3), Str(2000)];
        assert_eq!(cms(&c), Some(8 + 100 * 5 * 8));
        assert_eq!(cms(&[Int(1)]), None);
        assert_eq!(topk(&[Str(3)]), None);
    }

    #[test]
    fn json_documents_follow_ijson() {
        let doc: serde_json::Value =
            serde_json::from_str(r#"{"a":1,"b":"xyz","c":[1000,2.5,10000000]}"#).unwrap();
        // object: 8 + 8·(3·4 + 2) + keys 3 + a 8 + b 8+3 + c (8 + 8·(4+2)
        // + 1000: 8+4, 2.5: 8+16, 10,000,000: 8+16); capacities 4 at least
        let c = 8 + 8 * 6 + 12 + 24 + 24;
        assert_eq!(json_memory(&doc), 8 + 8 * 14 + 3 + 8 + 11 + c);
        assert_eq!(json_memory(&serde_json::json!([])), 8);
    }

    #[test]
    fn series_add_up_their_chunks_and_labels() {
        let mut ops = vec![Str(4), Int(0), Int(4096), Int(0), Int(7), Double(1.0)];
        ops.extend([Int(3), Int(0), Int(0), Int(0), Double(0.0), Int(1)]);
        ops.extend([Str(4), Str(2), Int(0), Int(1)]);
        ops.push(Int(4096));
        ops.extend((0..9).map(Int));
        ops.push(Str(4096));
        assert_eq!(series(&ops), Some(8 + 80 + 4096 + (5 + 8) + (3 + 8)));
        assert_eq!(series(&ops[..6]), None);
    }
}
