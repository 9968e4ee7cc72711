//! Fuzz target: the JSON bodies of the ticket service's API and the ticket
//! parameters they carry, through `jobsvc::api::check_body`.
//!
//! First byte below 200: the rest is the body of `BODIES[first % 20]`
//! (`NewTicket`, `ApprovalPoliciesChange`, `NotifyChannel`, …). First byte
//! 200 and up: the rest is the `params` of a ticket of type
//! `TYPES[first % 5]`, sent in a `NewTicket` body.
//!
//! `check_body` parses the body as the API does; an accepted body must come
//! back equal when written as JSON and parsed again, and go through every
//! check that needs no store (ticket parameters, whose canonical form must
//! parse back to the same parameters and hash; cron expressions; times;
//! maintenance windows; names; approval rules; channels) without a panic
//! and with the properties listed there. A violation is a crash.

#![no_main]

use jobsvc::api::{check_body, BODIES};
use jobsvc::params::TYPES;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let pick = usize::from(pick);
    let (which, body) = if pick < 200 {
        (pick % BODIES.len(), rest.to_vec())
    } else {
        let kind = TYPES[pick % TYPES.len()];
        let mut b = format!("{{\"type\":\"{kind}\",\"params\":").into_bytes();
        b.extend_from_slice(rest);
        b.push(b'}');
        (0, b)
    };
    if let Err(e) = check_body(which, &body) {
        panic!(
            "body {}: {e}\ninput: {}",
            BODIES[which],
            String::from_utf8_lossy(&body)
        );
    }
});
