//! Ticket statistics over a period: tickets by type and state, time to
//! first approval and to completion (median, p90), rejection and failure
//! rates, and keys deleted or migrated and bytes analyzed per group (per
//! app; a grouping is one function from a ticket to its group names), as
//! JSON for `GET /stats` and as Prometheus text for `/metrics`.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::store::TicketFacts;
use crate::ticket::TicketState;

/// Median and p90 of some durations, in seconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, ToSchema)]
pub struct Durations {
    /// How many tickets have this duration.
    pub count: u64,
    /// The median (nearest rank), or null without any.
    pub median_secs: Option<f64>,
    /// The 90th percentile (nearest rank), or null without any.
    pub p90_secs: Option<f64>,
    /// Their sum (for Prometheus summaries).
    pub sum_secs: f64,
}

impl Durations {
    /// From durations in milliseconds.
    pub fn of(mut ms: Vec<i64>) -> Durations {
        ms.sort_unstable();
        let rank = |p: f64| -> Option<f64> {
            if ms.is_empty() {
                return None;
            }
            let i = ((p * ms.len() as f64).ceil() as usize).clamp(1, ms.len()) - 1;
            Some(ms[i] as f64 / 1000.0)
        };
        Durations {
            count: ms.len() as u64,
            median_secs: rank(0.5),
            p90_secs: rank(0.9),
            sum_secs: ms.iter().sum::<i64>() as f64 / 1000.0,
        }
    }
}

/// What the tickets of one group (an app) did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct GroupFigures {
    /// Tickets filed.
    pub tickets: u64,
    /// Keys deleted by cleanups (`delete` mode).
    pub keys_deleted: u64,
    /// Keys given a TTL by cleanups (`expire` mode).
    pub keys_expired: u64,
    /// Keys written by migrations to this app.
    pub keys_migrated: u64,
    /// RDB bytes read by analyses.
    pub bytes_analyzed: u64,
}

/// The statistics of the tickets filed in a period.
#[derive(Clone, Debug, Default, PartialEq, Serialize, ToSchema)]
pub struct Stats {
    /// Tickets filed in the period.
    pub tickets: u64,
    /// Per state.
    pub by_state: BTreeMap<String, u64>,
    /// Per type, then per state.
    pub by_type: BTreeMap<String, BTreeMap<String, u64>>,
    /// From filing to the first approval (by an admin or automatic).
    pub time_to_approval: Durations,
    /// From filing to the end of the run (succeeded or failed).
    pub time_to_completion: Durations,
    /// Tickets rejected.
    pub rejected: u64,
    /// Rejected over decided (approved or rejected); null when none was decided.
    pub rejection_rate: Option<f64>,
    /// Tickets failed.
    pub failed: u64,
    /// Failed over finished runs (succeeded or failed); null when none finished.
    pub failure_rate: Option<f64>,
    /// Per app (a migration counts for its target and its source app).
    pub per_app: BTreeMap<String, GroupFigures>,
    /// Per team owning those apps (`GET /stats` fills it from the apps'
    /// owners; apps without a team count for none).
    pub per_team: BTreeMap<String, GroupFigures>,
}

/// The apps a ticket names: `app`, a migration's `target` and source `app`.
pub fn apps_of(f: &TicketFacts) -> Vec<String> {
    let p: Value = serde_json::from_str(&f.params).unwrap_or(Value::Null);
    let mut out = Vec::new();
    for v in [&p["app"], &p["target"], &p["source"]["app"]] {
        if let Some(a) = v.as_str() {
            if !out.iter().any(|o| o == a) {
                out.push(a.to_string());
            }
        }
    }
    out
}

