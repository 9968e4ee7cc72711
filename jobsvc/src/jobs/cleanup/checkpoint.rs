//! What a cleanup carries from batch to batch: the counters per master and
//! the checkpoint a resumed run starts from.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct Counts {
    /// Keys SCAN returned (matching the glob).
    pub(super) scanned: u64,
    /// Of those, the ones the filters selected.
    pub(super) selected: u64,
    /// Keys deleted (UNLINK replies, plus `recovered`).
    pub(super) deleted: u64,
    /// Keys given a TTL (`expire` mode).
    pub(super) expired: u64,
    /// Pending keys of a killed attempt already gone at resume.
    pub(super) recovered: u64,
    /// Collections emptied in chunks before their UNLINK.
    pub(super) big_keys: u64,
    /// Elements removed from them.
    pub(super) elements_removed: u64,
    /// Elements of the deleted keys whose type was known (from the
    /// backup's payload, a `TYPE` or a filter's read): a string counts 1,
    /// a collection its size.
    #[serde(default)]
    pub(super) elements: u64,
    /// Deleted keys whose elements were not counted (no backup and no
    /// type read, or a stream or module type).
    #[serde(default)]
    pub(super) elements_unknown: u64,
}

impl Counts {
    pub(super) fn add(&mut self, o: &Counts) {
        self.scanned += o.scanned;
        self.selected += o.selected;
        self.deleted += o.deleted;
        self.expired += o.expired;
        self.recovered += o.recovered;
        self.big_keys += o.big_keys;
        self.elements_removed += o.elements_removed;
        self.elements += o.elements;
        self.elements_unknown += o.elements_unknown;
    }
}

/// What a resumed run starts from.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(super) struct Checkpoint {
    /// Passes (`node/db/pattern`) finished.
    pub(super) done: Vec<String>,
    /// The pass under way.
    pub(super) current: Option<String>,
    /// Its next SCAN cursor.
    pub(super) cursor: String,
    /// Keys (hex) being acted on when the checkpoint was written.
    pub(super) pending: Vec<String>,
    /// Counters per master.
    pub(super) nodes: BTreeMap<String, Counts>,
    /// Keys acted on (a sample).
    pub(super) sample: Vec<Value>,
    /// Running time of this and earlier attempts.
    pub(super) seconds: f64,
    /// Of which paused.
    pub(super) paused_secs: f64,
    /// Runs resumed from a checkpoint.
    pub(super) resumes: u32,
    /// How far the backup was written (with the pending keys in it).
    #[serde(default)]
    pub(super) backup: Option<crate::backup::BackupPos>,
}
