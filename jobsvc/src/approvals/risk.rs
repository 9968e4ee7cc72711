//! The risk level of a ticket, computed from its plan (keys, bytes,
//! masters, mode): one pure function, shown with the plan and used to
//! choose the approval policy.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ticket::Impact;

/// How much a ticket can break.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Risk {
    /// Reads only, a dry run, or a few keys.
    Low,
    /// Up to 100,000 keys or 1 GiB.
    Medium,
    /// Up to 1,000,000 keys or 16 GiB, or a migration that overwrites keys.
    High,
    /// More than that.
    Critical,
}

impl Risk {
    /// The name used in the API and the config.
    pub fn as_str(self) -> &'static str {
        match self {
            Risk::Low => "low",
            Risk::Medium => "medium",
            Risk::High => "high",
            Risk::Critical => "critical",
        }
    }

    fn from_level(n: i32) -> Risk {
        match n {
            i32::MIN..=0 => Risk::Low,
            1 => Risk::Medium,
            2 => Risk::High,
            _ => Risk::Critical,
        }
    }
}

const MIB: u64 = 1 << 20;

/// What a plan says the ticket touches: its keys and bytes (a cleanup's
/// `keys`/`memory_bytes`; a migration's `keys_estimate` and its source
/// file's bytes). None for a plan without a key count (analysis, hot keys).
pub fn impact(plan: &Value) -> Option<Impact> {
    let keys = plan["keys"]
        .as_u64()
        .or_else(|| plan["keys_estimate"].as_u64())?;
    let bytes = plan["memory_bytes"]
        .as_u64()
        .or_else(|| plan["source"]["bytes"].as_u64())
        .unwrap_or(0);
    Some(Impact { keys, bytes })
}

/// The masters a plan writes to (a cleanup's `masters`, a migration's
/// target's).
fn masters(plan: &Value) -> usize {
    let m = if plan["target"].is_object() {
        &plan["target"]["masters"]
    } else {
        &plan["masters"]
    };
    m.as_array().map_or(0, Vec::len)
}

/// The risk of a `kind` ticket with this plan. Reads (analysis, hot keys)
/// and dry runs are low; otherwise the larger of the level by keys
/// (≤ 1,000 low, ≤ 100,000 medium, ≤ 1,000,000 high) and by bytes
/// (≤ 64 MiB, ≤ 1 GiB, ≤ 16 GiB), one level higher when more than 3
/// masters are written or when no rollback is possible (a cleanup
/// without a backup), one lower for `expire` mode (keys fade out, and a
/// mistake can be seen before they are gone), and at least high for a
/// migration that replaces keys on the target. A plan without a key count
/// (the estimate failed) is at least medium.
pub fn risk(kind: &str, plan: &Value) -> Risk {
    if matches!(kind, "analysis" | "hotkeys") || plan["dry_run"].as_bool() == Some(true) {
        return Risk::Low;
    }
    let level = |v: u64, steps: [u64; 3]| steps.iter().filter(|s| v > **s).count() as i32;
    let mut n = match impact(plan) {
        Some(i) => level(i.keys, [1_000, 100_000, 1_000_000])
            .max(level(i.bytes, [64 * MIB, 1024 * MIB, 16 * 1024 * MIB])),
        None => 1,
    };
    if masters(plan) > 3 {
        n += 1;
    }
    if plan["mode"].as_str() == Some("expire") {
        n -= 1;
    }
    if plan["rollback_possible"].as_bool() == Some(false) {
        n += 1;
    }
    if plan["conflict"].as_str() == Some("replace") {
        n = n.max(2);
    }
    if impact(plan).is_none() {
        n = n.max(1);
    }
    Risk::from_level(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cleanup(keys: u64, bytes: u64) -> Value {
        json!({"keys": keys, "memory_bytes": bytes, "masters": ["a:1"], "mode": "delete", "dry_run": false})
    }

    #[test]
    fn reads_and_dry_runs_are_low() {
        assert_eq!(risk("analysis", &json!({"app": "shop"})), Risk::Low);
        assert_eq!(risk("hotkeys", &json!({})), Risk::Low);
        let mut p = cleanup(10_000_000, 1 << 40);
        p["dry_run"] = json!(true);
        assert_eq!(risk("cleanup", &p), Risk::Low);
    }

    #[test]
    fn keys_and_bytes_set_the_level() {
        assert_eq!(risk("cleanup", &cleanup(1_000, 0)), Risk::Low);
        assert_eq!(risk("cleanup", &cleanup(1_001, 0)), Risk::Medium);
        assert_eq!(risk("cleanup", &cleanup(100_001, 0)), Risk::High);
        assert_eq!(risk("cleanup", &cleanup(1_000_001, 0)), Risk::Critical);
        assert_eq!(risk("cleanup", &cleanup(10, 2 << 30)), Risk::High);
        assert_eq!(risk("cleanup", &cleanup(10, 100 * MIB)), Risk::Medium);
    }

    #[test]
    fn masters_mode_and_conflict_shift_it() {
        let mut p = cleanup(5_000, 0);
        p["masters"] = json!(["a", "b", "c", "d"]);
        assert_eq!(risk("cleanup", &p), Risk::High);
        p["mode"] = json!("expire");
        assert_eq!(risk("cleanup", &p), Risk::Medium);
        let mut p = cleanup(5_000, 0);
        p["rollback_possible"] = json!(false);
        assert_eq!(risk("cleanup", &p), Risk::High);
        let m = json!({"keys_estimate": 10, "target": {"masters": ["t:1"]}, "conflict": "replace"});
        assert_eq!(risk("migration", &m), Risk::High);
        let m = json!({"keys_estimate": 10, "target": {"masters": ["t:1"]}, "conflict": "skip"});
        assert_eq!(risk("migration", &m), Risk::Low);
        // No count: at least medium.
        assert_eq!(
            risk("migration", &json!({"keys_estimate": null})),
            Risk::Medium
        );
        assert_eq!(
            impact(&json!({"keys_estimate": 7, "source": {"bytes": 99}})),
            Some(Impact { keys: 7, bytes: 99 })
        );
        assert!(Risk::Low < Risk::Critical);
    }
}
