//! Recurring analyses: an admin defines, changes and deletes schedules
//! (cron, UTC) that file an auto-approved analysis ticket of an app on each
//! firing; everyone may read them and their runs.

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::error::{ApiResult, BadRequest, Conflict, Forbidden, NotFound, Unauthorized};
use super::request::{Admin, Body, Caller};
use super::views::to_json;
use crate::auth::check_name;
use crate::error::{Error, Result};
use crate::params::{Params, ParseCtx};
use crate::schedule::{fleet_root, Cron};
use crate::service::Shared;
use crate::store::{now_ms, RunRow, ScheduleRow};
use crate::time::rfc3339;

/// A schedule to define.
#[derive(Deserialize, serde::Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewSchedule, example = json!({"name": "shop-nightly", "app": "shop", "cron": "0 3 * * *", "keep": 7, "params": {"separators": ":"}}))]
pub(super) struct NewSchedule {
    /// 1-64 letters, digits, `.`, `_`, `-` or `@`.
    #[schema(pattern = "^[A-Za-z0-9._@-]{1,64}$")]
    name: String,
    /// The app to analyze.
    app: String,
    /// When, in UTC: 5 fields (`minute hour day month weekday`, e.g.
    /// `0 3 * * *` daily at 03:00) or 6 with seconds first.
    #[schema(example = "0 3 * * *")]
    cron: String,
    /// Reports kept (1-1000, default 7); older runs' reports are deleted.
    #[serde(default = "default_keep")]
    #[schema(minimum = 1, maximum = 1000, default = 7)]
    keep: i64,
    /// Analysis parameters other than `app` and `file` (`separators`,
    /// `prefix_depth`, `top`, `keys_table`, `loaded`).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    params: Value,
    /// Whether it fires (default true).
    #[serde(default = "yes")]
    #[schema(default = true)]
    enabled: bool,
}

fn default_keep() -> i64 {
    7
}
fn yes() -> bool {
    true
}

/// Changes to a schedule: only the fields given change.
#[derive(Deserialize, serde::Serialize, PartialEq, Default, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ScheduleChange, example = json!({"cron": "30 2 * * *", "keep": 14}))]
pub(super) struct ScheduleChange {
    /// A new cron expression (the next firing is then counted from now).
    #[serde(default)]
    cron: Option<String>,
    /// Reports kept (1-1000).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1000)]
    keep: Option<i64>,
    /// New analysis parameters (replacing the old ones).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    params: Option<Value>,
    /// Stop or resume firing (resumed: counted from now, nothing missed is run).
    #[serde(default)]
    enabled: Option<bool>,
}

/// One firing of a schedule.
#[derive(Serialize, ToSchema)]
#[schema(as = ScheduleRun)]
pub(super) struct RunBody {
    /// The ticket it filed.
    ticket: i64,
    /// The cron time it stands for: RFC 3339, UTC.
    #[schema(format = DateTime)]
    fired_at: String,
    /// Its report in the fleet layout, once the run succeeded.
    report_dir: Option<String>,
    /// When its report was deleted to keep the last `keep`.
    #[schema(format = DateTime)]
    pruned_at: Option<String>,
}

/// A schedule as the API shows it.
#[derive(Serialize, ToSchema)]
#[schema(as = Schedule)]
pub(super) struct ScheduleBody {
    /// Its name.
    name: String,
    /// The app it analyzes.
    app: String,
    /// Its cron expression (UTC).
    cron: String,
    /// Reports kept.
    keep: i64,
    /// The analysis parameters of each ticket (canonical).
    #[schema(value_type = Object)]
    params: Value,
    /// Whether it fires.
    enabled: bool,
    /// The admin who defined it.
    created_by: String,
    /// When defined: RFC 3339, UTC.
    #[schema(format = DateTime)]
    created_at: String,
    /// The cron time of the last firing; null before the first.
    #[schema(format = DateTime)]
    last_fired: Option<String>,
    /// The next firing (null when disabled).
    #[schema(format = DateTime)]
    next_run: Option<String>,
    /// Where its reports go: `<dir>/snapshot_date=…/source=<app>/ticket=<id>/`.
    fleet_dir: String,
    /// Its newest runs (only in `GET /schedules/{name}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    runs: Option<Vec<RunBody>>,
}

