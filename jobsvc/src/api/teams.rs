//! Teams and app ownership (admins change them; every user reads them):
//! create, read, change the lead, delete a team, add and remove members,
//! and set an app's owning team, tags and extra approvers.

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiResult, BadRequest, Conflict, Forbidden, NotFound, Unauthorized};
use super::request::{Admin, Body, Caller};
use super::views::to_json;
use crate::auth;
use crate::error::{Error, Result};
use crate::service::Shared;
use crate::store::{Ownership, Team};
use crate::time::rfc3339;

/// A team.
#[derive(Serialize, ToSchema)]
#[schema(as = Team, example = json!({"name": "payments", "lead": "carol", "members": ["alice", "carol"], "created_at": "2026-11-22T07:00:00Z"}))]
pub(super) struct TeamBody {
    /// Its name.
    name: String,
    /// Its lead, who fills `team_lead` approvals of its apps' tickets.
    lead: Option<String>,
    /// Its members (the lead too), who may file tickets for its apps.
    members: Vec<String>,
    /// When created: RFC 3339, UTC.
    #[schema(format = DateTime)]
    created_at: String,
}

fn team_json(t: &Team) -> serde_json::Value {
    to_json(&TeamBody {
        name: t.name.clone(),
        lead: t.lead.clone(),
        members: t.members.clone(),
        created_at: rfc3339(t.created_at),
    })
}

/// A team to create.
#[derive(Deserialize, serde::Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "payments", "lead": "carol", "members": ["alice"]}))]
pub(super) struct NewTeam {
    /// 1-64 letters, digits, `.`, `_`, `-` or `@`.
    #[schema(pattern = "^[A-Za-z0-9._@-]{1,64}$")]
    name: String,
    /// Its lead (a user; also a member).
    #[serde(default)]
    lead: Option<String>,
    /// Its members (users). A user may be in several teams.
    #[serde(default)]
    members: Vec<String>,
}

async fn users_exist(state: &Shared, names: &[String]) -> Result<()> {
    for n in names {
        state
            .store
            .user(n)
            .await
            .map_err(|_| Error::bad_request(format!("no user {n:?} (see GET /users)")))?;
    }
    Ok(())
}

/// Create a team (admin).
#[utoipa::path(
    post,
    path = "/teams",
    tag = "teams",
    operation_id = "createTeam",
    request_body = NewTeam,
    responses(
        (status = 201, description = "Created.", body = TeamBody),
        BadRequest, Unauthorized, Forbidden, Conflict,
    )
)]
pub(super) async fn create_team(
    State(state): State<Shared>,
    Body(Admin(_), req): Body<Admin, NewTeam>,
) -> ApiResult {
    auth::check_name("team name", &req.name)?;
    let mut all = req.members.clone();
    all.extend(req.lead.clone());
    users_exist(&state, &all).await?;
    let t = state
        .store
        .create_team(&req.name, req.lead.as_deref(), &req.members)
        .await?;
    Ok((StatusCode::CREATED, Json(team_json(&t))).into_response())
}

/// Every team with its lead and members.
#[utoipa::path(
    get,
    path = "/teams",
    tag = "teams",
    operation_id = "listTeams",
    responses(
        (status = 200, description = "The teams, by name.", body = Vec<TeamBody>),
        Unauthorized,
    )
)]
pub(super) async fn list_teams(State(state): State<Shared>, Caller(_): Caller) -> ApiResult {
    let teams = state.store.list_teams().await?;
    Ok(Json(teams.iter().map(team_json).collect::<Vec<_>>()).into_response())
}

async fn one(state: &Shared, name: &str) -> Result<Team> {
    state
        .store
        .team(name)
        .await?
        .ok_or_else(|| Error::not_found(format!("no team {name:?}")))
}

/// One team.
#[utoipa::path(
    get,
    path = "/teams/{name}",
    tag = "teams",
    operation_id = "getTeam",
    params(("name" = String, Path, description = "The team's name.")),
    responses(
        (status = 200, description = "The team.", body = TeamBody),
        Unauthorized, NotFound,
    )
)]
pub(super) async fn get_team(
    State(state): State<Shared>,
    UrlPath(name): UrlPath<String>,
    Caller(_): Caller,
) -> ApiResult {
    Ok(Json(team_json(&one(&state, &name).await?)).into_response())
}

/// A change of a team's lead.
#[derive(Deserialize, serde::Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"lead": "carol"}))]
pub(super) struct TeamChange {
    /// The new lead (a user; null: none).
    lead: Option<String>,
}

/// Set or clear a team's lead (admin); the lead becomes a member.
#[utoipa::path(
    patch,
    path = "/teams/{name}",
    tag = "teams",
    operation_id = "changeTeam",
    params(("name" = String, Path, description = "The team's name.")),
    request_body = TeamChange,
    responses(
        (status = 200, description = "The team.", body = TeamBody),
        BadRequest, Unauthorized, Forbidden, NotFound,
    )
)]
pub(super) async fn change_team(
    State(state): State<Shared>,
    UrlPath(name): UrlPath<String>,
    Body(Admin(_), req): Body<Admin, TeamChange>,
) -> ApiResult {
    users_exist(&state, &req.lead.iter().cloned().collect::<Vec<_>>()).await?;
    let t = state
        .store
        .set_team_lead(&name, req.lead.as_deref())
        .await?;
    Ok(Json(team_json(&t)).into_response())
}

