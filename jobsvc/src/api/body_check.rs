//! Every JSON body the API reads, parsed as its handler parses it, written
//! back and parsed again, and put through the checks that need no store:
//! what the API's fuzz target (`jobsvc/fuzz`) drives with arbitrary bytes.

use axum::body::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::approvals::{Amendment, DecisionNote};
use super::apps::NewApp;
use super::policies::{NewStandIn, PoliciesChange};
use super::preview::PlanRequest;
use super::report_view::ViewRequest;
use super::request::parse_body;
use super::rollback::RollbackRequest;
use super::run_at::RunAt;
use super::schedules::{NewSchedule, ScheduleChange};
use super::subscriptions::NewSubscription;
use super::teams::{NewTeam, OwnerBody, TeamChange};
use super::tickets::{NewTicketRequest, Note};
use super::users::{NewUser, RoleChange};
use crate::approvals::PolicyRule;
use crate::auth::check_name;
use crate::notify::channel::ChannelSpec;
use crate::params::{Params, ParseCtx, TYPES};
use crate::registry::{split_addr, AppKind, Window};
use crate::schedule::{parse_run_at, Cron};
use crate::time::{parse_time, rfc3339};

/// The bodies, by the name the OpenAPI document gives them.
pub const BODIES: [&str; 20] = [
    "NewTicket",
    "PlanRequest",
    "Amendment",
    "DecisionNote",
    "Note",
    "RunAt",
    "RollbackRequest",
    "NewApp",
    "NewUser",
    "RoleChange",
    "NewTeam",
    "TeamChange",
    "AppOwner",
    "ApprovalPoliciesChange",
    "NewStandIn",
    "NewSchedule",
    "ScheduleChange",
    "NewSubscription",
    "ViewRequest",
    "NotifyChannel",
];

/// A fixed "now" for the time checks (2026-11-22T09:20:00Z).
const NOW: i64 = 1_795_339_200_000;

/// Ticket parameters as a submitter's, reading no file.
const SUBMITTER: ParseCtx<'static> = ParseCtx {
    allowed_dirs: &[],
    max_monitor_secs: 300,
    is_admin: false,
};
/// The same, for an admin.
const ADMIN: ParseCtx<'static> = ParseCtx {
    is_admin: true,
    ..SUBMITTER
};

