//! `rdbscope ticket ...`: the ticket endpoints of the job service.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{Map, Value};

use super::client::{self, as_list, block_value, cell, field, print_block, print_table, Client};
use crate::args::{ReportArgs, SubmitArgs, TicketArgs, TicketCommand, WaitArgs};
use crate::usage::usage_error;

/// States a ticket never leaves.
const FINAL_STATES: [&str; 4] = ["succeeded", "failed", "cancelled", "rejected"];

pub(crate) fn run(a: TicketArgs) -> Result<()> {
    let c = Client::new(&a.client)?;
    match a.command {
        TicketCommand::Submit(s) => submit(&c, s),
        TicketCommand::List(l) => {
            let mut query = Vec::new();
            if let Some(s) = &l.state {
                query.push(format!("state={}", client::encode(s, false)));
            }
            if let Some(t) = &l.kind {
                query.push(format!("type={}", client::encode(t, false)));
            }
            if l.needs_me {
                query.push("needs_me=true".into());
            }
            let path = if query.is_empty() {
                "/tickets".to_string()
            } else {
                format!("/tickets?{}", query.join("&"))
            };
            let v = c.get(&path)?;
            if !c.print_json(&v)? {
                print_tickets(as_list(&v, "GET /tickets")?)?;
            }
            Ok(())
        }
        TicketCommand::Show(t) => {
            let v = c.get(&format!("/tickets/{}", t.id))?;
            show(&c, &v)
        }
        TicketCommand::Approve(a) => {
            let mut body = serde_json::json!({});
            if let Some(n) = a.note {
                body["note"] = n.into();
            }
            if let Some(t) = a.run_at {
                body["run_at"] = t.into();
            }
            let body = (body != serde_json::json!({})).then_some(body);
            let v = c.post(&decision_path(a.id, a.approval, "approve"), body.as_ref())?;
            show(&c, &v)
        }
        TicketCommand::Reject(r) => {
            let v = c.post(
                &decision_path(r.id, r.approval, "reject"),
                Some(&serde_json::json!({ "reason": r.reason })),
            )?;
            show(&c, &v)
        }
        TicketCommand::Return(r) => {
            let v = c.post(
                &decision_path(r.id, r.approval, "return"),
                Some(&serde_json::json!({ "note": r.note })),
            )?;
            show(&c, &v)
        }
        TicketCommand::Amend(a) => {
            let params: Value = serde_json::from_str(&a.params).map_err(|e| {
                usage_error(
                    &["ticket", "amend"],
                    clap::error::ErrorKind::ValueValidation,
                    format!("--params: not JSON: {e}"),
                )
            })?;
            let v = c.send_json(
                "PATCH",
                &format!("/tickets/{}", a.id),
                Some(&serde_json::json!({ "params": params })),
            )?;
            show(&c, &v)
        }
        TicketCommand::Resubmit(t) => {
            let v = c.post(&format!("/tickets/{}/resubmit", t.id), None)?;
            show(&c, &v)
        }
        TicketCommand::Cancel(t) => {
            let v = c.post(&format!("/tickets/{}/cancel", t.id), None)?;
            show(&c, &v)
        }
        TicketCommand::Rollback(r) => {
            let v = super::rollback::rollback(&c, r)?;
            show(&c, &v)
        }
        TicketCommand::Wait(w) => wait(&c, w),
        TicketCommand::Report(r) => report(&c, r),
        TicketCommand::Audit(t) => {
            let v = c.get(&format!("/tickets/{}/audit", t.id))?;
            if !c.print_json(&v)? {
                let rows: Vec<Vec<String>> = as_list(&v, "the audit")?
                    .iter()
                    .map(|e| {
                        vec![
                            field(e, "at"),
                            field(e, "actor"),
                            field(e, "from"),
                            field(e, "to"),
                            field(e, "note"),
                        ]
                    })
                    .collect();
                print_table(&["at", "actor", "from", "to", "note"], &rows)?;
            }
            Ok(())
        }
        TicketCommand::RunAt(r) => {
            let v = c.post(
                &format!("/tickets/{}/run-at", r.id),
                Some(&serde_json::json!({ "run_at": r.time })),
            )?;
            show(&c, &v)
        }
        TicketCommand::Stats(s) => super::stats::run(&c, s),
    }
}

