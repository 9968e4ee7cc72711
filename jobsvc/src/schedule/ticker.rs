//! The loop that fires due schedules: each firing files an analysis ticket,
//! approves it on the schedule's behalf and wakes the scheduler, in one
//! store transaction guarded by a compare-and-set on the schedule's last
//! fired time, so that instances sharing a store never both fire it.

use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::Value;

use super::cron::Cron;
use crate::error::{Error, Result};
use crate::params::{Params, ParseCtx};
use crate::state::{log, Shared};
use crate::store::{now_ms, NewTicket, ScheduleRow, TicketRow};
use crate::ticket::{transition, Actor, Event, TicketState, TicketView};
use crate::time::rfc3339;

/// How the audit trail names the service approving a schedule's ticket.
pub const SCHEDULE_ACTOR: &str = "schedule";

/// Fires due schedules about once a second until the service stops.
pub async fn ticker(state: Shared) {
    let tick = Duration::from_millis(state.config.poll_ms.clamp(100, 1000));
    while !state.stopping.load(Ordering::SeqCst) {
        if let Err(e) = fire_due(&state, now_ms()).await {
            log(&format!("schedules: {e}"));
        }
        tokio::time::sleep(tick).await;
    }
}

/// Fires every enabled schedule with a firing due at `now` (once, however
/// many were missed) and returns the tickets filed.
pub async fn fire_due(state: &Shared, now: i64) -> Result<Vec<TicketRow>> {
    let mut filed = Vec::new();
    for s in state.store.list_schedules().await? {
        if !s.enabled {
            continue;
        }
        let cron = match Cron::parse(&s.cron) {
            Ok(c) => c,
            Err(e) => {
                log(&format!("schedule {}: {}", s.name, e.message));
                continue;
            }
        };
        let Some(at) = cron.due(s.last_fired, now) else {
            continue;
        };
        match fire(state, &s, at).await {
            Ok(Some(t)) => {
                log(&format!(
                    "schedule {}: fired for {}: ticket {}",
                    s.name,
                    rfc3339(at),
                    t.id
                ));
                filed.push(t);
            }
            // Another instance fired it first.
            Ok(None) => {}
            Err(e) => log(&format!("schedule {}: cannot fire: {e}", s.name)),
        }
    }
    if !filed.is_empty() {
        state.wake.notify_one();
    }
    Ok(filed)
}

/// Files, approves and records one firing of `s` for cron time `at`.
async fn fire(state: &Shared, s: &ScheduleRow, at: i64) -> Result<Option<TicketRow>> {
    let raw: Value = serde_json::from_str(&s.params)
        .map_err(|e| Error::internal(format!("schedule {}: stored params: {e}", s.name)))?;
    let params = Params::parse(
        "analysis",
        &raw,
        &ParseCtx {
            allowed_dirs: &state.config.allowed_dirs,
            max_monitor_secs: state.config.max_monitor_secs,
            is_admin: true,
        },
    )?;
    let apps: Vec<_> = state.store.get_app(&s.app).await?.into_iter().collect();
    let mut plan = crate::jobs::plan(state, &params, &apps).await?;
    if let Value::Object(m) = &mut plan {
        m.insert("schedule".into(), s.name.clone().into());
        m.insert("fired_at".into(), rfc3339(at).into());
    }
    let (canonical, hash) = params.canonical();
    let submitter = format!("{SCHEDULE_ACTOR}:{}", s.name);
    let mut approve = transition(
        &TicketView {
            state: TicketState::Pending,
            submitter: &submitter,
            attempts: 0,
        },
        &Event::Approve,
        &Actor::System(SCHEDULE_ACTOR),
        &state.policy,
    )
    .map_err(|e| Error::internal(format!("schedule {}: {e}", s.name)))?;
    approve.actor = submitter.clone();
    approve.note = Some(format!("auto-approved: filed by schedule {}", s.name));
    state
        .store
        .fire_schedule(
            &s.name,
            s.last_fired,
            at,
            &NewTicket {
                kind: "analysis".into(),
                submitter,
                params: canonical,
                params_hash: hash,
                idempotency_key: None,
                plan: Some(plan.to_string()),
            },
            &approve,
        )
        .await
}
