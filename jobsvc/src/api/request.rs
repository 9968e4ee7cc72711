//! What every handler does first: find the caller from their bearer token,
//! check their role, parse the JSON body, load a ticket they may see (their
//! own, or one whose approval they may decide).

use axum::body::Bytes;
use axum::http::{header, HeaderMap};

use crate::auth;
use crate::error::{Error, ErrorKind, Result};
use crate::service::Shared;
use crate::store::{ApprovalRow, TicketRow, User};
use crate::ticket::{Actor, Role, TicketView};

/// The user whose token is in `Authorization: Bearer <token>`.
pub(super) async fn caller(state: &Shared, headers: &HeaderMap) -> Result<User> {
    let unauthorized = |m: &str| Error::new(ErrorKind::Unauthorized, m);
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| unauthorized("missing Authorization: Bearer <token>"))?
        .to_str()
        .map_err(|_| unauthorized("bad Authorization header"))?;
    let token = value
        .strip_prefix("Bearer ")
        .ok_or_else(|| unauthorized("Authorization must be \"Bearer <token>\""))?
        .trim();
    state
        .store
        .user_by_token_hash(&auth::token_hash(token))
        .await?
        .ok_or_else(|| unauthorized("unknown token"))
}

/// The caller as the ticket lifecycle sees them.
pub(super) fn actor(u: &User) -> Actor {
    Actor::user(&u.name, u.role)
}

/// Forbidden unless the caller is an admin.
pub(super) fn require_admin(u: &User) -> Result<()> {
    if u.role == Role::Admin {
        Ok(())
    } else {
        Err(Error::forbidden("only an admin can do this"))
    }
}

/// The JSON body (an empty body reads as `{}`).
pub(super) fn parse_body<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T> {
    if body.is_empty() {
        return serde_json::from_slice(b"{}")
            .map_err(|e| Error::bad_request(format!("a JSON body is required: {e}")));
    }
    serde_json::from_slice(body).map_err(|e| Error::bad_request(format!("bad JSON body: {e}")))
}

/// A role's name in the API.
pub(super) fn role_name(r: Role) -> &'static str {
    match r {
        Role::Admin => "admin",
        Role::Submitter => "submitter",
    }
}

/// Loads a ticket the caller may see (others' tickets are "not found" to
/// submitters, so ids reveal nothing).
pub(super) async fn visible_ticket(state: &Shared, u: &User, id: i64) -> Result<TicketRow> {
    let t = state
        .store
        .get_ticket(id)
        .await?
        .ok_or_else(|| Error::not_found(format!("no ticket {id}")))?;
    if u.role != Role::Admin && t.submitter != u.name && !approver_of(state, u, id).await? {
        return Err(Error::not_found(format!("no ticket {id}")));
    }
    Ok(t)
}

/// Whether `u` (or someone they stand in for, `stands`) may decide record `a`.
pub(super) fn may_decide(a: &ApprovalRow, u: &User, stands: &[(String, Role)]) -> bool {
    a.eligible.admits(&u.name, u.role == Role::Admin)
        || stands
            .iter()
            .any(|(n, r)| a.eligible.admits(n, *r == Role::Admin))
}

/// Whether a submitter may see another's ticket: they (or someone they
/// stand in for) may decide one of its approvals, now or in an earlier round.
async fn approver_of(state: &Shared, u: &User, id: i64) -> Result<bool> {
    let stands = crate::approvals::stands_in_for(state, &u.name).await?;
    Ok(state
        .store
        .approvals(id)
        .await?
        .iter()
        .any(|a| may_decide(a, u, &stands)))
}

/// What the lifecycle needs to know of a stored ticket.
pub(super) fn view(t: &TicketRow) -> TicketView<'_> {
    TicketView {
        state: t.state,
        submitter: &t.submitter,
        attempts: t.attempts,
    }
}