fn body(state: &Shared, s: &ScheduleRow, runs: Option<Vec<RunRow>>) -> Value {
    let next = s
        .enabled
        .then(|| {
            Cron::parse(&s.cron)
                .ok()?
                .next_after(s.last_fired.max(now_ms()))
        })
        .flatten();
    to_json(&ScheduleBody {
        name: s.name.clone(),
        app: s.app.clone(),
        cron: s.cron.clone(),
        keep: s.keep,
        params: serde_json::from_str(&s.params).unwrap_or(Value::Null),
        enabled: s.enabled,
        created_by: s.created_by.clone(),
        created_at: rfc3339(s.created_at),
        last_fired: (s.last_fired > s.created_at).then(|| rfc3339(s.last_fired)),
        next_run: next.map(rfc3339),
        fleet_dir: fleet_root(&state.config, &s.name).display().to_string(),
        runs: runs.map(|rs| {
            rs.iter()
                .map(|r| RunBody {
                    ticket: r.ticket_id,
                    fired_at: rfc3339(r.fired_at),
                    report_dir: r.report_dir.clone(),
                    pruned_at: r.pruned_at.map(rfc3339),
                })
                .collect()
        }),
    })
}

fn check_keep(keep: i64) -> Result<()> {
    if (1..=1000).contains(&keep) {
        Ok(())
    } else {
        Err(Error::bad_request("keep: give 1 to 1000 reports"))
    }
}

/// The analysis parameters of app `app`'s schedule, canonical.
fn analysis_params(state: &Shared, app: &str, params: &Value) -> Result<String> {
    let mut raw = match params {
        Value::Null => Map::new(),
        Value::Object(m) => m.clone(),
        _ => return Err(Error::bad_request("params: give a JSON object")),
    };
    for f in ["app", "file"] {
        if raw.contains_key(f) {
            return Err(Error::bad_request(format!(
                "params: {f:?} is not a parameter of a schedule (its app is the schedule's)"
            )));
        }
    }
    raw.insert("app".into(), app.into());
    let p = Params::parse(
        "analysis",
        &Value::Object(raw),
        &ParseCtx {
            allowed_dirs: &state.config.allowed_dirs,
            max_monitor_secs: state.config.max_monitor_secs,
            is_admin: true,
        },
    )?;
    Ok(p.canonical().0)
}

async fn found(state: &Shared, name: &str) -> Result<ScheduleRow> {
    state
        .store
        .get_schedule(name)
        .await?
        .ok_or_else(|| Error::not_found(format!("no schedule {name:?}")))
}

/// Define a recurring analysis of an app (admin).
///
/// Each firing files an `analysis` ticket, approved on the schedule's behalf
/// (submitter `schedule:<name>`), that waits for the app's maintenance
/// window like any other. Its report is written in the fleet layout and
/// diffed against the previous run's; reports beyond `keep` are deleted.
/// The first firing is the first cron time after now.
#[utoipa::path(
    post,
    path = "/schedules",
    tag = "schedules",
    operation_id = "createSchedule",
    request_body = NewSchedule,
    responses(
        (status = 201, description = "Defined.", body = ScheduleBody),
        BadRequest, Unauthorized, Forbidden, Conflict,
    )
)]
pub(super) async fn create_schedule(
    State(state): State<Shared>,
    Body(Admin(u), req): Body<Admin, NewSchedule>,
) -> ApiResult {
    check_name("schedule name", &req.name)?;
    Cron::parse(&req.cron)?;
    check_keep(req.keep)?;
    if state.store.get_app(&req.app).await?.is_none() {
        return Err(
            Error::bad_request(format!("unknown app {:?} (see GET /apps)", req.app)).into(),
        );
    }
    let params = analysis_params(&state, &req.app, &req.params)?;
    let now = now_ms();
    let row = ScheduleRow {
        name: req.name.clone(),
        app: req.app.clone(),
        cron: req.cron.trim().to_string(),
        params,
        keep: req.keep,
        enabled: req.enabled,
        created_by: u.name.clone(),
        created_at: now,
        updated_at: now,
        last_fired: now,
    };
    state.store.insert_schedule(&row).await?;
    crate::service::log(&format!(
        "schedule {}: defined by {} ({} on {})",
        row.name, u.name, row.cron, row.app
    ));
    Ok((
        StatusCode::CREATED,
        Json(body(&state, &row, Some(Vec::new()))),
    )
        .into_response())
}