/// The parameters the flags give, for ticket type `kind`; a flag that does not
/// belong to the type is a usage error.
fn params_from_flags(s: &SubmitArgs) -> Result<Map<String, Value>> {
    let kind = s.kind.as_str();
    let mut p = Map::new();
    let wrong = |flag: &str, types: &str| {
        usage_error(
            &["ticket", "submit"],
            clap::error::ErrorKind::ArgumentConflict,
            format!(
                "{flag} is for {types} tickets, not {kind:?} (use --params for other parameters)"
            ),
        )
    };
    if let Some(app) = &s.app {
        p.insert("app".into(), app.clone().into());
    }
    let analysis = kind == "analysis";
    if let Some(f) = &s.file {
        if !analysis {
            return Err(wrong("--file", "analysis"));
        }
        let abs = std::path::absolute(f).unwrap_or_else(|_| f.clone());
        p.insert("file".into(), abs.to_string_lossy().into_owned().into());
    }
    if let Some(sep) = &s.separators {
        if !analysis {
            return Err(wrong("--separators", "analysis"));
        }
        p.insert("separators".into(), sep.clone().into());
    }
    if let Some(d) = s.prefix_depth {
        if !analysis {
            return Err(wrong("--prefix-depth", "analysis"));
        }
        p.insert("prefix_depth".into(), d.into());
    }
    if s.no_keys {
        if !analysis {
            return Err(wrong("--no-keys", "analysis"));
        }
        p.insert("keys_table".into(), false.into());
    }
    if s.loaded {
        if !analysis {
            return Err(wrong("--loaded", "analysis"));
        }
        p.insert("loaded".into(), true.into());
    }
    if let Some(t) = s.top {
        if !analysis && kind != "hotkeys" {
            return Err(wrong("--top", "analysis and hotkeys"));
        }
        p.insert("top".into(), t.into());
    }
    if let Some(d) = s.duration {
        if kind != "hotkeys" {
            return Err(wrong("--duration", "hotkeys"));
        }
        p.insert("duration_secs".into(), d.into());
    }
    if let Some(m) = &s.method {
        if kind != "hotkeys" {
            return Err(wrong("--method", "hotkeys"));
        }
        p.insert("method".into(), m.clone().into());
    }
    if let Some(extra) = &s.params {
        let v: Value = serde_json::from_str(extra).map_err(|e| {
            usage_error(
                &["ticket", "submit"],
                clap::error::ErrorKind::ValueValidation,
                format!("--params is not valid JSON: {e}"),
            )
        })?;
        let Value::Object(extra) = v else {
            return Err(usage_error(
                &["ticket", "submit"],
                clap::error::ErrorKind::ValueValidation,
                "--params must be a JSON object, e.g. '{\"app\":\"shop\"}'",
            ));
        };
        for (k, v) in extra {
            if p.contains_key(&k) {
                return Err(usage_error(
                    &["ticket", "submit"],
                    clap::error::ErrorKind::ArgumentConflict,
                    format!("parameter {k:?} is given both by a flag and in --params"),
                ));
            }
            p.insert(k, v);
        }
    }
    Ok(p)
}

fn submit(c: &Client, s: SubmitArgs) -> Result<()> {
    let params = params_from_flags(&s)?;
    let mut body = serde_json::json!({ "type": s.kind, "params": params });
    if let Some(k) = &s.idempotency_key {
        body["idempotency_key"] = k.clone().into();
    }
    if let Some(t) = &s.run_at {
        body["run_at"] = t.clone().into();
    }
    let (status, v) = c.call("POST", "/tickets", Some(&body))?;
    if c.print_json(&v)? {
        return Ok(());
    }
    let id = field(&v, "id");
    if status == 200 {
        eprintln!("ticket {id} already exists with this idempotency key and these parameters");
    } else {
        eprintln!(
            "ticket {id} submitted ({}); follow it with `rdbscope ticket wait {id}`",
            field(&v, "state")
        );
    }
    show_block(&v)
}

