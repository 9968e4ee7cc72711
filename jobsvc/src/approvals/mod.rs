//! Approval flows: which approvals a ticket needs (its policy, chosen by
//! type, risk and app tags, see `policy.rs`; the risk from the plan, see
//! `risk.rs`), who may file tickets for an app (its team), who stands in
//! for whom, and the two places where somebody must be told: an approval
//! became due ([`approval_due`]) and a ticket was returned
//! ([`ticket_returned`]).

pub mod margin;
pub mod policy;
pub mod risk;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::slots::Eligible;
use crate::state::{log, ServiceState};
use crate::store::{now_ms, Lookup, NewRound, Ownership, User};
use crate::ticket::Role;

pub use policy::{default_rules, PolicyRule};
pub use risk::{impact, risk, Risk};

/// The rules in force: those set through the API, else the config's.
pub async fn rules(state: &ServiceState, look: Lookup<'_>) -> Result<Vec<PolicyRule>> {
    match look.stored_policies().await? {
        Some((text, _, _)) => serde_json::from_str(&text)
            .map_err(|e| Error::internal(format!("stored approval policies: {e}"))),
        None => Ok(state.config.approval_policies.clone()),
    }
}

/// The app whose owners approve: a migration's target (the last app a
/// ticket names), else its one app.
fn owning_app(apps: &[String]) -> Option<&str> {
    apps.last().map(String::as_str)
}

/// Refuses (403) a submitter who files a ticket for an app owned by a team
/// they are not in. Admins file for every app; an app without a team is
/// open to every submitter, as before teams existed.
pub async fn check_filing(look: Lookup<'_>, u: &User, apps: &[String]) -> Result<()> {
    if u.role == Role::Admin {
        return Ok(());
    }
    // The caller's teams are read only when an app has a team.
    let mut mine: Option<Vec<String>> = None;
    for app in apps {
        let Some(o) = look.ownership(app).await? else {
            continue;
        };
        if let Some(team) = &o.team {
            if mine.is_none() {
                mine = Some(look.teams_of(&u.name).await?);
            }
            if !mine.as_ref().is_some_and(|m| m.contains(team)) {
                return Err(Error::forbidden(format!(
                    "app {app:?} is owned by team {team:?}, and {} is not in it: ask its lead or an admin to file the ticket, or to add you to the team",
                    u.name
                )));
            }
        }
    }
    Ok(())
}

/// The plan with its risk level added (`"risk": "high"`).
pub fn with_risk(kind: &str, mut plan: Value) -> Value {
    let r = risk(kind, &plan);
    if let Some(o) = plan.as_object_mut() {
        o.insert("risk".into(), Value::String(r.as_str().into()));
    }
    plan
}

/// The round of approvals a `kind` ticket naming `apps` with this plan
/// needs (no slots: it is approved on submission).
pub async fn round_for(
    state: &ServiceState,
    look: Lookup<'_>,
    kind: &str,
    apps: &[String],
    plan: &Value,
) -> Result<NewRound> {
    let mut tags = Vec::new();
    let mut owners = policy::Owners::default();
    for app in apps {
        let o = look.ownership(app).await?.unwrap_or_default();
        tags.extend(o.tags.iter().cloned());
        if Some(app.as_str()) == owning_app(apps) {
            owners = owners_of(look, &o).await?;
        }
    }
    let r = risk(kind, plan);
    let imp = impact(plan);
    let rule = policy::choose(
        &rules(state, look).await?,
        &policy::Facts {
            kind,
            risk: r,
            keys: imp.map(|i| i.keys),
            tags: &tags,
            plan,
        },
    );
    let auto = state.config.auto_approve.iter().any(|t| t == kind);
    Ok(NewRound {
        policy: rule
            .name
            .clone()
            .unwrap_or_else(|| format!("{} rule", rule.kind)),
        risk: r.as_str().into(),
        impact: imp,
        slots: if auto {
            Vec::new()
        } else {
            rule.approvals
                .iter()
                .map(|a| (a.clone(), policy::eligible(a, &owners)))
                .collect()
        },
    })
}

async fn owners_of(look: Lookup<'_>, o: &Ownership) -> Result<policy::Owners> {
    let lead = match &o.team {
        Some(t) => look.team(t).await?.and_then(|t| t.lead),
        None => None,
    };
    Ok(policy::Owners {
        lead,
        approvers: o.approvers.clone(),
    })
}

/// The users (with their roles) `name` stands in for right now.
pub async fn stands_in_for(look: Lookup<'_>, name: &str) -> Result<Vec<(String, Role)>> {
    let now = now_ms();
    let mut out = Vec::new();
    for d in look.delegates().await? {
        if d.stand_in == name && d.from_ms <= now && now < d.until_ms {
            if let Ok(u) = look.user(&d.member).await {
                out.push((u.name, u.role));
            }
        }
    }
    Ok(out)
}

/// Called once for every round of approvals opened (at submission, on
/// resubmission, when a grown plan sends a ticket back): its approvers now
/// have something to decide. Notifications hook in here.
pub async fn approval_due(state: &ServiceState, ticket: i64, round: &NewRound) {
    log_due(ticket, round);
    if let Err(e) = ask_approvers(state, ticket, round).await {
        log(&format!(
            "ticket {ticket}: could not record the needs_approval notification: {e}"
        ));
    }
}

/// Logs that a round of approvals of `ticket` is open, and for whom (a
/// ticket filed with its first round records its `needs_approval` event in
/// the filing's transaction, then calls this).
pub fn log_due(ticket: i64, round: &NewRound) {
    let who: Vec<String> = round
        .slots
        .iter()
        .map(|(req, el)| format!("{req} ({el})"))
        .collect();
    log(&format!(
        "ticket {ticket}: approvals due ({} policy, {} risk): {}",
        round.policy,
        round.risk,
        who.join(", ")
    ));
}

/// Who may fill the round's slots: the users named, and for a slot any
/// admin may fill, every admin; never the submitter.
pub async fn approvers(
    look: Lookup<'_>,
    submitter: &str,
    slots: &[(String, Eligible)],
) -> Result<Vec<String>> {
    let mut users: Vec<String> = Vec::new();
    if slots.iter().any(|(_, e)| matches!(e, Eligible::AnyAdmin)) {
        for u in look.list_users().await? {
            if u.role == Role::Admin {
                users.push(u.name);
            }
        }
    }
    for (_, e) in slots {
        if let Eligible::Users(names) = e {
            users.extend(names.iter().cloned());
        }
    }
    users.retain(|u| u != submitter);
    users.sort();
    users.dedup();
    Ok(users)
}

/// Records the `needs_approval` event for the round's approvers.
async fn ask_approvers(state: &ServiceState, ticket: i64, round: &NewRound) -> Result<()> {
    let Some(t) = state.store.get_ticket(ticket).await? else {
        return Ok(());
    };
    let users = approvers(state.store.lookup(), &t.submitter, &round.slots).await?;
    let event = crate::notify::event::NotifyEvent::NeedsApproval { users };
    crate::notify::emit::emit(state, &t, &t.submitter, &event).await
}

/// Called when an approver returned a ticket to its submitter for changes.
/// Notifications hook in here.
pub fn ticket_returned(ticket: i64, submitter: &str, by: &str, note: &str) {
    log(&format!(
        "ticket {ticket}: returned to {submitter} by {by}: {note}"
    ));
}
