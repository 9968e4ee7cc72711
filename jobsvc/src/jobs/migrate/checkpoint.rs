//! What a migration carries from batch to batch: the counters per source
//! db, the position in the source, the batch being written, and the lists
//! of conflicting and failed keys.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Keys listed in the report per kind of problem, at most.
pub(super) const LIST_CAP: usize = 100;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(super) struct Counts {
    pub(super) selected: u64,
    pub(super) written: u64,
    pub(super) replaced: u64,
    pub(super) skipped: u64,
    pub(super) conflicts: u64,
    pub(super) failed: u64,
    pub(super) expired: u64,
    pub(super) empty: u64,
    pub(super) vanished: u64,
    pub(super) rewritten: u64,
    /// Written with `RESTORE` of a payload re-encoded for the target.
    #[serde(default)]
    pub(super) reencoded: u64,
    pub(super) big: u64,
}

impl Counts {
    pub(super) fn add(&mut self, o: &Counts) {
        self.selected += o.selected;
        self.written += o.written;
        self.replaced += o.replaced;
        self.skipped += o.skipped;
        self.conflicts += o.conflicts;
        self.failed += o.failed;
        self.expired += o.expired;
        self.empty += o.empty;
        self.vanished += o.vanished;
        self.rewritten += o.rewritten;
        self.reencoded += o.reencoded;
        self.big += o.big;
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(super) struct State {
    /// Per source db.
    pub(super) per_db: BTreeMap<u32, Counts>,
    pub(super) conflict_keys: Vec<Value>,
    pub(super) failed_keys: Vec<Value>,
    /// Live: master index, db index, cursor. File: file index, offset, db.
    pub(super) a: usize,
    pub(super) b: u64,
    pub(super) c: u64,
    /// The batch being written when the checkpoint was taken.
    pub(super) pending: Option<Pending>,
    /// The target turned out not to read the source's payloads.
    pub(super) rewrite: bool,
    /// Time spent copying and keys paced, over all attempts.
    pub(super) copy_secs: f64,
    pub(super) paced: u64,
    /// Estimated keys (live) or bytes (files), for the percentage.
    pub(super) total: u64,
    pub(super) done_bytes: u64,
    pub(super) copied: bool,
    /// The target dbs that held keys when the ticket began (`INFO
    /// keyspace` of every master). `None`: not known (a checkpoint written
    /// before this was kept), so every batch asks `EXISTS` and the count
    /// `SCAN`s.
    #[serde(default)]
    pub(super) nonempty_at_start: Option<Vec<u32>>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(super) struct Pending {
    pub(super) db: u32,
    /// Live: the batch's keys (hex). File: empty (the batch is re-read).
    pub(super) keys: Vec<String>,
    /// File: which file, where the batch starts, and the db there.
    pub(super) file: usize,
    pub(super) start: u64,
    pub(super) start_db: u64,
    /// Keys of the batch that existed on the target before it was written.
    pub(super) existed: Vec<String>,
}

impl State {
    /// Whether target db `tdb` held no key when the ticket began: then no
    /// key of a batch existed before the ticket, a key that appears since
    /// is found by the write itself (`BUSYKEY`, `NX`), and the count is
    /// `DBSIZE`.
    pub(super) fn empty_at_start(&self, tdb: u32) -> bool {
        self.nonempty_at_start
            .as_ref()
            .is_some_and(|dbs| !dbs.contains(&tdb))
    }

    pub(super) fn totals(&self) -> Counts {
        let mut t = Counts::default();
        for c in self.per_db.values() {
            t.add(c);
        }
        t
    }
}