/// Parses `body` as body `BODIES[which % BODIES.len()]`. `Ok(false)`: the
/// API refuses it; `Ok(true)`: accepted, and it came back equal when
/// written as JSON and parsed again, and every check it goes through
/// behaved. `Err` says what did not hold.
pub fn check_body(which: usize, body: &[u8]) -> Result<bool, String> {
    let name = BODIES[which % BODIES.len()];
    let v = match name {
        "NewTicket" => round_trip::<NewTicketRequest>(body)?,
        "PlanRequest" => round_trip::<PlanRequest>(body)?,
        "Amendment" => round_trip::<Amendment>(body)?,
        "DecisionNote" => round_trip::<DecisionNote>(body)?,
        "Note" => round_trip::<Note>(body)?,
        "RunAt" => round_trip::<RunAt>(body)?,
        "RollbackRequest" => round_trip::<RollbackRequest>(body)?,
        "NewApp" => round_trip::<NewApp>(body)?,
        "NewUser" => round_trip::<NewUser>(body)?,
        "RoleChange" => round_trip::<RoleChange>(body)?,
        "NewTeam" => round_trip::<NewTeam>(body)?,
        "TeamChange" => round_trip::<TeamChange>(body)?,
        "AppOwner" => round_trip::<OwnerBody>(body)?,
        "ApprovalPoliciesChange" => round_trip::<PoliciesChange>(body)?,
        "NewStandIn" => round_trip::<NewStandIn>(body)?,
        "NewSchedule" => round_trip::<NewSchedule>(body)?,
        "ScheduleChange" => round_trip::<ScheduleChange>(body)?,
        "NewSubscription" => round_trip::<NewSubscription>(body)?,
        "ViewRequest" => round_trip::<ViewRequest>(body)?,
        _ => round_trip::<ChannelSpec>(body)?,
    };
    let Some(v) = v else { return Ok(false) };
    let s = |k: &str| v.get(k).and_then(Value::as_str);
    match name {
        "NewTicket" | "PlanRequest" => ticket_params(s("type").unwrap_or(""), &v["params"])?,
        "Amendment" => {
            for kind in TYPES {
                ticket_params(kind, &v["params"])?;
            }
        }
        "NewApp" => {
            let _ = check_name("app", s("name").unwrap_or(""));
            if let Ok(k) = AppKind::parse(s("kind").unwrap_or("")) {
                expect(
                    AppKind::parse(k.as_str()).ok() == Some(k),
                    "app kind by name",
                )?;
            }
            let _ = split_addr(s("addr").unwrap_or(""));
            if let Ok(w) = Window::parse(s("maintenance_window").unwrap_or("")) {
                for ms in [-1, 0, NOW, i64::MAX, i64::MIN] {
                    let _ = w.is_open(ms);
                }
            }
        }
        "NewUser" | "NewTeam" => {
            let _ = check_name("name", s("name").unwrap_or(""));
        }
        "ApprovalPoliciesChange" => {
            let rules: Vec<PolicyRule> = serde_json::from_value(v["rules"].clone())
                .map_err(|e| format!("rules accepted once, then: {e}"))?;
            for r in &rules {
                let _ = r.check();
            }
        }
        "NewStandIn" => {
            time_round_trip(s("from").unwrap_or(""))?;
            time_round_trip(s("until").unwrap_or(""))?;
        }
        "NewSchedule" | "ScheduleChange" => {
            if let Ok(c) = Cron::parse(s("cron").unwrap_or("")) {
                if let Some(t) = c.next_after(NOW) {
                    expect(t > NOW, "the next firing is after now")?;
                }
                if let Some(t) = c.due(0, NOW) {
                    expect(t <= NOW, "a due firing is not in the future")?;
                }
            }
            if let Some(p) = v.get("params").filter(|p| p.is_object()) {
                let mut p = p.clone();
                p["app"] = Value::from("shop");
                ticket_params("analysis", &p)?;
            }
        }
        "NotifyChannel" => {
            let spec: ChannelSpec =
                serde_json::from_value(v.clone()).map_err(|e| format!("channel again: {e}"))?;
            let text = serde_json::to_string(&spec).map_err(|e| e.to_string())?;
            let stored: ChannelSpec =
                serde_json::from_str(&text).map_err(|e| format!("stored channel {text}: {e}"))?;
            expect(
                spec.check() == stored.check(),
                "a stored channel checks the same",
            )?;
        }
        _ => {}
    }
    if let Some(t) = s("run_at") {
        if let Ok(ms) = parse_run_at(t, NOW, 30) {
            expect(
                (NOW..=NOW + 30 * 86_400_000).contains(&ms),
                "run_at in range",
            )?;
        }
    }
    Ok(true)
}

fn expect(ok: bool, what: &str) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(format!("not so: {what}"))
    }
}

/// Parses `body` as the handlers do; an accepted body is written back and
/// parsed again, and must come back equal. Its JSON form if accepted.
fn round_trip<T>(body: &[u8]) -> Result<Option<Value>, String>
where
    T: DeserializeOwned + Serialize + PartialEq,
{
    let Ok(first) = parse_body::<T>(&Bytes::copy_from_slice(body)) else {
        return Ok(None);
    };
    let text = serde_json::to_string(&first).map_err(|e| format!("as JSON: {e}"))?;
    let again: T = parse_body(&Bytes::from(text.clone()))
        .map_err(|e| format!("written as {text}, it does not parse again: {e}"))?;
    if again != first {
        let other = serde_json::to_string(&again).unwrap_or_default();
        return Err(format!("{text} came back as {other}"));
    }
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| e.to_string())
}