/// Delete a team (admin): its apps have no owning team afterwards.
#[utoipa::path(
    delete,
    path = "/teams/{name}",
    tag = "teams",
    operation_id = "deleteTeam",
    params(("name" = String, Path, description = "The team's name.")),
    responses(
        (status = 204, description = "Deleted."),
        Unauthorized, Forbidden, NotFound,
    )
)]
pub(super) async fn delete_team(
    State(state): State<Shared>,
    UrlPath(name): UrlPath<String>,
    Admin(_): Admin,
) -> ApiResult {
    if !state.store.delete_team(&name).await? {
        return Err(Error::not_found(format!("no team {name:?}")).into());
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Add a member to a team (admin); already one: nothing changes.
#[utoipa::path(
    put,
    path = "/teams/{name}/members/{user}",
    tag = "teams",
    operation_id = "addTeamMember",
    params(
        ("name" = String, Path, description = "The team's name."),
        ("user" = String, Path, description = "The user's name."),
    ),
    responses(
        (status = 200, description = "The team.", body = TeamBody),
        BadRequest, Unauthorized, Forbidden, NotFound,
    )
)]
pub(super) async fn add_member(
    State(state): State<Shared>,
    UrlPath((name, user)): UrlPath<(String, String)>,
    Admin(_): Admin,
) -> ApiResult {
    users_exist(&state, std::slice::from_ref(&user)).await?;
    state.store.add_member(&name, &user).await?;
    Ok(Json(team_json(&one(&state, &name).await?)).into_response())
}

/// Remove a member from a team (admin).
#[utoipa::path(
    delete,
    path = "/teams/{name}/members/{user}",
    tag = "teams",
    operation_id = "removeTeamMember",
    params(
        ("name" = String, Path, description = "The team's name."),
        ("user" = String, Path, description = "The user's name."),
    ),
    responses(
        (status = 200, description = "The team.", body = TeamBody),
        Unauthorized, Forbidden, NotFound,
    )
)]
pub(super) async fn remove_member(
    State(state): State<Shared>,
    UrlPath((name, user)): UrlPath<(String, String)>,
    Admin(_): Admin,
) -> ApiResult {
    if !state.store.remove_member(&name, &user).await? {
        return Err(Error::not_found(format!("{user:?} is not in team {name:?}")).into());
    }
    Ok(Json(team_json(&one(&state, &name).await?)).into_response())
}

/// Who owns an app.
#[derive(Serialize, Deserialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AppOwner, example = json!({"team": "payments", "tags": ["production"], "approvers": ["dba"]}))]
pub(super) struct OwnerBody {
    /// The owning team: its members (and admins) file tickets for the app,
    /// its lead fills `team_lead` approvals. Null: no team (admins and,
    /// as before teams, every submitter may file for it).
    #[serde(default)]
    team: Option<String>,
    /// Tags the approval policies match, e.g. `production`.
    #[serde(default)]
    tags: Vec<String>,
    /// Users who fill `app_approver` approvals.
    #[serde(default)]
    approvers: Vec<String>,
}

/// Set who owns an app (admin): its team, tags and extra approvers, all
/// replaced.
#[utoipa::path(
    put,
    path = "/apps/{name}/owner",
    tag = "teams",
    operation_id = "setAppOwner",
    params(("name" = String, Path, description = "The app's name.")),
    request_body = OwnerBody,
    responses(
        (status = 200, description = "Who owns the app now.", body = OwnerBody),
        BadRequest, Unauthorized, Forbidden, NotFound,
    )
)]
pub(super) async fn set_owner(
    State(state): State<Shared>,
    UrlPath(name): UrlPath<String>,
    Body(Admin(_), req): Body<Admin, OwnerBody>,
) -> ApiResult {
    if let Some(t) = &req.team {
        if state.store.team(t).await?.is_none() {
            return Err(Error::bad_request(format!("no team {t:?} (see GET /teams)")).into());
        }
    }
    users_exist(&state, &req.approvers).await?;
    for t in &req.tags {
        auth::check_name("tag", t)?;
    }
    let o = Ownership {
        team: req.team,
        tags: req.tags,
        approvers: req.approvers,
    };
    state.store.set_ownership(&name, &o).await?;
    Ok(Json(owner_json(&o)).into_response())
}

/// Who owns an app (every user).
#[utoipa::path(
    get,
    path = "/apps/{name}/owner",
    tag = "teams",
    operation_id = "getAppOwner",
    params(("name" = String, Path, description = "The app's name.")),
    responses(
        (status = 200, description = "Who owns the app.", body = OwnerBody),
        Unauthorized, NotFound,
    )
)]
pub(super) async fn get_owner(
    State(state): State<Shared>,
    UrlPath(name): UrlPath<String>,
    Caller(_): Caller,
) -> ApiResult {
    let o = state
        .store
        .ownership(&name)
        .await?
        .ok_or_else(|| Error::not_found(format!("no app {name:?}")))?;
    Ok(Json(owner_json(&o)).into_response())
}

fn owner_json(o: &Ownership) -> serde_json::Value {
    to_json(&OwnerBody {
        team: o.team.clone(),
        tags: o.tags.clone(),
        approvers: o.approvers.clone(),
    })
}
