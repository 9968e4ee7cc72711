//! `rdbscope team …`, `rdbscope policy …`, `rdbscope node owner` and
//! `rdbscope user stand-in …`: teams, app ownership, approval policies and
//! stand-ins in the job service.

use std::io::Read;

use anyhow::{Context, Result};
use serde_json::{json, Value};

use super::client::{self, as_list, block_value, cell, field, print_block, print_table, Client};
use crate::args::{NodeOwnerArgs, PolicyArgs, PolicyCommand, StandInArgs, TeamArgs, TeamCommand};

fn team_path(name: &str) -> String {
    format!("/teams/{}", client::encode(name, false))
}

fn member_path(team: &str, user: &str) -> String {
    format!(
        "{}/members/{}",
        team_path(team),
        client::encode(user, false)
    )
}

fn show_team(c: &Client, t: &Value) -> Result<()> {
    if !c.print_json(t)? {
        let members = t["members"]
            .as_array()
            .map(|m| m.iter().map(cell).collect::<Vec<_>>().join(", "))
            .unwrap_or_default();
        print_block(&[
            ("name", field(t, "name")),
            ("lead", field(t, "lead")),
            ("members", members),
            ("created", field(t, "created_at")),
        ])?;
    }
    Ok(())
}

pub(crate) fn run(a: TeamArgs) -> Result<()> {
    let c = Client::new(&a.client)?;
    let v = match a.command {
        TeamCommand::Add(t) => c.post(
            "/teams",
            Some(&json!({"name": t.name, "lead": t.lead, "members": t.members})),
        )?,
        TeamCommand::List => {
            let v = c.get("/teams")?;
            if !c.print_json(&v)? {
                let rows: Vec<Vec<String>> = as_list(&v, "GET /teams")?
                    .iter()
                    .map(|t| vec![field(t, "name"), field(t, "lead"), cell(&t["members"])])
                    .collect();
                print_table(&["team", "lead", "members"], &rows)?;
            }
            return Ok(());
        }
        TeamCommand::Show(n) => c.get(&team_path(&n.name))?,
        TeamCommand::Lead { team, user } => {
            c.send_json("PATCH", &team_path(&team), Some(&json!({ "lead": user })))?
        }
        TeamCommand::Join { team, user } => c.send_json("PUT", &member_path(&team, &user), None)?,
        TeamCommand::Leave { team, user } => {
            c.send_json("DELETE", &member_path(&team, &user), None)?
        }
        TeamCommand::Remove(n) => {
            c.send_json("DELETE", &team_path(&n.name), None)?;
            if !c.print_json(&Value::Null)? {
                eprintln!("team {} removed", n.name);
            }
            return Ok(());
        }
    };
    show_team(&c, &v)
}

/// `rdbscope node owner NAME --team T --tag X --approver U`.
pub(crate) fn owner(c: &Client, o: NodeOwnerArgs) -> Result<()> {
    let v = c.send_json(
        "PUT",
        &format!("/apps/{}/owner", client::encode(&o.name, false)),
        Some(&json!({"team": o.team, "tags": o.tags, "approvers": o.approvers})),
    )?;
    if !c.print_json(&v)? {
        print_block(&[
            ("app", o.name),
            ("team", field(&v, "team")),
            ("tags", cell(&v["tags"])),
            ("approvers", cell(&v["approvers"])),
        ])?;
    }
    Ok(())
}

/// `rdbscope user stand-in NAME --by USER --until TIME`.
pub(crate) fn stand_in(c: &Client, s: StandInArgs) -> Result<()> {
    let v = c.send_json(
        "PUT",
        &format!("/users/{}/stand-in", client::encode(&s.name, false)),
        Some(&json!({"stand_in": s.by, "from": s.from, "until": s.until})),
    )?;
    if !c.print_json(&v)? {
        print_block(&[
            ("user", field(&v, "user")),
            ("stand-in", field(&v, "stand_in")),
            ("from", field(&v, "from")),
            ("until", field(&v, "until")),
            ("active", field(&v, "active")),
        ])?;
    }
    Ok(())
}

/// `rdbscope user stand-in-end NAME`.
pub(crate) fn stand_in_end(c: &Client, name: &str) -> Result<()> {
    c.send_json(
        "DELETE",
        &format!("/users/{}/stand-in", client::encode(name, false)),
        None,
    )?;
    if !c.print_json(&Value::Null)? {
        eprintln!("{name} has no stand-in now");
    }
    Ok(())
}

pub(crate) fn policy(a: PolicyArgs) -> Result<()> {
    let c = Client::new(&a.client)?;
    let v = match a.command {
        PolicyCommand::Show => c.get("/approval-policies")?,
        PolicyCommand::Set { file } => {
            let mut text = String::new();
            if file.as_os_str() == "-" {
                std::io::stdin().read_to_string(&mut text)?;
            } else {
                text = std::fs::read_to_string(&file)
                    .with_context(|| format!("cannot read {}", file.display()))?;
            }
            let rules: Value = serde_json::from_str(&text)
                .with_context(|| format!("{}: not JSON", file.display()))?;
            let rules = rules.get("rules").cloned().unwrap_or(rules);
            c.send_json(
                "PUT",
                "/approval-policies",
                Some(&json!({ "rules": rules })),
            )?
        }
        PolicyCommand::Reset => c.send_json("DELETE", "/approval-policies", None)?,
    };
    if !c.print_json(&v)? {
        print_block(&[
            ("source", field(&v, "source")),
            ("updated by", field(&v, "updated_by")),
            ("approval margin", field(&v, "approval_margin")),
        ])?;
        let rows: Vec<Vec<String>> = as_list(&v["rules"], "the rules")?
            .iter()
            .map(|r| {
                let mut when = Vec::new();
                for k in ["min_risk", "keys_over", "conflict"] {
                    if !r[k].is_null() {
                        when.push(format!("{k}={}", cell(&r[k])));
                    }
                }
                if r["tags"].as_array().is_some_and(|t| !t.is_empty()) {
                    when.push(format!("tags={}", cell(&r["tags"])));
                }
                vec![
                    field(r, "name"),
                    field(r, "kind"),
                    when.join(" "),
                    block_value(&r["approvals"]),
                ]
            })
            .collect();
        print_table(&["rule", "type", "when", "approvals"], &rows)?;
    }
    Ok(())
}
