//! `rdbscope node ...`: the apps (a node, a master with replicas, a cluster)
//! the job service's tickets act on.

use std::io::Write;

use anyhow::Result;
use serde_json::{json, Value};

use super::client::{as_list, cell, field, print_block, print_table, Client};
use crate::args::{AppKind, NodeArgs, NodeCommand};

pub(crate) fn run(a: NodeArgs) -> Result<()> {
    let c = Client::new(&a.client)?;
    let app_path = |name: &str| format!("/apps/{}", super::client::encode(name, false));
    match a.command {
        NodeCommand::Add(n) => {
            let kind = match n.kind {
                AppKind::Standalone => "standalone",
                AppKind::Replicated => "replicated",
                AppKind::Cluster => "cluster",
            };
            let body = json!({
                "name": n.name,
                "kind": kind,
                "addr": n.addr,
                "user": n.user,
                "password": n.password,
                "maintenance_window": n.maintenance_window,
            });
            let v = c.post("/apps", Some(&body))?;
            show(&c, &v)
        }
        NodeCommand::List => {
            let v = c.get("/apps")?;
            if !c.print_json(&v)? {
                let rows: Vec<Vec<String>> = as_list(&v, "GET /apps")?
                    .iter()
                    .map(|a| {
                        vec![
                            field(a, "name"),
                            field(a, "kind"),
                            field(a, "addr"),
                            node_counts(a),
                            field(a, "maintenance_window"),
                            field(a, "refreshed_at"),
                        ]
                    })
                    .collect();
                print_table(
                    &["name", "kind", "addr", "nodes", "window", "refreshed"],
                    &rows,
                )?;
            }
            Ok(())
        }
        NodeCommand::Show(n) => {
            let v = c.get(&app_path(&n.name))?;
            show(&c, &v)
        }
        NodeCommand::Refresh(n) => {
            let v = c.post(&format!("{}/refresh", app_path(&n.name)), None)?;
            show(&c, &v)
        }
        NodeCommand::Owner(o) => super::team::owner(&c, o),
        NodeCommand::Remove(n) => {
            c.call("DELETE", &app_path(&n.name), None)?;
            if c.json {
                writeln!(std::io::stdout(), "null")?;
            } else {
                eprintln!("app {} removed", n.name);
            }
            Ok(())
        }
    }
}

/// `1 master, 2 replicas`.
fn node_counts(app: &Value) -> String {
    let Some(nodes) = app.get("nodes").and_then(Value::as_array) else {
        return "-".into();
    };
    let count = |role: &str| {
        nodes
            .iter()
            .filter(|n| n.get("role").and_then(Value::as_str) == Some(role))
            .count()
    };
    let (m, r) = (count("master"), count("replica"));
    let mut parts = vec![format!("{m} master{}", if m == 1 { "" } else { "s" })];
    if r > 0 {
        parts.push(format!("{r} replica{}", if r == 1 { "" } else { "s" }));
    }
    let other = nodes.len() - m - r;
    if other > 0 {
        parts.push(format!("{other} other"));
    }
    parts.join(", ")
}

fn show(c: &Client, app: &Value) -> Result<()> {
    if c.print_json(app)? {
        return Ok(());
    }
    print_block(&[
        ("name", field(app, "name")),
        ("kind", field(app, "kind")),
        ("addr", field(app, "addr")),
        ("user", field(app, "user")),
        (
            "password",
            field(app, "has_password")
                .replace("yes", "set")
                .replace("no", "none"),
        ),
        ("maintenance window", {
            let w = field(app, "maintenance_window");
            if w == "-" {
                "any time".into()
            } else {
                format!("{w} UTC")
            }
        }),
        ("refreshed", field(app, "refreshed_at")),
        ("nodes", node_counts(app)),
    ])?;
    if let Some(nodes) = app.get("nodes").and_then(Value::as_array) {
        writeln!(std::io::stdout())?;
        let rows: Vec<Vec<String>> = nodes
            .iter()
            .map(|n| {
                vec![
                    field(n, "addr"),
                    field(n, "role"),
                    field(n, "master"),
                    slots_text(n.get("slots").unwrap_or(&Value::Null)),
                ]
            })
            .collect();
        print_table(&["addr", "role", "master", "slots"], &rows)?;
    }
    Ok(())
}

/// Slot ranges `[[0,5460],[10923,10923]]` as `0-5460 10923`.
fn slots_text(v: &Value) -> String {
    let Some(ranges) = v.as_array() else {
        return cell(v);
    };
    ranges
        .iter()
        .map(|r| match r.as_array().map(Vec::as_slice) {
            Some([a, b]) if a == b => cell(a),
            Some([a, b]) => format!("{}-{}", cell(a), cell(b)),
            _ => cell(r),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summarizes_nodes_and_slots() {
        let app = json!({"nodes": [{"role": "master"}, {"role": "replica"}, {"role": "replica"}]});
        assert_eq!(node_counts(&app), "1 master, 2 replicas");
        assert_eq!(node_counts(&json!({})), "-");
        assert_eq!(
            slots_text(&json!([[0, 5460], [10923, 10923]])),
            "0-5460 10923"
        );
        assert_eq!(slots_text(&Value::Null), "-");
    }
}
