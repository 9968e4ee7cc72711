//! Users and their tokens (admins only): add, list, change a role, replace
//! (revoke) a token.

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::error::{ApiResult, BadRequest, Conflict, Forbidden, NotFound, Unauthorized};
use super::request::{role_name, Admin, Body};
use super::views::{to_json, CreatedUser, UserBody};
use crate::auth;
use crate::service::Shared;
use crate::store::parse_role;
use crate::ticket::Role;

/// A user to create.
#[derive(Deserialize, serde::Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "alice", "role": "submitter"}))]
pub(super) struct NewUser {
    /// 1-64 letters, digits, `.`, `_`, `-` or `@`.
    #[schema(pattern = "^[A-Za-z0-9._@-]{1,64}$")]
    name: String,
    /// What they may do.
    #[schema(value_type = Role)]
    role: String,
}

/// Create a user (admin).
///
/// The token is in this answer only: it is stored hashed.
/// `rdbscope serve --init-admin NAME` creates the first admin.
#[utoipa::path(
    post,
    path = "/users",
    tag = "users",
    operation_id = "createUser",
    request_body = NewUser,
    responses(
        (status = 201, description = "Created; the token is shown this once.", body = CreatedUser),
        BadRequest, Unauthorized, Forbidden, Conflict,
    )
)]
pub(super) async fn create_user(
    State(state): State<Shared>,
    Body(Admin(u), req): Body<Admin, NewUser>,
) -> ApiResult {
    auth::check_name("user name", &req.name)?;
    let role = parse_role(&req.role)?;
    let token = auth::new_token()?;
    let user = state
        .store
        .create_user(&req.name, role, &auth::token_hash(&token))
        .await?;
    crate::service::log(&format!(
        "{} created user {} ({})",
        u.name, user.name, req.role
    ));
    let created = CreatedUser {
        name: user.name,
        role: role_name(user.role),
        token,
    };
    Ok((StatusCode::CREATED, Json(to_json(&created))).into_response())
}

/// List users (admin).
#[utoipa::path(
    get,
    path = "/users",
    tag = "users",
    operation_id = "listUsers",
    responses(
        (status = 200, description = "Every user.", body = Vec<UserBody>),
        Unauthorized, Forbidden,
    )
)]
pub(super) async fn list_users(State(state): State<Shared>, Admin(_): Admin) -> ApiResult {
    let users: Vec<Value> = state
        .store
        .list_users()
        .await?
        .iter()
        .map(|u| to_json(&UserBody::of(u)))
        .collect();
    Ok(Json(users).into_response())
}

/// A new role for a user.
#[derive(Deserialize, serde::Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"role": "admin"}))]
pub(super) struct RoleChange {
    /// What they may do from now on.
    #[schema(value_type = Role)]
    role: String,
}

/// Change a user's role (admin; not their own).
#[utoipa::path(
    patch,
    path = "/users/{name}",
    tag = "users",
    operation_id = "changeUserRole",
    params(("name" = String, Path, description = "The user's name.")),
    request_body = RoleChange,
    responses(
        (status = 200, description = "The user with their new role.", body = UserBody),
        BadRequest, Unauthorized, Forbidden, NotFound,
    )
)]
pub(super) async fn change_role(
    State(state): State<Shared>,
    UrlPath(name): UrlPath<String>,
    Body(Admin(u), req): Body<Admin, RoleChange>,
) -> ApiResult {
    let role = parse_role(&req.role)?;
    if name == u.name {
        return Err(crate::error::Error::forbidden(
            "an admin cannot change their own role (ask another admin)",
        )
        .into());
    }
    let user = state.store.set_role(&name, role).await?;
    crate::service::log(&format!("{} made {} {}", u.name, user.name, req.role));
    Ok(Json(to_json(&UserBody::of(&user))).into_response())
}

/// Replace a user's token (admin): the old token stops working at once; the
/// new one is in this answer only.
#[utoipa::path(
    post,
    path = "/users/{name}/token",
    tag = "users",
    operation_id = "replaceUserToken",
    params(("name" = String, Path, description = "The user's name.")),
    responses(
        (status = 200, description = "The new token, shown this once.", body = CreatedUser),
        Unauthorized, Forbidden, NotFound,
    )
)]
pub(super) async fn replace_token(
    State(state): State<Shared>,
    UrlPath(name): UrlPath<String>,
    Admin(u): Admin,
) -> ApiResult {
    let token = auth::new_token()?;
    let user = state
        .store
        .set_token(&name, &auth::token_hash(&token))
        .await?;
    crate::service::log(&format!("{} replaced the token of {}", u.name, user.name));
    let created = CreatedUser {
        name: user.name,
        role: role_name(user.role),
        token,
    };
    Ok(Json(to_json(&created)).into_response())
}
