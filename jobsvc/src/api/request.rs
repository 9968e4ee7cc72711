//! What every handler does first: find the caller from their bearer token,
//! check their role, parse the JSON body or the query (the extractors
//! [`Caller`], [`Admin`], [`Body`] and [`Filter`] do these), load a ticket
//! they may see (their own, or one whose approval they may decide).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::auth;
use crate::error::{Error, ErrorKind, Result};
use crate::service::Shared;
use crate::store::{ApprovalRow, TicketRow, User};
use crate::ticket::{Actor, Role, TicketView};
use crate::time::parse_time;

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
        .reads
        .user_by_token_hash(&auth::token_hash(token))
        .await?
        .ok_or_else(|| unauthorized("unknown token"))
}

/// The caller: a user with a valid token (401 otherwise).
pub(super) struct Caller(pub(super) User);

/// The caller, who must be an admin (401, then 403).
pub(super) struct Admin(pub(super) User);

impl FromRequestParts<Shared> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Shared,
    ) -> std::result::Result<Caller, ApiError> {
        Ok(Caller(caller(state, &parts.headers).await?))
    }
}

impl FromRequestParts<Shared> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Shared,
    ) -> std::result::Result<Admin, ApiError> {
        let u = caller(state, &parts.headers).await?;
        require_admin(&u)?;
        Ok(Admin(u))
    }
}

/// A JSON body `T` sent by `W` (a [`Caller`] or an [`Admin`]). A request
/// is refused in this order: a body that cannot be read (413 when too
/// large), then the token and the role, then the JSON ([`parse_body`]).
pub(super) struct Body<W, T>(pub(super) W, pub(super) T);

impl<W, T> FromRequest<Shared> for Body<W, T>
where
    W: FromRequestParts<Shared, Rejection = ApiError> + Send,
    T: DeserializeOwned + Send,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &Shared) -> std::result::Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let who = W::from_request_parts(&mut parts, state).await;
        let bytes = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        let who = who.map_err(IntoResponse::into_response)?;
        let value = parse_body(&bytes).map_err(|e| ApiError(e).into_response())?;
        Ok(Body(who, value))
    }
}

/// The query string as `T` (400 with the reason when it does not parse).
/// After a [`Caller`] or an [`Admin`] among a handler's arguments, the
/// token and the role are refused first.
pub(super) struct Filter<T>(pub(super) T);

impl<T> FromRequestParts<Shared> for Filter<T>
where
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Shared,
    ) -> std::result::Result<Self, ApiError> {
        let Query(f) = Query::<T>::from_request_parts(parts, state)
            .await
            .map_err(|e| Error::bad_request(e.body_text()))?;
        Ok(Filter(f))
    }
}

/// A time in the query, `name=v`: `YYYY-MM-DD` (its start, or its end with
/// `day_end`) or RFC 3339.
pub(super) fn time_param(name: &str, v: &Option<String>, day_end: bool) -> Result<Option<i64>> {
    v.as_deref()
        .map(|t| {
            parse_time(t, day_end).ok_or_else(|| {
                Error::bad_request(format!(
                    "{name}: {t:?} is not a date (YYYY-MM-DD) or an RFC 3339 time (YYYY-MM-DDTHH:MM:SSZ)"
                ))
            })
        })
        .transpose()
}

/// The caller as the ticket lifecycle sees them.
pub(super) fn actor(u: &User) -> Actor {
    Actor::user(&u.name, u.role)
}

/// Forbidden unless the caller is an admin.
fn require_admin(u: &User) -> Result<()> {
    if u.role == Role::Admin {
        Ok(())
    } else {
        Err(Error::forbidden("only an admin can do this"))
    }
}

/// The JSON body (an empty body reads as `{}`).
pub(super) fn parse_body<T: DeserializeOwned>(body: &Bytes) -> Result<T> {
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

/// Loads ticket `id` (404 when there is none).
pub(super) async fn load_ticket(state: &Shared, id: i64) -> Result<TicketRow> {
    state
        .reads
        .get_ticket(id)
        .await?
        .ok_or_else(|| Error::not_found(format!("no ticket {id}")))
}

/// Loads a ticket the caller may see (others' tickets are "not found" to
/// submitters, so ids reveal nothing).
pub(super) async fn visible_ticket(state: &Shared, u: &User, id: i64) -> Result<TicketRow> {
    let t = load_ticket(state, id).await?;
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
    let stands = crate::approvals::stands_in_for(state.reads.lookup(), &u.name).await?;
    Ok(state
        .reads
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
