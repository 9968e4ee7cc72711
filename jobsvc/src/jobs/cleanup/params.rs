//! The parameters of a `cleanup` ticket, their checks at submission, and
//! the filters that select a key.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::job::ParseCtx;
use crate::redis::{Pattern, KEY_TYPES};

/// Which keys by TTL.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TtlFilter {
    /// All.
    #[default]
    Any,
    /// Only keys that have a TTL.
    With,
    /// Only keys without a TTL.
    Without,
}

/// What is done to the keys.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// `UNLINK` them.
    #[default]
    Delete,
    /// Give each a random TTL within `expire_secs`, so that they expire
    /// spread out (never lengthening a key's life).
    Expire,
}

/// Parameters of a `cleanup` ticket.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CleanupParams {
    /// The app acted on.
    pub app: String,
    /// Databases (a cluster has only 0).
    #[serde(default = "default_dbs")]
    #[schema(default = default_dbs)]
    pub dbs: Vec<u32>,
    /// Keys matching any of these.
    pub patterns: Vec<Pattern>,
    /// Only keys of this type.
    #[serde(default, rename = "type")]
    pub key_type: Option<String>,
    /// Only keys with, or without, a TTL.
    #[serde(default)]
    pub ttl: TtlFilter,
    /// Only keys idle (not accessed) for at least this long.
    #[serde(default)]
    pub idle_secs_min: Option<u64>,
    /// Delete, or set a TTL.
    #[serde(default)]
    pub mode: Mode,
    /// `expire` mode: the TTL is drawn uniformly from `[min, max]` seconds.
    #[serde(default)]
    pub expire_secs: Option<[u64; 2]>,
    /// Keys per second, over the whole job (all masters).
    #[serde(default = "default_rate")]
    #[schema(default = default_rate)]
    pub rate: u64,
    /// `SCAN COUNT`, and elements removed per command from a big collection.
    #[serde(default = "default_batch")]
    #[schema(default = default_batch)]
    pub batch: u64,
    /// Collections with more members than this are emptied in chunks
    /// before they are unlinked.
    #[serde(default = "default_big_elements")]
    #[schema(default = default_big_elements)]
    pub big_elements: u64,
    /// Count what would be done; change nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Write the backup a rollback restores (`DUMP` payloads or previous
    /// TTLs) before each batch. `false` (`delete` mode only) skips it for
    /// speed: large `SCAN`s, pipelined many-key `UNLINK`s, and **no
    /// rollback possible**.
    #[serde(default = "default_backup")]
    #[schema(default = default_backup)]
    pub backup: bool,
    /// Allow a pattern that matches every key (admins only).
    #[serde(default)]
    pub force: bool,
    /// Pause while a replica lags its master by more than this.
    #[serde(default = "default_max_lag")]
    #[schema(default = default_max_lag)]
    pub max_lag_bytes: u64,
}

fn default_dbs() -> Vec<u32> {
    vec![0]
}
fn default_rate() -> u64 {
    1000
}
fn default_batch() -> u64 {
    500
}
fn default_backup() -> bool {
    true
}
fn default_big_elements() -> u64 {
    1000
}
fn default_max_lag() -> u64 {
    1 << 20
}

