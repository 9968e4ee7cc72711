//! Module values whose memory follows from what the module serialized:
//! RedisBloom's scalable Bloom filter (`MBbloom--`). Other module types
//! keep their serialized size (`memory_model = "serialized"`).

use rdb_parser::{Entry, ModuleId};

/// Module type names modelled here.
const BLOOM: &str = "MBbloom--";

/// True when values of module type `id` are modelled from their content.
pub fn module_modelled(id: ModuleId) -> bool {
    id.name() == BLOOM
}

/// What the module's `mem_usage` callback reports for the value, or `None`
/// for module types not modelled. A Bloom filter chain (`BFMemUsage` in
/// RedisBloom's `rebloom.c`): the 32-byte chain, then per filter its
/// 64-byte link and its bit array; the RDB holds one string operand per
/// filter, the bit array. Measured equal to `BF.INFO`'s `Size` on Redis 7.4
/// with RedisBloom 2.8.
pub(super) fn module_mem_usage(e: &Entry<'_>) -> rdb_parser::Result<Option<u64>> {
    if !module_modelled(e.value.module_id()?) {
        return Ok(None);
    }
    let (filters, bytes) = e.value.module_strings()?;
    Ok(Some(32 + 64 * filters + bytes))
}
