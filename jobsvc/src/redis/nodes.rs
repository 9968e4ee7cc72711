//! The members of an app a job talks to: its masters, the master of a
//! node, whether it is a cluster, and selecting a db.

use crate::error::{Error, Result};
use crate::registry::{self, Node};
use crate::store::AppRow;

/// The master a node (a report's source, maybe a replica) belongs to.
pub fn master_of(nodes: &[Node], addr: &str) -> String {
    nodes
        .iter()
        .find(|n| n.addr == addr && n.role == "replica")
        .and_then(|n| n.master.clone())
        .unwrap_or_else(|| addr.to_string())
}

/// The masters of an app, from its stored topology.
pub fn masters_of(app: &AppRow) -> Vec<String> {
    let nodes: Vec<Node> = serde_json::from_str(&app.topology).unwrap_or_default();
    registry::masters(&nodes)
}

/// Whether the app is a cluster (which has only db 0).
pub fn is_cluster(app: &AppRow) -> bool {
    app.kind == "cluster"
}

/// Selects `db` (not on a cluster, which has only 0).
pub fn select(conn: &mut redis::Connection, cluster: bool, db: u32) -> Result<()> {
    if !cluster {
        redis::cmd("SELECT")
            .arg(db)
            .query::<()>(conn)
            .map_err(|e| Error::from(e).context(format!("SELECT {db}")))?;
    }
    Ok(())
}
