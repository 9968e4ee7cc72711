//! `rdbscope schedule ...`: recurring analyses of the job service.

use std::io::Write;

use anyhow::{anyhow, Result};
use serde_json::{json, Value};

use super::client::{as_list, block_value, cell, encode, field, print_block, print_table, Client};
use crate::args::{ScheduleArgs, ScheduleCommand};

fn params(text: &Option<String>) -> Result<Option<Value>> {
    text.as_deref()
        .map(|t| match serde_json::from_str::<Value>(t) {
            Ok(v @ Value::Object(_)) => Ok(v),
            Ok(_) => Err(anyhow!(
                "--params must be a JSON object, e.g. '{{\"top\":50}}'"
            )),
            Err(e) => Err(anyhow!("--params is not valid JSON: {e}")),
        })
        .transpose()
}

pub(crate) fn run(a: ScheduleArgs) -> Result<()> {
    let c = Client::new(&a.client)?;
    let path = |name: &str| format!("/schedules/{}", encode(name, false));
    match a.command {
        ScheduleCommand::Add(s) => {
            let mut body = json!({
                "name": s.name, "app": s.app, "cron": s.cron, "keep": s.keep,
                "enabled": !s.disabled,
            });
            if let Some(p) = params(&s.params)? {
                body["params"] = p;
            }
            let v = c.post("/schedules", Some(&body))?;
            show(&c, &v)
        }
        ScheduleCommand::List => {
            let v = c.get("/schedules")?;
            if !c.print_json(&v)? {
                let rows: Vec<Vec<String>> = as_list(&v, "GET /schedules")?
                    .iter()
                    .map(|s| {
                        vec![
                            field(s, "name"),
                            field(s, "app"),
                            field(s, "cron"),
                            field(s, "keep"),
                            field(s, "enabled"),
                            field(s, "last_fired"),
                            field(s, "next_run"),
                        ]
                    })
                    .collect();
                print_table(
                    &[
                        "name",
                        "app",
                        "cron",
                        "keep",
                        "enabled",
                        "last fired",
                        "next run",
                    ],
                    &rows,
                )?;
            }
            Ok(())
        }
        ScheduleCommand::Show(n) => {
            let v = c.get(&path(&n.name))?;
            show(&c, &v)
        }
        ScheduleCommand::Set(s) => {
            let mut body = json!({});
            if let Some(cron) = s.cron {
                body["cron"] = cron.into();
            }
            if let Some(k) = s.keep {
                body["keep"] = k.into();
            }
            if let Some(p) = params(&s.params)? {
                body["params"] = p;
            }
            if s.enable || s.disable {
                body["enabled"] = s.enable.into();
            }
            let (_, v) = c.call("PATCH", &path(&s.name), Some(&body))?;
            show(&c, &v)
        }
        ScheduleCommand::Rm(n) => {
            c.call("DELETE", &path(&n.name), None)?;
            if c.json {
                writeln!(std::io::stdout(), "null")?;
            } else {
                eprintln!(
                    "schedule {} removed (its tickets and kept reports stay)",
                    n.name
                );
            }
            Ok(())
        }
    }
}

fn show(c: &Client, s: &Value) -> Result<()> {
    if c.print_json(s)? {
        return Ok(());
    }
    let get = |k: &str| s.get(k).unwrap_or(&Value::Null);
    print_block(&[
        ("name", field(s, "name")),
        ("app", field(s, "app")),
        ("cron", field(s, "cron")),
        ("keep", field(s, "keep")),
        ("enabled", field(s, "enabled")),
        ("params", cell(get("params"))),
        (
            "created",
            format!("{} by {}", field(s, "created_at"), field(s, "created_by")),
        ),
        ("last fired", field(s, "last_fired")),
        ("next run", field(s, "next_run")),
        ("reports in", field(s, "fleet_dir")),
    ])?;
    if let Some(runs) = s.get("runs").and_then(Value::as_array) {
        if !runs.is_empty() {
            println!();
            let rows: Vec<Vec<String>> = runs
                .iter()
                .map(|r| {
                    vec![
                        field(r, "ticket"),
                        field(r, "fired_at"),
                        block_value(get_or_null(r, "report_dir")),
                        field(r, "pruned_at"),
                    ]
                })
                .collect();
            print_table(&["ticket", "fired at", "report", "pruned"], &rows)?;
        }
    }
    Ok(())
}

fn get_or_null<'a>(v: &'a Value, k: &str) -> &'a Value {
    v.get(k).unwrap_or(&Value::Null)
}
