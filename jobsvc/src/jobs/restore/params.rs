//! The parameters of a `restore` ticket: which cleanup's backup, which app,
//! what to do with keys that exist again, and the pace.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::job::ParseCtx;

/// What happens to a key of the backup that exists again on the app.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RestoreConflict {
    /// Leave it as it is now, count it.
    #[default]
    Skip,
    /// Overwrite it with the backup's value.
    Replace,
}

/// Parameters of a `restore` ticket.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreParams {
    /// The cleanup ticket whose backup is put back.
    pub ticket: i64,
    /// The app written to: the cleanup's app.
    pub app: String,
    /// Keys that exist again (delete backups).
    #[serde(default)]
    pub conflict: RestoreConflict,
    /// Keys per second.
    #[serde(default = "default_rate")]
    #[schema(default = default_rate)]
    pub rate: u64,
    /// Keys per batch (and checkpoint).
    #[serde(default = "default_batch")]
    #[schema(default = default_batch)]
    pub batch: u64,
    /// Share of the restored keys compared with the backup at the end, in
    /// percent (keys over 1 MiB are all compared).
    #[serde(default = "default_verify_percent")]
    #[schema(default = default_verify_percent)]
    pub verify_percent: f64,
    /// Replicas each batch must reach (`WAIT`; default: the service's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_replicas: Option<u32>,
    /// How long that `WAIT` waits, in ms (default: the service's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_timeout_ms: Option<u64>,
}

fn default_rate() -> u64 {
    5000
}
fn default_batch() -> u64 {
    200
}
fn default_verify_percent() -> f64 {
    10.0
}

impl RestoreParams {
    /// Checks the parameters at submission (the source ticket is checked
    /// with the plan, which has the store).
    pub fn validate(&self, _ctx: &ParseCtx<'_>) -> Result<()> {
        let bad = |m: &str| Err(Error::bad_request(format!("restore params: {m}")));
        if self.ticket <= 0 {
            return bad("ticket must be the id of a cleanup ticket");
        }
        if self.app.is_empty() {
            return bad("app is empty");
        }
        if self.rate == 0 || self.rate > 1_000_000 {
            return bad("rate must be 1 to 1000000 keys per second");
        }
        if self.batch == 0 || self.batch > 10_000 {
            return bad("batch must be 1 to 10000");
        }
        if !(0.0..=100.0).contains(&self.verify_percent) {
            return bad("verify_percent must be 0 to 100");
        }
        if self.wait_timeout_ms == Some(0) {
            return bad("wait_timeout_ms must be at least 1 (WAIT 0 would block forever)");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn restore_params_are_checked() {
        let ctx = ParseCtx {
            allowed_dirs: &[],
            max_monitor_secs: 1,
            is_admin: false,
        };
        let p: RestoreParams = serde_json::from_value(json!({"ticket": 3, "app": "a"})).unwrap();
        p.validate(&ctx).unwrap();
        assert_eq!(p.conflict, RestoreConflict::Skip);
        for bad in [
            json!({"ticket": 0, "app": "a"}),
            json!({"ticket": 1, "app": ""}),
            json!({"ticket": 1, "app": "a", "rate": 0}),
            json!({"ticket": 1, "app": "a", "verify_percent": 101}),
            json!({"ticket": 1, "app": "a", "wait_timeout_ms": 0}),
        ] {
            let p: RestoreParams = serde_json::from_value(bad.clone()).unwrap();
            assert!(p.validate(&ctx).is_err(), "{bad}");
        }
        assert!(serde_json::from_value::<RestoreParams>(
            json!({"ticket": 1, "app": "a", "conflict": "fail-key"})
        )
        .is_err());
    }
}
