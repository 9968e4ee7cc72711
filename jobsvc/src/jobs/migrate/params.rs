//! The parameters of a `migration` ticket (source, target, filters,
//! conflict policy, pacing, verification), their checks at submission, and
//! the filters that select a key.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use rdb_parser::restore::CommandOptions;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::job::{check_allowed_file, ParseCtx};
use crate::redis::{glob_match, Pattern, KEY_TYPES};

/// How a live source is read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SourceMethod {
    /// `SCAN` + `DUMP` + `PTTL` on each master.
    #[default]
    Scan,
    /// Fetch each shard's RDB as a replica and read the files.
    Rdb,
}

/// Where the keys come from: `{"app": "a"}` (or just `"a"`), optionally
/// with `"method": "rdb"`, or `{"file": "/abs/path.rdb"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// A registered app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// An RDB file on the service host, inside an allowed directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub file: Option<PathBuf>,
    /// How a live app is read (default `scan`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<SourceMethod>,
}

fn source_de<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Source, D::Error> {
    let v = Value::deserialize(d)?;
    match v {
        Value::String(app) => Ok(Source {
            app: Some(app),
            file: None,
            method: None,
        }),
        other => serde_json::from_value(other).map_err(serde::de::Error::custom),
    }
}

/// What happens to a key that already exists on the target.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Conflict {
    /// Leave it, record it, go on.
    #[default]
    #[serde(rename = "fail-key")]
    FailKey,
    /// Overwrite it.
    #[serde(rename = "replace")]
    Replace,
    /// Leave it, count it.
    #[serde(rename = "skip")]
    Skip,
}

/// How values are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum WriteMode {
    /// `RESTORE` when the target reads the source's format, else commands.
    #[default]
    Auto,
    /// Always `RESTORE`.
    Restore,
    /// Always commands (`SET`, `RPUSH`, `HSET`, `XADD`…).
    Commands,
}

/// Parameters of a `migration` ticket.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MigrationParams {
    /// Where the keys come from.
    #[serde(deserialize_with = "source_de")]
    pub source: Source,
    /// The app written to.
    pub target: String,
    /// Source databases (default: all; a cluster has only 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dbs: Option<Vec<u32>>,
    /// Keys matching any of these (default: every key).
    #[serde(default)]
    pub patterns: Vec<Pattern>,
    /// Only keys of this type.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub key_type: Option<String>,
    /// What to do with keys already on the target.
    #[serde(default)]
    pub conflict: Conflict,
    /// Source db to target db (default: the same number).
    #[serde(default)]
    pub db_map: BTreeMap<u32, u32>,
    /// Keys per second.
    #[serde(default = "default_rate")]
    #[schema(default = default_rate)]
    pub rate: u64,
    /// Keys per batch (and checkpoint), at most.
    #[serde(default = "default_batch")]
    #[schema(default = default_batch)]
    pub batch: u64,
    /// `RESTORE` or commands.
    #[serde(default)]
    pub write: WriteMode,
    /// Largest command sent when values are written as commands.
    #[serde(default = "default_max_command_bytes")]
    #[schema(default = default_max_command_bytes)]
    pub max_command_bytes: u64,
    /// Keys whose serialized value is larger are all verified.
    #[serde(default = "default_big_key_bytes")]
    #[schema(default = default_big_key_bytes)]
    pub big_key_bytes: u64,
    /// Share of the written keys compared at the end, in percent.
    #[serde(default = "default_verify_percent")]
    #[schema(default = default_verify_percent)]
    pub verify_percent: f64,
    /// Replicas each batch's writes must reach (`WAIT`) before the batch is
    /// checkpointed (default: the service's `wait_replicas`; 0: no `WAIT`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_replicas: Option<u32>,
    /// How long that `WAIT` waits, in ms (default: the service's
    /// `wait_timeout_ms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_timeout_ms: Option<u64>,
}

fn default_rate() -> u64 {
    5000
}
fn default_batch() -> u64 {
    200
}
fn default_max_command_bytes() -> u64 {
    1 << 20
}
fn default_big_key_bytes() -> u64 {
    1 << 20
}
fn default_verify_percent() -> f64 {
    1.0
}

