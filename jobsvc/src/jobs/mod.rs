//! The job kinds, listed once: [`Params`] holds the parameters of any
//! ticket type, and every question about a kind (parse, apps, plan, run,
//! nodes held) is answered by that kind's [`Job`] implementation through
//! the `job_kinds!` list below. A new kind is a module with a `Job` impl
//! and one line in that list: the scheduler and the API do not change.

pub mod analysis;
pub mod cleanup;
pub mod hotkeys;
pub mod migrate;
pub mod restore;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::job::{Job, NodeUse, ParseCtx};
use crate::registry;
use crate::state::ServiceState;
use crate::store::{AppRow, TicketRow};

pub use crate::job::JobCtx;
pub use analysis::AnalysisParams;
pub use cleanup::CleanupParams;
pub use hotkeys::{HotKeyMethodParam, HotkeysParams};
pub use migrate::MigrationParams;
pub use restore::RestoreParams;

/// Standard base64 with padding, for keys that are not text.
pub use analyzer::base64::base64;

/// Defines [`Params`] and its dispatch from the list of kinds below.
macro_rules! job_kinds {
    ($($(#[$doc:meta])* $variant:ident($ty:ty),)*) => {
        /// Parsed parameters of any ticket type.
        #[derive(Clone, Debug, PartialEq)]
        pub enum Params {
            $($(#[$doc])* $variant($ty),)*
        }

        /// The ticket types.
        pub const TYPES: [&str; [$(<$ty as Job>::NAME),*].len()] = [$(<$ty as Job>::NAME),*];

        impl Params {
            /// Parses and checks `params` for ticket type `kind` (the app's
            /// existence is checked by the caller, who holds the store).
            pub fn parse(kind: &str, params: &Value, ctx: &ParseCtx<'_>) -> Result<Params> {
                $(if kind == <$ty as Job>::NAME {
                    return parse_as::<$ty>(kind, params, ctx).map(Params::$variant);
                })*
                Err(Error::bad_request(format!(
                    "unknown ticket type {kind:?} (expected one of {})",
                    TYPES.join(", ")
                )))
            }

            /// Which nodes a job of ticket type `kind` holds while it runs
            /// (every master for a type not known).
            pub fn node_use(kind: &str) -> NodeUse {
                $(if kind == <$ty as Job>::NAME {
                    return <$ty as Job>::NODES;
                })*
                NodeUse::Masters
            }

            /// The ticket type.
            pub fn kind(&self) -> &'static str {
                match self {
                    $(Params::$variant(_) => <$ty as Job>::NAME,)*
                }
            }

            /// The apps the ticket reads or changes (each must be registered).
            pub fn apps(&self) -> Vec<&str> {
                match self {
                    $(Params::$variant(p) => p.apps(),)*
                }
            }

            /// Canonical JSON (every default filled in, fields in a fixed
            /// order) and its hash: what is stored and frozen.
            pub fn canonical(&self) -> (String, String) {
                let json = match self {
                    $(Params::$variant(p) => serde_json::to_string(p),)*
                }
                .unwrap_or_else(|_| "{}".into());
                let hash = format!("sha256:{}", crate::auth::sha256_hex(json.as_bytes()));
                (json, hash)
            }

            /// The plan stored with a ticket at submission: what it will
            /// touch and how (for a cleanup or a migration, also how much
            /// and how long).
            pub async fn plan(&self, state: &ServiceState, apps: &[AppRow]) -> Result<Value> {
                match self {
                    $(Params::$variant(p) => p.plan(state, apps).await,)*
                }
            }

            /// Runs the job to its result JSON.
            pub fn run(&self, ctx: &JobCtx) -> Result<Value> {
                match self {
                    $(Params::$variant(p) => p.run(ctx),)*
                }
            }
        }
    };
}

// Every job kind, once: its `Params` variant and its parameter type, which
// implements `Job`.
job_kinds! {
    /// `analysis`.
    Analysis(AnalysisParams),
    /// `hotkeys`.
    Hotkeys(HotkeysParams),
    /// `cleanup`.
    Cleanup(CleanupParams),
    /// `migration`.
    Migration(MigrationParams),
    /// `restore`.
    Restore(RestoreParams),
}

fn parse_as<J: Job>(kind: &str, params: &Value, ctx: &ParseCtx<'_>) -> Result<J> {
    let p: J = serde_json::from_value(params.clone())
        .map_err(|e| Error::bad_request(format!("{kind} params: {e}")))?;
    p.validate(ctx)?;
    Ok(p)
}

/// The plan stored with a ticket at submission: what it will touch and how
/// (for a cleanup or a migration, also how much and how long).
pub async fn plan(state: &ServiceState, params: &Params, apps: &[AppRow]) -> Result<Value> {
    params.plan(state, apps).await
}

/// Runs ticket `t` to its result JSON.
pub fn run(ctx: &JobCtx, t: &TicketRow) -> Result<Value> {
    stored_params(ctx.state(), t)?.run(ctx)
}

/// Parses a stored ticket's parameters again (with today's configuration).
pub fn stored_params(state: &ServiceState, t: &TicketRow) -> Result<Params> {
    let v: serde_json::Value = serde_json::from_str(&t.params)
        .map_err(|e| Error::internal(format!("stored params: {e}")))?;
    // Parameters were checked (and `force` allowed) at submission; what is
    // re-checked here is what the configuration may have changed since.
    Params::parse(
        &t.kind,
        &v,
        &ParseCtx {
            allowed_dirs: &state.config.allowed_dirs,
            max_monitor_secs: state.config.max_monitor_secs,
            is_admin: true,
        },
    )
}

/// Which nodes a job of this ticket would occupy: the members it reads
/// from or acts on. None for jobs that touch no node (file analysis).
pub fn ticket_nodes(t: &TicketRow, apps: &[AppRow]) -> Option<(Option<AppRow>, Vec<String>)> {
    let params: serde_json::Value = serde_json::from_str(&t.params).ok()?;
    // Every app a ticket names: `app`, or a migration's `source`/`target`.
    let names: Vec<&str> = ["app", "source", "target"]
        .iter()
        .filter_map(|k| {
            let v = params.get(*k)?;
            v.as_str().or_else(|| v.get("app")?.as_str())
        })
        .collect();
    let mut first = None;
    let mut busy = Vec::new();
    for name in names {
        let app = apps.iter().find(|a| a.name == name)?.clone();
        let nodes: Vec<registry::Node> = serde_json::from_str(&app.topology).unwrap_or_default();
        match Params::node_use(&t.kind) {
            NodeUse::Sources => busy.extend(
                registry::sources(&nodes)
                    .into_iter()
                    .map(|(_, from)| from.addr),
            ),
            NodeUse::Masters => busy.extend(
                nodes
                    .iter()
                    .filter(|n| n.role == "master")
                    .map(|n| n.addr.clone()),
            ),
        }
        first.get_or_insert(app);
    }
    Some((first, busy))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const CTX: ParseCtx<'static> = ParseCtx {
        allowed_dirs: &[],
        max_monitor_secs: 300,
        is_admin: false,
    };

    #[test]
    fn analysis_params_are_checked_and_canonical() {
        let p = Params::parse("analysis", &json!({"app": "shop"}), &CTX).unwrap();
        let (text, hash) = p.canonical();
        assert!(text.contains("\"keys_table\":true"), "{text}");
        let again = Params::parse("analysis", &serde_json::from_str(&text).unwrap(), &CTX).unwrap();
        assert_eq!(again.canonical().1, hash);
        for bad in [
            json!({}),
            json!({"app": "a", "file": "/x"}),
            json!({"app": "a", "colour": 1}),
            json!({"app": "a", "top": 0}),
            json!({"app": "a", "separators": "*"}),
            json!({"file": "relative.rdb"}),
            json!({"file": "/etc/passwd"}),
        ] {
            let e = Params::parse("analysis", &bad, &CTX).unwrap_err();
            assert!(
                matches!(
                    e.kind,
                    crate::ErrorKind::BadRequest | crate::ErrorKind::Forbidden
                ),
                "{bad}: {e}"
            );
        }
        assert!(Params::parse("nope", &json!({}), &CTX).is_err());
        assert!(
            Params::parse("hotkeys", &json!({"app": "a", "duration_secs": 301}), &CTX).is_err()
        );
        assert!(Params::parse("hotkeys", &json!({"app": "a", "method": "guess"}), &CTX).is_err());
    }

    #[test]
    fn kinds_are_listed_once() {
        assert_eq!(
            TYPES,
            ["analysis", "hotkeys", "cleanup", "migration", "restore"]
        );
        assert_eq!(Params::node_use("analysis"), NodeUse::Sources);
        assert_eq!(Params::node_use("migration"), NodeUse::Masters);
        assert_eq!(Params::node_use("nope"), NodeUse::Masters);
        let p = Params::parse("hotkeys", &json!({"app": "a"}), &CTX).unwrap();
        assert_eq!((p.kind(), p.apps()), ("hotkeys", vec!["a"]));
    }
}
