//! Turns recorded events into deliveries, once each (a compare-and-set on
//! the event, so instances sharing a store never fan one out twice).

use super::audience::{route, team_members, Subscriber};
use super::channels;
use crate::error::Result;
use crate::state::ServiceState;
use crate::ticket::TicketState;

/// Fans out the events waiting; returns how many.
pub(super) async fn fan_out(state: &ServiceState) -> Result<usize> {
    let events = state.store.events_to_fan_out(200).await?;
    if events.is_empty() {
        return Ok(0);
    }
    let specs: Vec<_> = channels::all(state)
        .await?
        .into_iter()
        .map(|(c, _)| c)
        .collect();
    let mut subscribers = Vec::new();
    for sub in state.store.subscriptions(None).await? {
        let users = match sub.subscriber_kind.as_str() {
            "team" => team_members(state, &sub.subscriber).await?,
            _ => vec![sub.subscriber.clone()],
        };
        subscribers.push(Subscriber { sub, users });
    }
    for e in &events {
        let ticket = state.store.get_ticket(e.ticket_id).await?;
        let deliveries = match &ticket {
            // Nobody is asked to approve a ticket the configuration
            // approved, nor reminded of one decided meanwhile.
            Some(t)
                if (e.kind == "needs_approval" && t.handler.as_deref() == Some("auto"))
                    || (matches!(e.kind.as_str(), "approval_reminder" | "approval_escalation")
                        && t.state != TicketState::Pending) =>
            {
                Vec::new()
            }
            Some(t) => route(e, &t.submitter, &specs, &subscribers),
            None => Vec::new(),
        };
        state.store.fan_out(e.id, &deliveries).await?;
    }
    Ok(events.len())
}
