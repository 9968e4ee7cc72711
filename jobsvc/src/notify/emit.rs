//! Records a notification event that is not a state change stored by
//! `Store::apply` (a pause, a reminder, an approval step): the one public
//! way to tell subscribers something about a ticket.

use super::event::{EventRecord, NotifyEvent};
use crate::error::Result;
use crate::state::ServiceState;
use crate::store::TicketRow;
use crate::ticket::TicketState;

/// Records `event` of ticket `ticket`, caused by `actor`, for delivery by
/// the background sender (this call never waits for a channel).
pub async fn emit(
    state: &ServiceState,
    ticket: &TicketRow,
    actor: &str,
    event: &NotifyEvent,
) -> Result<()> {
    let record = EventRecord::new(ticket.id, event, actor, ticket.state, None);
    state.store.record_event(&record).await?;
    Ok(())
}

/// Like [`emit`], but at most once per `once_key` (kept in the store, so
/// across restarts and instances): false when it was recorded before.
pub async fn emit_once(
    state: &ServiceState,
    ticket_id: i64,
    ticket_state: TicketState,
    actor: &str,
    event: &NotifyEvent,
    once_key: String,
) -> Result<bool> {
    let mut record = EventRecord::new(ticket_id, event, actor, ticket_state, None);
    record.once_key = Some(once_key);
    state.store.record_event(&record).await
}