impl MigrationParams {
    /// Checks the parameters at submission.
    pub fn validate(&self, ctx: &ParseCtx<'_>) -> Result<()> {
        let bad = |m: String| Err(Error::bad_request(format!("migration params: {m}")));
        match (&self.source.app, &self.source.file) {
            (Some(a), None) if !a.is_empty() => {}
            (None, Some(f)) => {
                if self.source.method.is_some() {
                    return bad("source.method is for an app source".into());
                }
                check_allowed_file(f, ctx.allowed_dirs)?;
            }
            _ => return bad("give exactly one source: {\"app\": …} or {\"file\": …}".into()),
        }
        if self.target.is_empty() {
            return bad("target is empty".into());
        }
        if self.source.app.as_deref() == Some(self.target.as_str())
            && (self.db_map.is_empty() || self.db_map.iter().any(|(a, b)| a == b))
        {
            return bad(
                "source and target are the same app: map every db to another with db_map".into(),
            );
        }
        if let Some(dbs) = &self.dbs {
            let set: BTreeSet<u32> = dbs.iter().copied().collect();
            if dbs.is_empty() || set.len() != dbs.len() || dbs.iter().any(|d| *d > 1023) {
                return bad("dbs must be distinct numbers 0 to 1023".into());
            }
        }
        if self.db_map.iter().any(|(a, b)| *a > 1023 || *b > 1023) {
            return bad("db_map numbers must be 0 to 1023".into());
        }
        if self.wait_timeout_ms == Some(0) {
            return bad("wait_timeout_ms must be at least 1 (WAIT 0 would block forever)".into());
        }
        if self.patterns.len() > 100 {
            return bad("give at most 100 patterns".into());
        }
        for p in &self.patterns {
            if let Err(m) = p.check_len() {
                return bad(m);
            }
        }
        if self
            .patterns
            .iter()
            .any(|p| matches!(p, Pattern::Glob(g) if g.is_empty()))
        {
            return bad("an empty glob matches no key".into());
        }
        if let Some(t) = &self.key_type {
            if !KEY_TYPES.contains(&t.as_str()) {
                return bad(format!(
                    "type {t:?}: expected one of {}",
                    KEY_TYPES.join(", ")
                ));
            }
        }
        if !(1..=1_000_000).contains(&self.rate) {
            return bad("rate must be 1 to 1000000 keys/s".into());
        }
        if !(1..=10_000).contains(&self.batch) {
            return bad("batch must be 1 to 10000".into());
        }
        if !(1024..=512 << 20).contains(&self.max_command_bytes) {
            return bad("max_command_bytes must be 1024 to 512 MiB".into());
        }
        if !(0.0..=100.0).contains(&self.verify_percent) {
            return bad("verify_percent must be 0 to 100".into());
        }
        Ok(())
    }

    /// The apps the ticket touches.
    pub fn apps(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.source.app.as_deref().into_iter().collect();
        v.push(self.target.as_str());
        v
    }

    pub(super) fn method(&self) -> SourceMethod {
        self.source.method.unwrap_or_default()
    }

    pub(super) fn target_db(&self, db: u32) -> u32 {
        *self.db_map.get(&db).unwrap_or(&db)
    }

    pub(super) fn selects_db(&self, db: u32) -> bool {
        self.dbs.as_ref().is_none_or(|d| d.contains(&db))
    }

    pub(super) fn selects_key(&self, key: &[u8]) -> bool {
        self.patterns.is_empty()
            || self
                .patterns
                .iter()
                .any(|p| glob_match(p.glob().as_bytes(), key))
    }

    pub(super) fn selects_type(&self, kind: &str) -> bool {
        self.key_type.as_deref().is_none_or(|t| t == kind)
    }

    /// Keys per batch: about a fifth of a second's worth, at most `batch`.
    pub(super) fn chunk(&self) -> usize {
        self.batch.min((self.rate / 5).max(1)) as usize
    }

    pub(super) fn sampled(&self, key: &[u8]) -> bool {
        // FNV-1a: the same keys are sampled by every attempt.
        let h = key.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
        });
        ((h % 10_000) as f64) < self.verify_percent * 100.0
    }

    /// The `WAIT` asked of each batch: replicas and timeout in ms, from
    /// the ticket or else the service's configuration.
    pub(crate) fn wait(&self, config: &crate::config::Config) -> (u32, u64) {
        (
            self.wait_replicas.unwrap_or(config.wait_replicas),
            self.wait_timeout_ms.unwrap_or(config.wait_timeout_ms),
        )
    }

    pub(super) fn command_options(&self, streams_v2: bool, rdb_version: u32) -> CommandOptions {
        CommandOptions {
            max_args: 1024,
            max_bytes: (self.max_command_bytes as usize)
                .saturating_sub(4096)
                .max(512),
            streams_v2,
            rdb_version,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const CTX: ParseCtx<'static> = ParseCtx {
        allowed_dirs: &[],
        max_monitor_secs: 300,
        is_admin: false,
    };

    fn parse(v: Value) -> Result<MigrationParams> {
        let p: MigrationParams =
            serde_json::from_value(v).map_err(|e| Error::bad_request(e.to_string()))?;
        p.validate(&CTX)?;
        Ok(p)
    }

    #[test]
    fn params() {
        let p = parse(json!({"source": "a", "target": "b"})).unwrap();
        assert_eq!(p.source.app.as_deref(), Some("a"));
        assert_eq!(p.apps(), vec!["a", "b"]);
        assert_eq!(p.conflict, Conflict::FailKey);
        let p = parse(json!({"source": {"app": "a", "method": "rdb"}, "target": "b", "conflict": "skip", "db_map": {"1": 0}})).unwrap();
        assert_eq!(p.target_db(1), 0);
        assert_eq!(p.target_db(2), 2);
        let text = serde_json::to_string(&p).unwrap();
        let again: MigrationParams = serde_json::from_str(&text).unwrap();
        assert_eq!(again, p);
        for bad in [
            json!({"source": "a"}),
            json!({"source": {"app": "a", "file": "/x"}, "target": "b"}),
            json!({"source": "a", "target": "a"}),
            json!({"source": "a", "target": "b", "conflict": "overwrite"}),
            json!({"source": "a", "target": "b", "rate": 0}),
            json!({"source": "a", "target": "b", "type": "blob"}),
            json!({"source": {"file": "relative.rdb"}, "target": "b"}),
            json!({"source": "a", "target": "b", "colour": 1}),
        ] {
            assert!(parse(bad.clone()).is_err(), "{bad}");
        }
    }
}
