//! The state of a cleanup run and what every step of it uses: the
//! counters, progress and checkpoints, the pause while a node is under
//! pressure, the sample of keys acted on, and the TTL generator.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::checkpoint::{Checkpoint, Counts};
use super::params::CleanupParams;
use crate::error::{Error, Result};
use crate::job::JobCtx;
use crate::redis::{pressure, Bucket};
use crate::registry;

/// Keys a sample in the report and in the plan holds at most.
pub(super) const SAMPLE: usize = 100;

/// A cleanup under way.
pub(super) struct Run<'a> {
    pub(super) ctx: &'a JobCtx,
    pub(super) p: &'a CleanupParams,
    pub(super) cp: Checkpoint,
    pub(super) bucket: Bucket,
    pub(super) rng: Rng,
    pub(super) started: Instant,
    pub(super) prior_secs: f64,
    pub(super) last_pressure: Option<Instant>,
    pub(super) last_save: Instant,
    pub(super) passes: usize,
    pub(super) estimate: u64,
    pub(super) cluster: bool,
    /// The backup being written (none in a dry run).
    pub(super) backup: Option<crate::backup::write::BackupWriter>,
}

impl Run<'_> {
    pub(super) fn seconds(&self) -> f64 {
        self.prior_secs + self.started.elapsed().as_secs_f64()
    }

    pub(super) fn totals(&self) -> Counts {
        let mut t = Counts::default();
        for c in self.cp.nodes.values() {
            t.add(c);
        }
        t
    }

    pub(super) fn percent(&self) -> f64 {
        let t = self.totals();
        if self.estimate > 0 {
            (t.selected as f64 / self.estimate as f64 * 100.0).min(99.0)
        } else {
            (self.cp.done.len() as f64 / self.passes.max(1) as f64 * 100.0).min(99.0)
        }
    }

    pub(super) fn counters(&self, node: &str) -> Value {
        let t = self.totals();
        json!({
            "node": node,
            "scanned": t.scanned,
            "selected": t.selected,
            "deleted": t.deleted,
            "expired": t.expired,
            "big_keys": t.big_keys,
            "passes_done": self.cp.done.len(),
            "passes": self.passes,
            "paused_secs": (self.cp.paused_secs * 10.0).round() / 10.0,
        })
    }

    pub(super) fn save(&mut self, node: &str) -> Result<()> {
        self.cp.seconds = self.seconds();
        let cp = serde_json::to_value(&self.cp).map_err(|e| Error::internal(e.to_string()))?;
        let pct = self.percent();
        let counters = self.counters(node);
        self.ctx.checkpoint(&cp, "cleaning", pct, counters)?;
        self.last_save = Instant::now();
        Ok(())
    }

    pub(super) fn node(&mut self, addr: &str) -> &mut Counts {
        self.cp.nodes.entry(addr.to_string()).or_default()
    }

    /// Keys a step deleted on `addr`: the service's keys-touched metric
    /// (`deleted`) and the node's counters (`recovered`: keys a killed
    /// attempt deleted, counted now; their elements, and the keys whose
    /// element count is unknown).
    pub(super) fn record_deleted(
        &mut self,
        addr: &str,
        deleted: u64,
        recovered: u64,
        elements: u64,
        elements_unknown: u64,
    ) {
        self.ctx.touched(deleted);
        let c = self.node(addr);
        c.deleted += deleted + recovered;
        c.recovered += recovered;
        c.elements += elements;
        c.elements_unknown += elements_unknown;
    }

    /// Waits while the node is under pressure (checked at most 4 times a
    /// second).
    pub(super) fn wait_pressure(&mut self, conn: &mut redis::Connection, addr: &str) -> Result<()> {
        if self
            .last_pressure
            .is_some_and(|t| t.elapsed() < Duration::from_millis(250))
        {
            return Ok(());
        }
        loop {
            let persistence = registry::info(conn, "persistence")?;
            let replication = registry::info(conn, "replication")?;
            self.last_pressure = Some(Instant::now());
            let Some(reason) = pressure(&persistence, &replication, self.p.max_lag_bytes) else {
                return Ok(());
            };
            self.ctx.paused(&format!("{addr}: {reason}"));
            let mut counters = self.counters(addr);
            counters["reason"] = json!(reason);
            self.ctx.progress("paused", self.percent(), counters, false);
            self.ctx.check_cancel()?;
            std::thread::sleep(Duration::from_millis(500));
            self.cp.paused_secs += 0.5;
        }
    }

    pub(super) fn note_sample(&mut self, addr: &str, db: u32, key: &[u8]) {
        if self.cp.sample.len() < SAMPLE {
            self.cp.sample.push(json!({
                "node": addr,
                "db": db,
                "key": String::from_utf8_lossy(key),
                "key_base64": analyzer::base64::base64(key),
            }));
        }
    }
}

/// A little xorshift generator for the TTLs of `expire` mode.
pub(super) struct Rng(u64);

impl Rng {
    pub(super) fn new() -> Rng {
        let seed = crate::auth::random_bytes(8)
            .ok()
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
            .unwrap_or(0x9e37_79b9_7f4a_7c15);
        Rng(seed | 1)
    }

    pub(super) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        lo + self.0 % (hi - lo + 1)
    }
}