impl CleanupParams {
    /// Checks the parameters at submission.
    pub fn validate(&self, ctx: &ParseCtx<'_>) -> Result<()> {
        let bad = |m: String| Err(Error::bad_request(format!("cleanup params: {m}")));
        if self.force && !ctx.is_admin {
            return Err(Error::forbidden(
                "cleanup params: only an admin may set force",
            ));
        }
        if self.app.is_empty() {
            return bad("app is empty".into());
        }
        if self.patterns.is_empty() || self.patterns.len() > 100 {
            return bad("give 1 to 100 patterns".into());
        }
        for pat in &self.patterns {
            pat.check_len()
                .map_err(|m| Error::bad_request(format!("cleanup params: {m}")))?;
            if let Pattern::Glob(g) = pat {
                if g.is_empty() {
                    return bad(
                        "an empty glob matches no key (an empty prefix is every key)".into(),
                    );
                }
            }
            if pat.matches_everything() && !self.force {
                return bad(format!(
                    "pattern {:?} matches every key: refused unless an admin sets \"force\": true",
                    pat.glob()
                ));
            }
        }
        if self.dbs.is_empty() || self.dbs.len() > 64 {
            return bad("give 1 to 64 dbs".into());
        }
        let mut dbs = self.dbs.clone();
        dbs.sort_unstable();
        dbs.dedup();
        if dbs.len() != self.dbs.len() || dbs.iter().any(|d| *d > 1023) {
            return bad("dbs must be distinct numbers 0 to 1023".into());
        }
        if let Some(t) = &self.key_type {
            if !KEY_TYPES.contains(&t.as_str()) {
                return bad(format!(
                    "type {t:?}: expected one of {}",
                    KEY_TYPES.join(", ")
                ));
            }
        }
        match (self.mode, self.expire_secs) {
            (Mode::Expire, None) => {
                return bad("mode \"expire\" needs expire_secs: [min, max]".into())
            }
            (Mode::Expire, Some([lo, hi])) if lo == 0 || lo > hi || hi > 10 * 365 * 86_400 => {
                return bad(
                    "expire_secs must be [min, max] with 1 <= min <= max <= 10 years".into(),
                )
            }
            (Mode::Delete, Some(_)) => return bad("expire_secs is for mode \"expire\"".into()),
            _ => {}
        }
        if !self.backup && self.mode == Mode::Expire {
            return bad(
                "backup: false is for mode \"delete\" (an expire cleanup's backup is one line a key)"
                    .into(),
            );
        }
        if !(1..=1_000_000).contains(&self.rate) {
            return bad("rate must be 1 to 1000000 keys/s".into());
        }
        if !(1..=10_000).contains(&self.batch) {
            return bad("batch must be 1 to 10000".into());
        }
        if self.big_elements == 0 {
            return bad("big_elements must be at least 1".into());
        }
        Ok(())
    }

    /// Whether a restore ticket can undo the cleanup: it changes keys and
    /// writes their backup.
    pub fn rollback_possible(&self) -> bool {
        !self.dry_run && self.backup
    }

    /// The apps the ticket touches.
    pub fn apps(&self) -> Vec<&str> {
        vec![self.app.as_str()]
    }

    pub(super) fn globs(&self) -> Vec<String> {
        self.patterns.iter().map(Pattern::glob).collect()
    }

    /// Keys acted on per pipeline: about a tenth of a second's worth at the
    /// rate, at most `batch`; without a backup, at most a group (at a high
    /// rate a group's `UNLINK`s go out in one pipeline).
    pub(super) fn chunk(&self) -> usize {
        let tenth = (self.rate / 10).max(1);
        if self.fast() {
            return (tenth as usize).min(self.group());
        }
        self.batch.min(tenth) as usize
    }

    /// A delete that writes no backup (`"backup": false`, not a dry run):
    /// large `SCAN`s, no `DUMP`, a group's `UNLINK`s in one pipeline.
    pub(super) fn fast(&self) -> bool {
        !self.backup && !self.dry_run && self.mode == Mode::Delete
    }

    /// `SCAN COUNT`: `batch`, or without a backup a group's worth (up to
    /// 10,000), since no `DUMP` follows each key.
    pub(super) fn scan_count(&self) -> u64 {
        if self.fast() {
            (self.group() as u64).clamp(self.batch, 10_000.max(self.batch))
        } else {
            self.batch
        }
    }