fn count(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

/// Adds ticket `f` to the figures of group `g` (`target` is the group a
/// migration writes to, when this group is it).
fn add(g: &mut GroupFigures, f: &TicketFacts, is_target: bool) {
    g.tickets += 1;
    if f.state != TicketState::Succeeded {
        return;
    }
    let r: Value = f
        .result
        .as_deref()
        .and_then(|r| serde_json::from_str(r).ok())
        .unwrap_or(Value::Null);
    match f.kind.as_str() {
        "cleanup" if r["dry_run"] != Value::Bool(true) => {
            g.keys_deleted += count(&r["deleted"]);
            g.keys_expired += count(&r["expired"]);
        }
        "migration" if is_target => g.keys_migrated += count(&r["counts"]["written"]),
        "analysis" => g.bytes_analyzed += count(&r["rdb_bytes"]),
        _ => {}
    }
}

/// Figures per group, for the groups `groups_of` names for each ticket
/// (per app: [`apps_of`]; per team, the teams owning those apps).
pub fn by_group(
    facts: &[TicketFacts],
    groups_of: impl Fn(&TicketFacts) -> Vec<String>,
) -> BTreeMap<String, GroupFigures> {
    let mut out: BTreeMap<String, GroupFigures> = BTreeMap::new();
    for f in facts {
        let target = serde_json::from_str::<Value>(&f.params)
            .ok()
            .and_then(|p| p["target"].as_str().map(str::to_string));
        let target_groups = target
            .map(|t| {
                groups_of(&TicketFacts {
                    params: serde_json::json!({ "app": t }).to_string(),
                    ..f.clone()
                })
            })
            .unwrap_or_default();
        for g in groups_of(f) {
            let is_target = f.kind != "migration" || target_groups.contains(&g);
            add(out.entry(g).or_default(), f, is_target);
        }
    }
    out
}

fn rate(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| (part as f64 / whole as f64 * 10_000.0).round() / 10_000.0)
}

impl Stats {
    /// The statistics of `facts` (the tickets of a period).
    pub fn of(facts: &[TicketFacts]) -> Stats {
        let mut s = Stats {
            tickets: facts.len() as u64,
            ..Stats::default()
        };
        let (mut approvals, mut completions) = (Vec::new(), Vec::new());
        let (mut decided, mut finished) = (0, 0);
        for f in facts {
            let st = f.state.as_str().to_string();
            *s.by_state.entry(st.clone()).or_default() += 1;
            *s.by_type
                .entry(f.kind.clone())
                .or_default()
                .entry(st)
                .or_default() += 1;
            if let Some(a) = f.approved_at {
                approvals.push(a - f.created_at);
                decided += 1;
            } else if f.rejected_at.is_some() {
                decided += 1;
            }
            if let (TicketState::Succeeded | TicketState::Failed, Some(end)) =
                (f.state, f.finished_at)
            {
                completions.push(end - f.created_at);
                finished += 1;
            }
            s.rejected += u64::from(f.state == TicketState::Rejected);
            s.failed += u64::from(f.state == TicketState::Failed);
        }
        s.time_to_approval = Durations::of(approvals);
        s.time_to_completion = Durations::of(completions);
        s.rejection_rate = rate(s.rejected, decided);
        s.failure_rate = rate(s.failed, finished);
        s.per_app = by_group(facts, apps_of);
        s
    }

