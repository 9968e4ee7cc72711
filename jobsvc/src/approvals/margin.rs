//! Approvals are bound to the plan: when a job starts, its plan is made
//! again, and a ticket whose impact (keys or bytes) grew by more than
//! `approval_margin` since it was approved goes back to approval instead
//! of running.

use super::{approval_due, impact, round_for, with_risk};
use crate::error::Result;
use crate::state::{log, ServiceState};
use crate::store::{TicketRow, TransitionExtras};
use crate::ticket::{transition, Actor, Eligible, Event, SlotState, TicketView};

/// Whether the claimed (running) ticket `t` may run: false when its plan
/// grew beyond the margin and it was sent back to approval (audited with
/// both figures). Only the first start after an approval by people is
/// checked; a failure to re-plan lets the job run (and fail on its own).
pub async fn still_approved(state: &ServiceState, t: &TicketRow) -> bool {
    match check(state, t).await {
        Ok(run) => run,
        Err(e) => {
            log(&format!("ticket {}: re-plan at start: {e}", t.id));
            true
        }
    }
}

async fn check(state: &ServiceState, t: &TicketRow) -> Result<bool> {
    if t.attempts != 1 {
        return Ok(true);
    }
    let round = state.store.current_round(t.id).await?;
    let approved = match round.first() {
        Some(a) if round.iter().all(|a| a.state == SlotState::Approved) => a.impact,
        _ => None,
    };
    let Some(approved) = approved else {
        return Ok(true);
    };
    let params = crate::jobs::stored_params(state, t)?;
    let mut apps = Vec::new();
    for name in params.apps() {
        if let Some(a) = state.store.get_app(name).await? {
            apps.push(a);
        }
    }
    let plan = with_risk(&t.kind, crate::jobs::plan(state, &params, &apps).await?);
    let Some(now) = impact(&plan) else {
        return Ok(true);
    };
    let margin = state.config.approval_margin;
    if !approved.grew_beyond(&now, margin) {
        return Ok(true);
    }
    let view = TicketView {
        state: t.state,
        submitter: &t.submitter,
        attempts: t.attempts,
    };
    let tr = transition(
        &view,
        &Event::ImpactGrew {
            approved,
            now,
            margin,
        },
        &Actor::System("scheduler"),
        &state.policy,
    )
    .map_err(|e| crate::error::Error::conflict(e.to_string()))?;
    let names: Vec<String> = apps.iter().map(|a| a.name.clone()).collect();
    let mut next = round_for(state, state.store.lookup(), &t.kind, &names, &plan).await?;
    if next.slots.is_empty() {
        next.slots = vec![("admin".into(), Eligible::AnyAdmin)];
    }
    let extras = TransitionExtras {
        require_owner: t.lease_owner.clone(),
        ..TransitionExtras::default()
    };
    let text = plan.to_string();
    state
        .store
        .apply_with_round(t.id, &tr, &extras, Some(&text), Some(&next))
        .await?;
    log(&format!(
        "ticket {}: {}",
        t.id,
        tr.note.as_deref().unwrap_or_default()
    ));
    approval_due(state, t.id, &next).await;
    Ok(false)
}