    /// Keys gathered by `SCAN`s before their backup is synced and the
    /// checkpoint written (one sync, one checkpoint for them all): a tenth
    /// of a second's worth at the rate, from one `batch` to 16.
    pub(super) fn group(&self) -> usize {
        let batch = self.batch as usize;
        ((self.rate / 10) as usize).clamp(batch, 16 * batch)
    }

    /// Whether the keys a `SCAN` returns are read (`TYPE`, `PTTL`, idle
    /// time) before they are chosen: for a filter, for `expire` mode, and
    /// in a dry run (nothing is backed up there, so no `DUMP` tells which
    /// keys are gone). A plain delete chooses every key the `SCAN` gives.
    pub(super) fn reads_keys(&self) -> bool {
        self.dry_run
            || self.mode == Mode::Expire
            || self.key_type.is_some()
            || self.ttl != TtlFilter::Any
            || self.idle_secs_min.is_some()
    }

    /// Whether a key with this type, PTTL (ms, -1 none) and idle time
    /// passes the filters; `expire` mode also leaves keys whose TTL is
    /// already within the range.
    pub(super) fn selects(&self, kind: &str, pttl: i64, idle: Option<u64>) -> bool {
        if kind == "none" || pttl == -2 {
            return false;
        }
        if self.key_type.as_deref().is_some_and(|t| t != kind) {
            return false;
        }
        match self.ttl {
            TtlFilter::Any => {}
            TtlFilter::With if pttl < 0 => return false,
            TtlFilter::Without if pttl >= 0 => return false,
            _ => {}
        }
        if let (Some(min), Some(idle)) = (self.idle_secs_min, idle) {
            if idle < min {
                return false;
            }
        }
        if let (Mode::Expire, Some([_, hi])) = (self.mode, self.expire_secs) {
            if pttl >= 0 && pttl <= (hi as i64) * 1000 {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn ctx(admin: bool) -> ParseCtx<'static> {
        ParseCtx {
            allowed_dirs: &[],
            max_monitor_secs: 300,
            is_admin: admin,
        }
    }

    fn parse(v: Value, admin: bool) -> Result<CleanupParams> {
        let p: CleanupParams =
            serde_json::from_value(v).map_err(|e| Error::bad_request(e.to_string()))?;
        p.validate(&ctx(admin))?;
        Ok(p)
    }

    #[test]
    fn params_defaults_and_guards() {
        let p = parse(
            json!({"app": "shop", "patterns": [{"prefix": "login:"}]}),
            false,
        )
        .unwrap();
        assert_eq!(p.dbs, vec![0]);
        assert_eq!((p.rate, p.batch, p.big_elements), (1000, 500, 1000));
        assert!(p.backup && !p.fast());
        assert_eq!((p.scan_count(), p.chunk()), (500, 100));
        assert_eq!(p.globs(), vec!["login:*".to_string()]);
        let text = serde_json::to_string(&p).unwrap();
        assert!(
            text.contains("\"patterns\":[{\"prefix\":\"login:\"}]"),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<CleanupParams>(&text).unwrap(), p);
        let kind = |v: Value, admin| parse(v, admin).unwrap_err().kind;
        use crate::ErrorKind::{BadRequest, Forbidden};
        assert_eq!(
            kind(json!({"app": "a", "patterns": [{"glob": "*"}]}), false),
            BadRequest
        );
        assert_eq!(
            kind(json!({"app": "a", "patterns": [{"glob": "*"}]}), true),
            BadRequest
        );
        assert_eq!(
            kind(json!({"app": "a", "patterns": [{"prefix": ""}]}), true),
            BadRequest
        );
        assert_eq!(
            kind(
                json!({"app": "a", "patterns": [{"glob": "*"}], "force": true}),
                false
            ),
            Forbidden
        );
        assert!(parse(
            json!({"app": "a", "patterns": [{"glob": "**"}], "force": true}),
            true
        )
        .is_ok());
        for bad in [
            json!({"app": "a", "patterns": []}),
            json!({"app": "a"}),
            json!({"app": "a", "patterns": [{"glob": ""}]}),
            json!({"app": "a", "patterns": [{"regex": "x"}]}),
            json!({"app": "a", "patterns": [{"prefix": "x"}], "colour": 1}),
            json!({"app": "a", "patterns": [{"prefix": "x"}], "type": "blob"}),
            json!({"app": "a", "patterns": [{"prefix": "x"}], "mode": "expire"}),
            json!({"app": "a", "patterns": [{"prefix": "x"}], "mode": "expire", "expire_secs": [10, 5]}),
            json!({"app": "a", "patterns": [{"prefix": "x"}], "expire_secs": [1, 5]}),
            json!({"app": "a", "patterns": [{"prefix": "x"}], "rate": 0}),
            json!({"app": "a", "patterns": [{"prefix": "x"}], "dbs": [1, 1]}),
            json!({"app": "a", "patterns": [{"prefix": "x"}], "backup": "no"}),
            json!({"app": "a", "patterns": [{"prefix": "x"}], "backup": false, "mode": "expire", "expire_secs": [1, 5]}),
        ] {
            assert_eq!(kind(bad.clone(), true), BadRequest, "{bad}");
        }
    }

    #[test]
    fn without_a_backup_scans_and_unlinks_in_large_groups() {
        let fast = |extra: Value| {
            let mut v = json!({"app": "a", "patterns": [{"prefix": "x"}], "backup": false, "rate": 1_000_000, "batch": 1000});
            for (k, x) in extra.as_object().unwrap() {
                v[k] = x.clone();
            }
            parse(v, false).unwrap()
        };
        let p = fast(json!({}));
        assert!(p.fast() && !p.backup);
        assert_eq!((p.scan_count(), p.chunk()), (10_000, 16_000));
        let slow = fast(json!({"rate": 1000, "batch": 200}));
        assert_eq!((slow.scan_count(), slow.chunk()), (200, 100));
        let crawl = fast(json!({"rate": 1, "batch": 500}));
        assert_eq!((crawl.scan_count(), crawl.chunk()), (500, 1));
        assert!(!fast(json!({"dry_run": true})).fast());
        let with = fast(json!({"backup": true}));
        assert_eq!((with.scan_count(), with.chunk()), (1000, 1000));
    }

    #[test]
    fn keys_are_read_only_when_something_needs_them() {
        let plain = json!({"app": "a", "patterns": [{"prefix": "x"}]});
        assert!(!parse(plain.clone(), false).unwrap().reads_keys());
        for extra in [
            json!({"dry_run": true}),
            json!({"type": "hash"}),
            json!({"ttl": "with"}),
            json!({"ttl": "without"}),
            json!({"idle_secs_min": 5}),
            json!({"mode": "expire", "expire_secs": [1, 2]}),
        ] {
            let mut v = plain.clone();
            for (k, x) in extra.as_object().unwrap() {
                v[k] = x.clone();
            }
            assert!(parse(v, false).unwrap().reads_keys(), "{extra}");
        }
    }

    #[test]
    fn filters() {
        let p = parse(
            json!({"app": "a", "patterns": [{"prefix": "x"}], "type": "hash", "ttl": "without"}),
            false,
        )
        .unwrap();
        assert!(p.selects("hash", -1, None));
        assert!(!p.selects("hash", 5000, None));
        assert!(!p.selects("string", -1, None));
        assert!(!p.selects("none", -1, None));
        let e = parse(json!({"app": "a", "patterns": [{"prefix": "x"}], "mode": "expire", "expire_secs": [60, 120], "idle_secs_min": 10}), false).unwrap();
        assert!(e.selects("string", -1, Some(11)));
        assert!(!e.selects("string", -1, Some(9)));
        assert!(
            !e.selects("string", 100_000, Some(11)),
            "already expires within the range"
        );
        assert!(e.selects("string", 500_000, Some(11)));
    }
}
