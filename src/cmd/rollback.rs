//! `rdbscope ticket rollback N`: files the restore ticket that undoes
//! cleanup N (`POST /tickets/N/rollback`).

use anyhow::Result;
use serde_json::{json, Value};

use super::client::Client;
use crate::args::RollbackArgs;

/// Files the restore ticket; returns it.
pub(crate) fn rollback(c: &Client, a: RollbackArgs) -> Result<Value> {
    let mut body = json!({});
    if let Some(p) = a.conflict {
        body["conflict"] = json!(p);
    }
    if let Some(r) = a.rate {
        body["rate"] = json!(r);
    }
    if let Some(n) = a.wait_replicas {
        body["wait_replicas"] = json!(n);
    }
    c.post(&format!("/tickets/{}/rollback", a.id), Some(&body))
}
