//! The OpenAPI document: generated from the handlers' `#[utoipa::path]`
//! annotations and the request and answer types, served at `/openapi.json`.

use std::sync::OnceLock;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{
    approvals, apps, error, listing, notify_channels, policies, preview, report_view, reports,
    rollback, run_at, schedules, stats, status, subscriptions, teams, tickets, users, views,
};

/// The OpenAPI 3.1 document of the API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "rdbscope job service",
        description = "Analysis, hot-key, cleanup and migration tickets against live Redis, approved before they run.\n\n\
JSON over HTTP; the human-readable form is `jobsvc/API.md`. Every endpoint except `/healthz`, `/metrics` and \
`/openapi.json` needs `Authorization: Bearer <token>`. Errors are JSON with a 4xx or 5xx status: \
`{\"error\": \"what went wrong\"}`: 400 bad request (unknown field, bad value), 401 no or bad token, \
403 not allowed for this user, 404 no such thing, 409 not possible in this state (or an idempotency key \
reused with other parameters), 503 a node or the store cannot be reached now. A refused request changes \
nothing. Times are RFC 3339 strings in UTC."
    ),
    servers((url = "http://127.0.0.1:7780", description = "`rdbscope serve` with the default `listen`")),
    security(("bearer" = [])),
    tags(
        (name = "service", description = "Health, metrics, this document, the caller."),
        (name = "users", description = "Users and their tokens (admin)."),
        (name = "apps", description = "The apps tickets act on: a standalone node, a replicated master with replicas, or a cluster."),
        (name = "tickets", description = "Submit, approve or reject, follow, cancel, audit, download reports."),
        (name = "teams", description = "Teams (a lead, members) and who owns an app (its team, tags, extra approvers)."),
        (name = "approvals", description = "Approval records per ticket (approve, return for changes, reject), amend and resubmit, approval policies, stand-ins."),
        (name = "schedules", description = "Recurring analyses of an app (cron, UTC), their reports in the fleet layout."),
        (name = "notify", description = "Notification channels (admin), subscriptions, and the outbox of deliveries."),
    ),
    paths(
        status::healthz,
        status::metrics,
        openapi,
        status::me,
        users::create_user,
        users::list_users,
        users::change_role,
        users::replace_token,
        apps::create_app,
        apps::list_apps,
        apps::get_app,
        apps::refresh_app,
        apps::delete_app,
        tickets::submit,
        listing::list_tickets,
        listing::summary,
        preview::plan,
        tickets::get_ticket,
        tickets::approve,
        tickets::reject,
        tickets::cancel,
        tickets::audit,
        rollback::rollback,
        reports::report_list,
        reports::report_file,
        report_view::make_link,
        report_view::view,
        teams::list_teams,
        teams::create_team,
        teams::get_team,
        teams::change_team,
        teams::delete_team,
        teams::add_member,
        teams::remove_member,
        teams::get_owner,
        teams::set_owner,
        policies::get_policies,
        policies::set_policies,
        policies::reset_policies,
        policies::list_stand_ins,
        policies::set_stand_in,
        policies::end_stand_in,
        approvals::amend,
        approvals::return_ticket,
        approvals::resubmit,
        approvals::approve_one,
        approvals::return_one,
        approvals::reject_one,
        run_at::set_run_at,
        stats::stats,
        schedules::create_schedule,
        schedules::list_schedules,
        schedules::get_schedule,
        schedules::change_schedule,
        schedules::delete_schedule,
        notify_channels::list_channels,
        notify_channels::put_channel,
        notify_channels::delete_channel,
        notify_channels::list_deliveries,
        subscriptions::list_subscriptions,
        subscriptions::subscribe,
        subscriptions::unsubscribe,
    ),
    components(
        schemas(
            error::ErrorBody,
            views::TicketType,
            views::TicketParams,
            views::Progress,
            crate::params::AnalysisParams,
            crate::params::HotkeysParams,
            crate::jobs::cleanup::CleanupParams,
            crate::jobs::migrate::MigrationParams,
            crate::jobs::restore::RestoreParams,
        ),
        responses(
            error::BadRequest,
            error::Unauthorized,
            error::Forbidden,
            error::NotFound,
            error::Conflict,
            error::Unavailable,
            error::Internal,
        ),
    ),
    modifiers(&BearerToken),
)]
pub struct ApiDoc;

/// Adds the `bearer` security scheme the document's `security` names.
struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A user's token (`rdbs_…`), from `POST /users` or `rdbscope serve --init-admin NAME`.",
                    ))
                    .build(),
            ),
        );
    }
}

/// The document as served: generated once, pretty-printed.
pub(super) fn document() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| {
        ApiDoc::openapi()
            .to_pretty_json()
            .expect("the OpenAPI document serializes")
    })
}

/// This OpenAPI 3.1 document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "service",
    security(()),
    responses((status = 200, description = "The document.", body = Object)),
)]
pub(super) async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], document()).into_response()
}
