//! The background sender: records reminders, fans events out, claims due
//! deliveries under a lease and sends each on its own task with a time
//! limit, retrying failures with exponential backoff. Nothing here holds up
//! a job or an API call, and a failing channel never touches a ticket.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::channels;
use super::deliver::deliver;
use super::fanout::fan_out;
use super::message::Notice;
use super::watch::watch;
use crate::state::{log, Shared};
use crate::store::{now_ms, Claimed};

/// Runs until the service stops.
pub async fn sender(state: Shared) {
    let cfg = state.config.notify.clone();
    let poll = Duration::from_millis(cfg.poll_ms.clamp(20, 60_000));
    let mut tasks = tokio::task::JoinSet::new();
    let mut last_watch = 0;
    while !state.stopping.load(Ordering::SeqCst) {
        while tasks.try_join_next().is_some() {}
        if now_ms() - last_watch >= 1000 {
            last_watch = now_ms();
            if let Err(e) = watch(&state).await {
                log(&format!("notify: reminders: {e}"));
            }
        }
        if let Err(e) = fan_out(&state).await {
            log(&format!("notify: fan-out: {e}"));
        }
        let room = cfg.concurrency.max(1).saturating_sub(tasks.len());
        if room > 0 {
            let lease = (cfg.timeout_secs.max(1) * 1000 + 30_000) as i64;
            match state
                .store
                .claim_deliveries(&state.instance, lease, room as i64)
                .await
            {
                Ok(claimed) => {
                    for d in claimed {
                        tasks.spawn(send_one(state.clone(), d));
                    }
                }
                Err(e) => log(&format!("notify: claim: {e}")),
            }
        }
        tokio::time::sleep(poll).await;
    }
    // Deliveries cut short are sent again after their lease.
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
}

async fn send_one(state: Shared, d: Claimed) {
    let cfg = &state.config.notify;
    let outcome = attempt(&state, &d).await;
    let owner = state.instance.as_str();
    let r = match &outcome {
        Ok(()) => state.store.finish_delivery(&d, owner, None, None).await,
        Err((e, retry)) => {
            let attempts = d.attempts + 1;
            let retry_at = (*retry && attempts < cfg.max_attempts.max(1))
                .then(|| now_ms() + cfg.backoff_ms(attempts));
            log(&format!(
                "notify: delivery {} (ticket {} {}) to channel {}: attempt {attempts} failed{}: {e}",
                d.id,
                d.event.ticket_id,
                d.event.kind,
                d.channel,
                if retry_at.is_some() { ", will retry" } else { ", giving up" }
            ));
            state
                .store
                .finish_delivery(&d, owner, Some(e), retry_at)
                .await
        }
    };
    if let Err(e) = r {
        log(&format!("notify: recording delivery {}: {e}", d.id));
    }
}

/// One attempt: the error and whether trying again may help.
async fn attempt(state: &Shared, d: &Claimed) -> Result<(), (String, bool)> {
    let spec = match channels::find(state, &d.channel).await {
        Ok(Some((spec, _))) => spec,
        Ok(None) => return Err((format!("channel {:?} no longer exists", d.channel), false)),
        Err(e) => return Err((e.to_string(), true)),
    };
    let ticket = match state.store.get_ticket(d.event.ticket_id).await {
        Ok(Some(t)) => t,
        Ok(None) => {
            return Err((
                format!("ticket {} no longer exists", d.event.ticket_id),
                false,
            ))
        }
        Err(e) => return Err((e.to_string(), true)),
    };
    let timeout = Duration::from_secs(state.config.notify.timeout_secs.max(1));
    let base_url = state.config.notify.base_url.clone();
    let (d, address) = (d.clone(), d.address.clone());
    let sent = tokio::task::spawn_blocking(move || {
        let n = Notice {
            event: &d.event,
            ticket: &ticket,
            delivery: d.id,
            base_url: base_url.as_deref(),
            timestamp: now_ms() / 1000,
        };
        deliver(&spec, &address, &n, timeout)
    })
    .await;
    match sent {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err((e, true)),
        Err(e) => Err((format!("sending panicked: {e}"), true)),
    }
}
