//! `rdbscope ticket stats`: the job service's ticket statistics as tables.

use anyhow::Result;
use serde_json::Value;

use super::client::{encode, field, print_table, Client};
use crate::args::StatsArgs;

fn secs(v: &Value) -> String {
    match v.as_f64() {
        None => "-".into(),
        Some(s) if s < 120.0 => format!("{s:.1} s"),
        Some(s) if s < 7200.0 => format!("{:.1} min", s / 60.0),
        Some(s) => format!("{:.1} h", s / 3600.0),
    }
}

fn percent(v: &Value) -> String {
    v.as_f64()
        .map(|r| format!("{:.1} %", r * 100.0))
        .unwrap_or_else(|| "-".into())
}

pub(crate) fn run(c: &Client, a: StatsArgs) -> Result<()> {
    let mut query = Vec::new();
    for (k, v) in [
        ("from", &a.from),
        ("to", &a.to),
        ("app", &a.app),
        ("team", &a.team),
    ] {
        if let Some(v) = v {
            query.push(format!("{k}={}", encode(v, false)));
        }
    }
    let path = if query.is_empty() {
        "/stats".to_string()
    } else {
        format!("/stats?{}", query.join("&"))
    };
    let v = c.get(&path)?;
    if c.print_json(&v)? {
        return Ok(());
    }
    println!(
        "tickets filed {} to {}{}: {}",
        field(&v, "from"),
        field(&v, "to"),
        a.app.map(|a| format!(" for app {a}")).unwrap_or_default()
            + &a.team.map(|t| format!(" for team {t}")).unwrap_or_default(),
        field(&v, "tickets")
    );
    let states = [
        "pending",
        "approved",
        "running",
        "succeeded",
        "failed",
        "cancelled",
        "rejected",
    ];
    let mut rows = Vec::new();
    if let Some(types) = v["by_type"].as_object() {
        for (kind, per) in types {
            let mut row = vec![kind.clone()];
            row.extend(
                states
                    .iter()
                    .map(|s| per[*s].as_u64().unwrap_or(0).to_string()),
            );
            rows.push(row);
        }
    }
    let mut headers = vec!["type"];
    headers.extend(states);
    println!();
    print_table(&headers, &rows)?;
    println!();
    let d = |k: &str| {
        let x = &v[k];
        vec![
            k.replace('_', " "),
            field(x, "count"),
            secs(&x["median_secs"]),
            secs(&x["p90_secs"]),
        ]
    };
    print_table(
        &["time", "tickets", "median", "p90"],
        &[d("time_to_approval"), d("time_to_completion")],
    )?;
    println!(
        "\nrejected {} ({} of decided), failed {} ({} of finished runs)\n",
        field(&v, "rejected"),
        percent(&v["rejection_rate"]),
        field(&v, "failed"),
        percent(&v["failure_rate"])
    );
    for (group, key) in [("app", "per_app"), ("team", "per_team")] {
        let Some(groups) = v[key].as_object() else {
            continue;
        };
        if groups.is_empty() && key == "per_team" {
            continue;
        }
        let rows: Vec<Vec<String>> = groups
            .iter()
            .map(|(name, g)| {
                vec![
                    name.clone(),
                    field(g, "tickets"),
                    field(g, "keys_deleted"),
                    field(g, "keys_expired"),
                    field(g, "keys_migrated"),
                    field(g, "bytes_analyzed"),
                ]
            })
            .collect();
        print_table(
            &[
                group,
                "tickets",
                "keys deleted",
                "keys expired",
                "keys migrated",
                "bytes analyzed",
            ],
            &rows,
        )?;
        println!();
    }
    Ok(())
}