fn print_tickets(list: &[Value]) -> io::Result<()> {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|t| {
            vec![
                field(t, "id"),
                field(t, "type"),
                field(t, "state"),
                field(t, "submitter"),
                field(t, "handler"),
                client::progress_text(t.get("progress").unwrap_or(&Value::Null), false),
                field(t, "created_at"),
                field(t, "run_at"),
            ]
        })
        .collect();
    print_table(
        &[
            "id",
            "type",
            "state",
            "submitter",
            "handler",
            "progress",
            "created",
            "scheduled",
        ],
        &rows,
    )
}

/// Prints a ticket: the JSON with `--json`, a `key: value` block otherwise.
/// The path of a decision: on one approval record, or the first the
/// caller may decide.
fn decision_path(id: u64, approval: Option<u64>, what: &str) -> String {
    match approval {
        Some(a) => format!("/tickets/{id}/approvals/{a}/{what}"),
        None => format!("/tickets/{id}/{what}"),
    }
}

fn show(c: &Client, t: &Value) -> Result<()> {
    if !c.print_json(t)? {
        show_block(t)?;
    }
    Ok(())
}

fn show_block(t: &Value) -> Result<()> {
    let get = |k: &str| t.get(k).unwrap_or(&Value::Null);
    let fields = vec![
        ("id", field(t, "id")),
        ("type", field(t, "type")),
        ("state", field(t, "state")),
        ("submitter", field(t, "submitter")),
        ("handler", field(t, "handler")),
        ("created", field(t, "created_at")),
        ("updated", field(t, "updated_at")),
        ("attempts", field(t, "attempts")),
        ("runs at", field(t, "run_at")),
        ("params", cell(get("params"))),
        ("params hash", field(t, "params_hash")),
        ("progress", client::progress_text(get("progress"), true)),
        ("risk", field(t, "risk")),
        ("plan", block_value(get("plan"))),
        ("error", block_value(get("error"))),
        ("result", block_value(get("result"))),
    ];
    print_block(&fields)?;
    let approvals: Vec<Vec<String>> = get("approvals")
        .as_array()
        .map(|a| {
            a.iter()
                .map(|r| {
                    let who = match (field(r, "actor").as_str(), r["for_user"].as_str()) {
                        ("-", _) => "-".to_string(),
                        (a, Some(f)) => format!("{a} for {f}"),
                        (a, None) => a.to_string(),
                    };
                    let approvers = match r["approvers"].as_array() {
                        Some(u) => u.iter().map(cell).collect::<Vec<_>>().join(","),
                        None => "any admin".into(),
                    };
                    vec![
                        field(r, "id"),
                        field(r, "round"),
                        format!("{} ({approvers})", field(r, "requirement")),
                        field(r, "state"),
                        who,
                        field(r, "note"),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    if !approvals.is_empty() {
        println!();
        print_table(
            &["approval", "round", "needs", "state", "by", "note"],
            &approvals,
        )?;
    }
    Ok(())
}

fn error_text(t: &Value) -> String {
    match t.get("error") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

fn wait(c: &Client, w: WaitArgs) -> Result<()> {
    let path = format!("/tickets/{}", w.id);
    let start = Instant::now();
    let interval = Duration::from_secs_f64(w.interval.clamp(0.05, 3600.0));
    let mut last = String::new();
    let t = loop {
        let t = c.get(&path)?;
        let state = t
            .get("state")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let now = format!(
            "{state} {}",
            client::progress_text(t.get("progress").unwrap_or(&Value::Null), false)
        );
        if now != last && !c.json {
            eprintln!("ticket {}: {now}", w.id);
            last = now;
        }
        if FINAL_STATES.contains(&state.as_str()) {
            break t;
        }
        if let Some(limit) = w.timeout {
            if start.elapsed() >= Duration::from_secs(limit) {
                bail!(
                    "ticket {} is still {state} after {limit} s (--timeout); it goes on: \
                     `rdbscope ticket wait {}` again, or `rdbscope ticket cancel {}`",
                    w.id,
                    w.id,
                    w.id
                );
            }
        }
        std::thread::sleep(interval);
    };
    show(c, &t)?;
    let state = field(&t, "state");
    if state == "succeeded" {
        return Ok(());
    }
    let mut err = error_text(&t);
    if err.is_empty() {
        // A rejection's reason (or a cancellation's note) is in the audit trail.
        err = c
            .get(&format!("{path}/audit"))
            .ok()
            .and_then(|a| {
                a.as_array()?
                    .last()?
                    .get("note")?
                    .as_str()
                    .map(str::to_string)
            })
            .unwrap_or_default();
    }
    if err.is_empty() {
        bail!("ticket {} {state}", w.id)
    }
    bail!("ticket {} {state}: {err}", w.id)
}

/// A report file's name as a relative path that stays inside a directory.
fn safe_relative(name: &str) -> Result<PathBuf> {
    let p = Path::new(name);
    if name.is_empty() || !p.components().all(|c| matches!(c, Component::Normal(_))) {
        bail!("the service listed a report file with an unsafe name: {name:?}");
    }
    Ok(p.to_path_buf())
}

fn write_file(c: &Client, url: &str, dest: &Path) -> Result<u64> {
    if let Some(parent) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    // Written next to the destination, renamed once complete.
    let tmp = dest.with_file_name(format!(
        ".{}.part",
        dest.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    ));
    let result = (|| {
        let mut out = BufWriter::new(
            File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?,
        );
        let n = c.download(url, &mut out)?;
        out.flush()?;
        drop(out);
        std::fs::rename(&tmp, dest).with_context(|| format!("cannot write {}", dest.display()))?;
        Ok(n)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn report(c: &Client, r: ReportArgs) -> Result<()> {
    let list_path = format!("/tickets/{}/report", r.id);
    let file_url = |name: &str| format!("{list_path}/{}", client::encode(name, true));
    if let Some(name) = &r.name {
        let url = file_url(name);
        match &r.output {
            Some(p) if p.as_os_str() == "-" => {
                let mut out = io::stdout().lock();
                c.download(&url, &mut out)?;
                out.flush()?;
            }
            out => {
                let dest = match out {
                    Some(p) if p.is_dir() => p.join(
                        Path::new(name)
                            .file_name()
                            .ok_or_else(|| anyhow!("bad report file name {name:?}"))?,
                    ),
                    Some(p) => p.clone(),
                    None => PathBuf::from(
                        Path::new(name)
                            .file_name()
                            .ok_or_else(|| anyhow!("bad report file name {name:?}"))?,
                    ),
                };
                let n = write_file(c, &url, &dest)?;
                eprintln!("wrote {} ({n} bytes)", dest.display());
            }
        }
        return Ok(());
    }
    let v = c.get(&list_path)?;
    let files = as_list(&v, "the report list")?;
    if r.all {
        let dir = r
            .output
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("ticket-{}", r.id)));
        if dir.as_os_str() == "-" {
            bail!("--all writes files into a directory; -o - is for one NAME");
        }
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let mut total = 0;
        for f in files {
            let name = f
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| anyhow!("report entry without a name: {f}"))?;
            let dest = dir.join(safe_relative(name)?);
            total += write_file(c, &file_url(name), &dest)?;
            if !c.json {
                writeln!(io::stdout(), "{}", dest.display())?;
            }
        }
        if c.json {
            c.print_json(&v)?;
        }
        eprintln!(
            "wrote {} files ({total} bytes) into {}",
            files.len(),
            dir.display()
        );
        return Ok(());
    }
    if r.output.is_some() {
        bail!("-o needs a file NAME or --all");
    }
    if !c.print_json(&v)? {
        let rows: Vec<Vec<String>> = files
            .iter()
            .map(|f| vec![field(f, "name"), field(f, "bytes")])
            .collect();
        print_table(&["name", "bytes"], &rows)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_names_stay_inside_the_directory() {
        assert_eq!(
            safe_relative("summary.json").unwrap(),
            PathBuf::from("summary.json")
        );
        assert_eq!(
            safe_relative("shard-1/keys.parquet").unwrap(),
            PathBuf::from("shard-1/keys.parquet")
        );
        for bad in ["", "../jobs.db", "/etc/passwd", "a/../../b", "./x"] {
            assert!(safe_relative(bad).is_err(), "{bad}");
        }
    }
}