/// List the schedules.
#[utoipa::path(
    get,
    path = "/schedules",
    tag = "schedules",
    operation_id = "listSchedules",
    responses(
        (status = 200, description = "Every schedule, by name.", body = Vec<ScheduleBody>),
        Unauthorized,
    )
)]
pub(super) async fn list_schedules(State(state): State<Shared>, Caller(_): Caller) -> ApiResult {
    let rows = state.store.list_schedules().await?;
    Ok(Json(
        rows.iter()
            .map(|s| body(&state, s, None))
            .collect::<Vec<_>>(),
    )
    .into_response())
}

/// One schedule and its newest 50 runs.
#[utoipa::path(
    get,
    path = "/schedules/{name}",
    tag = "schedules",
    operation_id = "getSchedule",
    params(("name" = String, Path, description = "The schedule's name.")),
    responses(
        (status = 200, description = "The schedule.", body = ScheduleBody),
        Unauthorized, NotFound,
    )
)]
pub(super) async fn get_schedule(
    State(state): State<Shared>,
    UrlPath(name): UrlPath<String>,
    Caller(_): Caller,
) -> ApiResult {
    let s = found(&state, &name).await?;
    let runs = state.store.schedule_runs(&name, 50).await?;
    Ok(Json(body(&state, &s, Some(runs))).into_response())
}

/// Change a schedule (admin): cron, keep, parameters, enabled.
#[utoipa::path(
    patch,
    path = "/schedules/{name}",
    tag = "schedules",
    operation_id = "changeSchedule",
    params(("name" = String, Path, description = "The schedule's name.")),
    request_body = ScheduleChange,
    responses(
        (status = 200, description = "The changed schedule.", body = ScheduleBody),
        BadRequest, Unauthorized, Forbidden, NotFound,
    )
)]
pub(super) async fn change_schedule(
    State(state): State<Shared>,
    UrlPath(name): UrlPath<String>,
    Body(Admin(u), req): Body<Admin, ScheduleChange>,
) -> ApiResult {
    let mut s = found(&state, &name).await?;
    let mut restart = false;
    if let Some(c) = &req.cron {
        Cron::parse(c)?;
        restart |= c.trim() != s.cron;
        s.cron = c.trim().to_string();
    }
    if let Some(k) = req.keep {
        check_keep(k)?;
        s.keep = k;
    }
    if let Some(p) = &req.params {
        s.params = analysis_params(&state, &s.app, p)?;
    }
    if let Some(e) = req.enabled {
        restart |= e && !s.enabled;
        s.enabled = e;
    }
    // A new cron or a resumed schedule counts from now: nothing "missed"
    // under the old settings fires.
    let reset = restart.then(now_ms);
    if !state.store.update_schedule(&s, reset).await? {
        return Err(Error::not_found(format!("no schedule {name:?}")).into());
    }
    let s = found(&state, &name).await?;
    crate::service::log(&format!("schedule {name}: changed by {}", u.name));
    Ok(Json(body(&state, &s, None)).into_response())
}

/// Delete a schedule (admin). Its tickets and kept reports stay.
#[utoipa::path(
    delete,
    path = "/schedules/{name}",
    tag = "schedules",
    operation_id = "deleteSchedule",
    params(("name" = String, Path, description = "The schedule's name.")),
    responses(
        (status = 204, description = "Deleted."),
        Unauthorized, Forbidden, NotFound,
    )
)]
pub(super) async fn delete_schedule(
    State(state): State<Shared>,
    UrlPath(name): UrlPath<String>,
    Admin(u): Admin,
) -> ApiResult {
    if !state.store.delete_schedule(&name).await? {
        return Err(Error::not_found(format!("no schedule {name:?}")).into());
    }
    crate::service::log(&format!("schedule {name}: deleted by {}", u.name));
    Ok(StatusCode::NO_CONTENT.into_response())
}
