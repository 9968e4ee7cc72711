//! Discovering an app's nodes off the async runtime, and storing them.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::registry::{self, AppKind, Credentials, Node};
use crate::state::{credentials, Shared};
use crate::store::AppRow;

/// Discovers an app's nodes off the async runtime.
pub(crate) async fn discover(kind: AppKind, addr: &str, creds: Credentials) -> Result<String> {
    let addr = addr.to_string();
    let nodes = tokio::task::spawn_blocking(move || {
        registry::discover(kind, &addr, &creds, Duration::from_secs(3))
            .map_err(|e| e.context(format!("cannot discover the nodes of {addr}")))
    })
    .await
    .map_err(|e| Error::internal(format!("discovery task: {e}")))??;
    Ok(serde_json::to_string(&nodes).unwrap_or_else(|_| "[]".into()))
}

/// Discovers an app's nodes again and stores them.
/// When the registered node is down, the members found last time are asked
/// (a promoted replica is followed).
pub async fn refresh_topology(state: &Shared, app: &AppRow) -> Result<String> {
    let kind = AppKind::parse(&app.kind)?;
    let known: Vec<Node> = serde_json::from_str(&app.topology).unwrap_or_default();
    let (addr, creds) = (app.addr.clone(), credentials(app));
    let nodes = tokio::task::spawn_blocking(move || {
        registry::discover_following(kind, &addr, &known, &creds, Duration::from_secs(3))
            .map_err(|e| e.context(format!("cannot discover the nodes of {addr}")))
    })
    .await
    .map_err(|e| Error::internal(format!("discovery task: {e}")))??;
    let topology = serde_json::to_string(&nodes).unwrap_or_else(|_| "[]".into());
    state.store.set_topology(&app.name, &topology).await?;
    Ok(topology)
}
