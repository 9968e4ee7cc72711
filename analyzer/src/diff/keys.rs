//! Looking up a few keys in a side's `keys.parquet` (one pass over the
//! columns needed, memory bounded by the keys asked for): what a big key
//! of one side is on the other.

use std::collections::HashSet;

use crate::error::Result;

use super::model::{KeyId, KeyMap};
use super::read::{bytes, each_batch, int};
use super::side::{key_fig, Side};

/// The figures of the `wanted` keys (database, key) that `side`'s
/// keys.parquet holds; `None` when the side has no keys.parquet.
pub fn lookup(side: &Side, wanted: &HashSet<KeyId>) -> Result<Option<KeyMap>> {
    let cols = [
        "db",
        "key",
        "type",
        "encoding",
        "memory_bytes",
        "elements",
        "rdb_bytes",
    ];
    let mut found = KeyMap::new();
    if wanted.is_empty() {
        return Ok(side.meta.has_keys.then_some(found));
    }
    let mut probe = (0i64, Vec::new());
    let present = each_batch(&side.meta.label, &side.dir, "keys.parquet", &cols, |b| {
        for i in 0..b.num_rows() {
            probe.0 = int(b, "db", i).unwrap_or(0) as i64;
            probe.1.clear();
            probe
                .1
                .extend_from_slice(bytes(b, "key", i).unwrap_or_default());
            if wanted.contains(&probe) {
                found.insert(probe.clone(), key_fig(b, i));
            }
        }
    })?;
    Ok(present.then_some(found))
}
