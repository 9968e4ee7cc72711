//! The table of endpoints, the one list the router is built from (and that a
//! test checks against the OpenAPI document).

use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{on, MethodFilter, MethodRouter};
use axum::Router;

use super::error::ApiError;
use super::{
    approvals, apps, doc, guard, listing, notify_channels, policies, preview, report_view, reports,
    rollback, run_at, schedules, stats, status, subscriptions, teams, tickets, users,
};
use crate::error::Error;
use crate::service::Shared;

/// One endpoint: a method, a path as axum spells it, and its handler.
pub(super) struct Endpoint {
    /// The HTTP method (read by the test that holds the table against the
    /// document).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(super) method: Method,
    /// The path (`{name}` segments; `{*name}` for the rest of the path).
    pub(super) path: &'static str,
    handler: MethodRouter<Shared>,
}

fn endpoint<H, T>(method: Method, path: &'static str, handler: H) -> Endpoint
where
    H: Handler<T, Shared>,
    T: 'static,
{
    let filter = MethodFilter::try_from(method.clone()).expect("a method axum routes");
    Endpoint {
        method,
        path,
        handler: on(filter, handler),
    }
}

/// Every endpoint of the API.
pub(super) fn endpoints() -> Vec<Endpoint> {
    use Method as M;
    vec![
        endpoint(M::GET, "/healthz", status::healthz),
        endpoint(M::GET, "/metrics", status::metrics),
        endpoint(M::GET, "/openapi.json", doc::openapi),
        endpoint(M::GET, "/me", status::me),
        endpoint(M::GET, "/users", users::list_users),
        endpoint(M::POST, "/users", users::create_user),
        endpoint(M::PATCH, "/users/{name}", users::change_role),
        endpoint(M::POST, "/users/{name}/token", users::replace_token),
        endpoint(M::GET, "/apps", apps::list_apps),
        endpoint(M::POST, "/apps", apps::create_app),
        endpoint(M::GET, "/apps/{name}", apps::get_app),
        endpoint(M::DELETE, "/apps/{name}", apps::delete_app),
        endpoint(M::POST, "/apps/{name}/refresh", apps::refresh_app),
        endpoint(M::GET, "/tickets", listing::list_tickets),
        endpoint(M::POST, "/tickets", tickets::submit),
        endpoint(M::GET, "/tickets/summary", listing::summary),
        endpoint(M::POST, "/tickets/plan", preview::plan),
        endpoint(M::GET, "/tickets/{id}", tickets::get_ticket),
        endpoint(M::POST, "/tickets/{id}/approve", tickets::approve),
        endpoint(M::POST, "/tickets/{id}/reject", tickets::reject),
        endpoint(M::POST, "/tickets/{id}/cancel", tickets::cancel),
        endpoint(M::GET, "/tickets/{id}/audit", tickets::audit),
        endpoint(M::POST, "/tickets/{id}/rollback", rollback::rollback),
        endpoint(M::GET, "/tickets/{id}/report", reports::report_list),
        endpoint(M::GET, "/tickets/{id}/report/{*name}", reports::report_file),
        endpoint(M::POST, "/tickets/{id}/report-view", report_view::make_link),
        endpoint(M::GET, "/report-view/{key}", report_view::view),
        // Teams, app ownership, approvals (issue 26 §1-2).
        endpoint(M::GET, "/teams", teams::list_teams),
        endpoint(M::POST, "/teams", teams::create_team),
        endpoint(M::GET, "/teams/{name}", teams::get_team),
        endpoint(M::PATCH, "/teams/{name}", teams::change_team),
        endpoint(M::DELETE, "/teams/{name}", teams::delete_team),
        endpoint(M::PUT, "/teams/{name}/members/{user}", teams::add_member),
        endpoint(
            M::DELETE,
            "/teams/{name}/members/{user}",
            teams::remove_member,
        ),
        endpoint(M::GET, "/apps/{name}/owner", teams::get_owner),
        endpoint(M::PUT, "/apps/{name}/owner", teams::set_owner),
        endpoint(M::GET, "/approval-policies", policies::get_policies),
        endpoint(M::PUT, "/approval-policies", policies::set_policies),
        endpoint(M::DELETE, "/approval-policies", policies::reset_policies),
        endpoint(M::GET, "/stand-ins", policies::list_stand_ins),
        endpoint(M::PUT, "/users/{name}/stand-in", policies::set_stand_in),
        endpoint(M::DELETE, "/users/{name}/stand-in", policies::end_stand_in),
        endpoint(M::PATCH, "/tickets/{id}", approvals::amend),
        endpoint(M::POST, "/tickets/{id}/return", approvals::return_ticket),
        endpoint(M::POST, "/tickets/{id}/resubmit", approvals::resubmit),
        endpoint(
            M::POST,
            "/tickets/{id}/approvals/{approval}/approve",
            approvals::approve_one,
        ),
        endpoint(
            M::POST,
            "/tickets/{id}/approvals/{approval}/return",
            approvals::return_one,
        ),
        endpoint(
            M::POST,
            "/tickets/{id}/approvals/{approval}/reject",
            approvals::reject_one,
        ),
        endpoint(M::POST, "/tickets/{id}/run-at", run_at::set_run_at),
        endpoint(M::GET, "/stats", stats::stats),
        endpoint(M::GET, "/schedules", schedules::list_schedules),
        endpoint(M::POST, "/schedules", schedules::create_schedule),
        endpoint(M::GET, "/schedules/{name}", schedules::get_schedule),
        endpoint(M::PATCH, "/schedules/{name}", schedules::change_schedule),
        endpoint(M::DELETE, "/schedules/{name}", schedules::delete_schedule),
        endpoint(M::GET, "/notify/channels", notify_channels::list_channels),
        endpoint(
            M::PUT,
            "/notify/channels/{name}",
            notify_channels::put_channel,
        ),
        endpoint(
            M::DELETE,
            "/notify/channels/{name}",
            notify_channels::delete_channel,
        ),
        endpoint(
            M::GET,
            "/notify/deliveries",
            notify_channels::list_deliveries,
        ),
        endpoint(
            M::GET,
            "/notify/subscriptions",
            subscriptions::list_subscriptions,
        ),
        endpoint(M::POST, "/notify/subscriptions", subscriptions::subscribe),
        endpoint(
            M::DELETE,
            "/notify/subscriptions/{id}",
            subscriptions::unsubscribe,
        ),
    ]
}

/// The routes of [`endpoints`] (a path's methods merged), without state.
fn routes() -> Router<Shared> {
    endpoints()
        .into_iter()
        .fold(Router::new(), |r, e| r.route(e.path, e.handler))
        .fallback(|| async { ApiError(Error::not_found("no such endpoint (see /openapi.json)")) })
}

/// The router with every endpoint and the web console: bodies must be
/// JSON, every error answer is JSON ([`guard`]), and every answer has the
/// security headers (tests and `serve` call this).
pub fn router(state: Shared) -> Router {
    routes()
        .merge(crate::console::routes())
        .layer(axum::middleware::from_fn(guard::json_bodies))
        .layer(axum::middleware::from_fn(guard::json_errors))
        .with_state(state)
        .layer(axum::middleware::map_response(
            crate::console::security_headers,
        ))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use utoipa::OpenApi;

    use super::*;

    /// `(method, path)` of every operation in the generated document.
    fn documented() -> BTreeSet<(String, String)> {
        let doc = serde_json::to_value(doc::ApiDoc::openapi()).unwrap();
        let mut out = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for method in item.as_object().expect("a path item").keys() {
                if [
                    "get", "put", "post", "delete", "options", "head", "patch", "trace",
                ]
                .contains(&method.as_str())
                {
                    out.insert((method.clone(), path.clone()));
                }
            }
        }
        out
    }

    #[test]
    fn every_route_is_documented_and_every_documented_route_exists() {
        let routed: BTreeSet<(String, String)> = endpoints()
            .iter()
            .map(|e| {
                (
                    e.method.as_str().to_ascii_lowercase(),
                    // axum's `{*name}` (the rest of the path) is OpenAPI's `{name}`.
                    e.path.replace("{*", "{"),
                )
            })
            .collect();
        assert_eq!(
            routed.len(),
            endpoints().len(),
            "an endpoint is listed twice"
        );
        let documented = documented();
        let missing: Vec<_> = routed.difference(&documented).collect();
        let extra: Vec<_> = documented.difference(&routed).collect();
        assert!(missing.is_empty(), "routed but not documented: {missing:?}");
        assert!(extra.is_empty(), "documented but not routed: {extra:?}");
        // The router accepts the table (no overlapping routes).
        let _ = routes();
    }

    #[test]
    fn error_answers_refer_to_the_component_of_their_status() {
        let doc = serde_json::to_value(doc::ApiDoc::openapi()).unwrap();
        let components = [
            ("400", "BadRequest"),
            ("401", "Unauthorized"),
            ("403", "Forbidden"),
            ("404", "NotFound"),
            ("409", "Conflict"),
            ("500", "Internal"),
            ("503", "Unavailable"),
        ];
        let mut used = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("a path item") {
                let Some(answers) = op["responses"].as_object() else {
                    continue;
                };
                for (status, answer) in answers {
                    if let Some((_, name)) = components.iter().find(|(s, _)| s == status) {
                        let want = format!("#/components/responses/{name}");
                        assert_eq!(answer["$ref"], want.as_str(), "{method} {path} {status}");
                        assert!(doc["components"]["responses"][name].is_object(), "{name}");
                        used.insert(*name);
                    }
                }
                // An operation that needs a token says what happens without one.
                if op.get("security").is_none() {
                    assert!(answers.contains_key("401"), "{method} {path} has no 401");
                }
            }
        }
        let all: BTreeSet<&str> = components.iter().map(|(_, n)| *n).collect();
        assert_eq!(used, all, "an error component no operation uses");
    }

    #[test]
    fn the_document_carries_the_auth_scheme_and_the_error_format() {
        let doc: serde_json::Value = serde_json::from_str(doc::document()).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(
            doc["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
        assert_eq!(doc["security"][0]["bearer"], serde_json::json!([]));
        let error = &doc["components"]["schemas"]["Error"];
        assert_eq!(error["required"], serde_json::json!(["error"]));
        for name in [
            "AnalysisParams",
            "HotkeysParams",
            "CleanupParams",
            "MigrationParams",
        ] {
            assert!(
                doc["components"]["schemas"][name].is_object(),
                "{name} is not in the document"
            );
        }
        // Every operation says what it does and who may call it.
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                if method == "parameters" {
                    continue;
                }
                assert!(op["summary"].is_string(), "{method} {path} has no summary");
                assert!(op["tags"].is_array(), "{method} {path} has no tag");
                let status = &op["responses"];
                assert!(status.as_object().is_some_and(|r| !r.is_empty()));
            }
        }
    }
}