    /// The same figures as Prometheus text (gauges and summaries over every
    /// ticket in the store).
    pub fn prometheus(&self) -> String {
        let mut out = String::new();
        let esc = |v: &str| v.replace('\\', "\\\\").replace('"', "\\\"");
        out.push_str("# HELP rdbscope_tickets_by_type Tickets by type and state.\n# TYPE rdbscope_tickets_by_type gauge\n");
        for (kind, states) in &self.by_type {
            for (st, n) in states {
                out.push_str(&format!(
                    "rdbscope_tickets_by_type{{type=\"{}\",state=\"{}\"}} {n}\n",
                    esc(kind),
                    esc(st)
                ));
            }
        }
        for (name, help, d) in [
            (
                "rdbscope_ticket_approval_seconds",
                "Time from filing to the first approval.",
                &self.time_to_approval,
            ),
            (
                "rdbscope_ticket_completion_seconds",
                "Time from filing to the end of the run (succeeded or failed).",
                &self.time_to_completion,
            ),
        ] {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} summary\n"));
            for (q, v) in [("0.5", d.median_secs), ("0.9", d.p90_secs)] {
                if let Some(v) = v {
                    out.push_str(&format!("{name}{{quantile=\"{q}\"}} {v}\n"));
                }
            }
            out.push_str(&format!(
                "{name}_sum {}\n{name}_count {}\n",
                d.sum_secs, d.count
            ));
        }
        for (name, help, v) in [
            (
                "rdbscope_ticket_rejection_ratio",
                "Rejected tickets over decided ones.",
                self.rejection_rate,
            ),
            (
                "rdbscope_ticket_failure_ratio",
                "Failed runs over finished ones.",
                self.failure_rate,
            ),
        ] {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {}\n",
                v.unwrap_or(0.0)
            ));
        }
        type Pick = fn(&GroupFigures) -> u64;
        let per_app: [(&str, &str, Pick); 4] = [
            (
                "rdbscope_app_keys_deleted_total",
                "Keys deleted by cleanups, per app.",
                |g| g.keys_deleted,
            ),
            (
                "rdbscope_app_keys_expired_total",
                "Keys given a TTL by cleanups, per app.",
                |g| g.keys_expired,
            ),
            (
                "rdbscope_app_keys_migrated_total",
                "Keys written by migrations, per target app.",
                |g| g.keys_migrated,
            ),
            (
                "rdbscope_app_bytes_analyzed_total",
                "RDB bytes analyzed, per app.",
                |g| g.bytes_analyzed,
            ),
        ];
        for (name, help, pick) in per_app {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} counter\n"));
            for (app, g) in &self.per_app {
                out.push_str(&format!("{name}{{app=\"{}\"}} {}\n", esc(app), pick(g)));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fact(
        id: i64,
        kind: &str,
        state: TicketState,
        params: &str,
        result: Option<&str>,
    ) -> TicketFacts {
        TicketFacts {
            id,
            kind: kind.into(),
            state,
            params: params.into(),
            result: result.map(str::to_string),
            created_at: 1000 * id,
            approved_at: None,
            rejected_at: None,
            finished_at: None,
        }
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let d = Durations::of((1..=10).map(|s| s * 1000).rev().collect());
        assert_eq!(
            (d.count, d.median_secs, d.p90_secs),
            (10, Some(5.0), Some(9.0))
        );
        assert_eq!(d.sum_secs, 55.0);
        let one = Durations::of(vec![1500]);
        assert_eq!((one.median_secs, one.p90_secs), (Some(1.5), Some(1.5)));
        assert_eq!(Durations::of(vec![]).median_secs, None);
    }

    #[test]
    fn counts_rates_and_per_app_figures() {
        let mut ok = fact(
            1,
            "cleanup",
            TicketState::Succeeded,
            r#"{"app":"shop"}"#,
            Some(r#"{"deleted":7,"expired":0}"#),
        );
        ok.approved_at = Some(3000);
        ok.finished_at = Some(9000);
        let mut failed = fact(
            2,
            "migration",
            TicketState::Failed,
            r#"{"source":{"app":"shop"},"target":"mirror"}"#,
            None,
        );
        failed.approved_at = Some(2500);
        failed.finished_at = Some(4000);
        let mut moved = fact(
            3,
            "migration",
            TicketState::Succeeded,
            r#"{"source":{"app":"shop"},"target":"mirror"}"#,
            Some(r#"{"counts":{"written":40}}"#),
        );
        moved.approved_at = Some(3500);
        moved.finished_at = Some(5000);
        let mut no = fact(
            4,
            "cleanup",
            TicketState::Rejected,
            r#"{"app":"shop"}"#,
            None,
        );
        no.rejected_at = Some(4500);
        let read = fact(
            5,
            "analysis",
            TicketState::Succeeded,
            r#"{"app":"shop"}"#,
            Some(r#"{"rdb_bytes":1234}"#),
        );
        let s = Stats::of(&[ok, failed, moved, no, read]);
        assert_eq!(s.tickets, 5);
        assert_eq!(s.by_type["cleanup"]["succeeded"], 1);
        assert_eq!(s.by_type["migration"]["failed"], 1);
        assert_eq!(s.by_state["succeeded"], 3);
        assert_eq!((s.rejected, s.rejection_rate), (1, Some(0.25)));
        assert_eq!((s.failed, s.failure_rate), (1, Some(0.3333)));
        assert_eq!(s.time_to_approval.count, 3);
        assert_eq!(s.time_to_approval.median_secs, Some(0.5));
        assert_eq!(s.time_to_approval.p90_secs, Some(2.0));
        assert_eq!(s.time_to_completion.p90_secs, Some(8.0));
        assert_eq!(s.per_app["shop"].keys_deleted, 7);
        assert_eq!(s.per_app["shop"].bytes_analyzed, 1234);
        assert_eq!(
            s.per_app["shop"].keys_migrated, 0,
            "the source is not the target"
        );
        assert_eq!(s.per_app["mirror"].keys_migrated, 40);
        assert_eq!(s.per_app["shop"].tickets, 5);
        let text = s.prometheus();
        assert!(
            text.contains("rdbscope_tickets_by_type{type=\"cleanup\",state=\"rejected\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("rdbscope_ticket_approval_seconds{quantile=\"0.5\"} 0.5\n"),
            "{text}"
        );
        assert!(
            text.contains("rdbscope_app_keys_migrated_total{app=\"mirror\"} 40\n"),
            "{text}"
        );
    }
}