/// Ticket parameters of type `kind`: refused, or accepted for an admin
/// too, with a canonical form that parses back to the same parameters
/// and the same hash.
fn ticket_params(kind: &str, params: &Value) -> Result<(), String> {
    let p = match Params::parse(kind, params, &SUBMITTER) {
        Ok(p) => {
            Params::parse(kind, params, &ADMIN).map_err(|e| {
                format!("{kind} {params}: a submitter's params refused to an admin: {e}")
            })?;
            p
        }
        Err(_) => match Params::parse(kind, params, &ADMIN) {
            Ok(p) => p,
            Err(_) => return Ok(()),
        },
    };
    let (json, hash) = p.canonical();
    let v: Value = serde_json::from_str(&json).map_err(|e| format!("canonical {json}: {e}"))?;
    let again = Params::parse(kind, &v, &ADMIN)
        .map_err(|e| format!("canonical {json} (of {params}) refused: {e}"))?;
    if again != p {
        return Err(format!("{p:?} came back as {again:?} through {json}"));
    }
    let (json2, hash2) = again.canonical();
    expect(json2 == json && hash2 == hash, "canonical form stable")?;
    Ok(())
}

/// A time the API reads from a filter or a stand-in, written back as
/// RFC 3339, reads as the same instant.
fn time_round_trip(text: &str) -> Result<(), String> {
    for day_end in [false, true] {
        if let Some(ms) = parse_time(text, day_end) {
            let back = rfc3339(ms);
            expect(parse_time(&back, false) == Some(ms), "a time read back")
                .map_err(|e| format!("{e}: {text:?} ({day_end}) -> {ms} -> {back:?}"))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx(name: &str) -> usize {
        BODIES.iter().position(|b| *b == name).expect("a body name")
    }

    #[test]
    fn good_bodies_round_trip_and_bad_ones_are_refused() {
        for (name, body) in [
            (
                "NewTicket",
                r#"{"type":"cleanup","params":{"app":"shop","patterns":[{"prefix":"login:"}]},"run_at":"2026-11-23T03:00:00Z"}"#,
            ),
            (
                "PlanRequest",
                r#"{"type":"analysis","params":{"app":"shop","top":5}}"#,
            ),
            (
                "ApprovalPoliciesChange",
                r#"{"rules":[{"kind":"cleanup","tags":["production"],"approvals":["team_lead","admin"]}]}"#,
            ),
            (
                "NewSchedule",
                r#"{"name":"n","app":"shop","cron":"0 3 * * *","params":{"separators":":"}}"#,
            ),
            ("NewStandIn", r#"{"stand_in":"dave","until":"2026-11-29"}"#),
            (
                "NewApp",
                r#"{"name":"shop","kind":"replicated","addr":"10.0.0.5:6379","maintenance_window":"01:00-05:00"}"#,
            ),
            (
                "NotifyChannel",
                r#"{"kind":"webhook","url":"http://hooks.example.com/x","events":["failed"]}"#,
            ),
            (
                "RollbackRequest",
                r#"{"conflict":"replace","verify_percent":12.5}"#,
            ),
            ("Note", ""),
        ] {
            assert_eq!(
                check_body(idx(name), body.as_bytes()),
                Ok(true),
                "{name}: {body}"
            );
        }
        for (name, body) in [
            ("NewTicket", r#"{"type":"cleanup","colour":1}"#),
            ("RunAt", "{}"),
            ("RunAt", r#"{"run_at":5}"#),
            ("NewUser", "["),
            ("AppOwner", r#"{"tags":"production"}"#),
        ] {
            assert_eq!(
                check_body(idx(name), body.as_bytes()),
                Ok(false),
                "{name}: {body}"
            );
        }
    }

    /// Found by the `api` fuzz target: without serde_json's
    /// `float_roundtrip`, this number read back as another one once written.
    #[test]
    fn a_big_number_reads_back_the_same() {
        let body = b"{\"type\":\"analysis\",\"params\":118446744073709551616}";
        assert_eq!(check_body(idx("NewTicket"), body), Ok(true));
        let p = br#"{"conflict":"skip","verify_percent":0.30000000000000004}"#;
        assert_eq!(check_body(idx("RollbackRequest"), p), Ok(true));
    }
}
