//! Ticket parameters: one typed struct per ticket type, checked at
//! submission (unknown fields, bad values and unknown apps are a 400) and
//! stored in canonical form with their hash, so that what runs is exactly
//! what was approved.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::auth::sha256_hex;
use crate::error::{Error, Result};

/// The ticket types.
pub const TYPES: [&str; 4] = ["analysis", "hotkeys", "cleanup", "migration"];

/// Parameters of an `analysis` ticket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnalysisParams {
    /// A live app: a fresh RDB is fetched from it as a replica.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// An RDB file on the service host, inside an allowed directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub file: Option<PathBuf>,
    /// Key separators for prefixes, or `auto`.
    #[serde(default = "default_separators")]
    #[schema(default = default_separators)]
    pub separators: String,
    /// Prefix tree depth.
    #[serde(default = "default_prefix_depth")]
    #[schema(default = default_prefix_depth)]
    pub prefix_depth: usize,
    /// Rows in each top list.
    #[serde(default = "default_top")]
    #[schema(default = default_top)]
    pub top: usize,
    /// Write `keys.parquet` (one row per key).
    #[serde(default = "yes")]
    #[schema(default = yes)]
    pub keys_table: bool,
    /// Model a server restarted from the file instead of a running one.
    #[serde(default)]
    pub loaded: bool,
}

fn default_separators() -> String {
    "auto".into()
}
fn default_prefix_depth() -> usize {
    4
}
fn default_top() -> usize {
    100
}
fn yes() -> bool {
    true
}

/// How a hot-key ticket finds hot keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum HotKeyMethodParam {
    /// LFU counters when the node's eviction policy keeps them, else MONITOR.
    Auto,
    /// `OBJECT FREQ` over a SCAN.
    Lfu,
    /// Sample the command stream.
    Monitor,
}

/// Parameters of a `hotkeys` ticket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HotkeysParams {
    /// The app whose masters are sampled.
    pub app: String,
    /// How long to sample (MONITOR) or at most scan (LFU), in seconds.
    #[serde(default = "default_duration")]
    #[schema(default = default_duration)]
    pub duration_secs: u64,
    /// Keys to report.
    #[serde(default = "default_hot_top")]
    #[schema(default = default_hot_top)]
    pub top: usize,
    /// Method.
    #[serde(default = "default_method")]
    #[schema(default = default_method)]
    pub method: HotKeyMethodParam,
}

fn default_duration() -> u64 {
    30
}
fn default_hot_top() -> usize {
    50
}
fn default_method() -> HotKeyMethodParam {
    HotKeyMethodParam::Auto
}

/// Parsed parameters of any ticket type.
#[derive(Clone, Debug, PartialEq)]
pub enum Params {
    /// `analysis`.
    Analysis(AnalysisParams),
    /// `hotkeys`.
    Hotkeys(HotkeysParams),
    /// `cleanup`.
    Cleanup(crate::cleanup::CleanupParams),
    /// `migration`.
    Migration(crate::migrate::MigrationParams),
}

/// What checking parameters depends on besides the parameters.
#[derive(Clone, Copy, Debug)]
pub struct ParseCtx<'a> {
    /// Directories RDB files may be read from.
    pub allowed_dirs: &'a [PathBuf],
    /// Longest MONITOR window.
    pub max_monitor_secs: u64,
    /// Whether the submitter is an admin (some switches, e.g. a cleanup's
    /// `force`, are theirs alone).
    pub is_admin: bool,
}

impl Params {
    /// Parses and checks `params` for ticket type `kind` (the app's
    /// existence is checked by the caller, who holds the store).
    pub fn parse(kind: &str, params: &serde_json::Value, ctx: &ParseCtx<'_>) -> Result<Params> {
        let (allowed_dirs, max_monitor_secs) = (ctx.allowed_dirs, ctx.max_monitor_secs);
        let bad = |e: serde_json::Error| Error::bad_request(format!("{kind} params: {e}"));
        match kind {
            "analysis" => {
                let p: AnalysisParams = serde_json::from_value(params.clone()).map_err(bad)?;
                match (&p.app, &p.file) {
                    (Some(_), Some(_)) | (None, None) => {
                        return Err(Error::bad_request(
                            "analysis params: give exactly one source, \"app\" or \"file\"",
                        ))
                    }
                    (None, Some(f)) => {
                        check_allowed_file(f, allowed_dirs)?;
                    }
                    (Some(_), None) => {}
                }
                if analyzer::prefix::Separators::parse(&p.separators).is_none() {
                    return Err(Error::bad_request(format!(
                        "analysis params: separators {:?}: give ASCII separator characters (not `*`) or \"auto\"",
                        p.separators
                    )));
                }
                if !(1..=32).contains(&p.prefix_depth) {
                    return Err(Error::bad_request(
                        "analysis params: prefix_depth must be 1 to 32",
                    ));
                }
                if !(1..=100_000).contains(&p.top) {
                    return Err(Error::bad_request(
                        "analysis params: top must be 1 to 100000",
                    ));
                }
                Ok(Params::Analysis(p))
            }
            "hotkeys" => {
                let p: HotkeysParams = serde_json::from_value(params.clone()).map_err(bad)?;
                if p.duration_secs == 0 || p.duration_secs > max_monitor_secs {
                    return Err(Error::bad_request(format!(
                        "hotkeys params: duration_secs must be 1 to {max_monitor_secs}"
                    )));
                }
                if !(1..=10_000).contains(&p.top) {
                    return Err(Error::bad_request("hotkeys params: top must be 1 to 10000"));
                }
                Ok(Params::Hotkeys(p))
            }
            "cleanup" => {
                let p: crate::cleanup::CleanupParams =
                    serde_json::from_value(params.clone()).map_err(bad)?;
                p.validate(ctx)?;
                Ok(Params::Cleanup(p))
            }
            "migration" => {
                let p: crate::migrate::MigrationParams =
                    serde_json::from_value(params.clone()).map_err(bad)?;
                p.validate(ctx)?;
                Ok(Params::Migration(p))
            }
            other => Err(Error::bad_request(format!(
                "unknown ticket type {other:?} (expected one of {})",
                TYPES.join(", ")
            ))),
        }
    }

    /// The apps the ticket reads or changes (each must be registered).
    pub fn apps(&self) -> Vec<&str> {
        match self {
            Params::Analysis(p) => p.app.as_deref().into_iter().collect(),
            Params::Hotkeys(p) => vec![p.app.as_str()],
            Params::Cleanup(p) => p.apps(),
            Params::Migration(p) => p.apps(),
        }
    }

    /// Canonical JSON (every default filled in, fields in a fixed order) and
    /// its hash: what is stored and frozen.
    pub fn canonical(&self) -> (String, String) {
        let json = match self {
            Params::Analysis(p) => serde_json::to_string(p),
            Params::Hotkeys(p) => serde_json::to_string(p),
            Params::Cleanup(p) => serde_json::to_string(p),
            Params::Migration(p) => serde_json::to_string(p),
        }
        .unwrap_or_else(|_| "{}".into());
        let hash = format!("sha256:{}", sha256_hex(json.as_bytes()));
        (json, hash)
    }
}

/// An RDB file a ticket may read: absolute, existing, a regular file, and
/// (after resolving links) inside one of `allowed_dirs`.
pub fn check_allowed_file(file: &Path, allowed_dirs: &[PathBuf]) -> Result<PathBuf> {
    if !file.is_absolute() {
        return Err(Error::bad_request(format!(
            "file {} must be an absolute path",
            file.display()
        )));
    }
    let real = file
        .canonicalize()
        .map_err(|e| Error::bad_request(format!("file {}: {e}", file.display())))?;
    if !real.is_file() {
        return Err(Error::bad_request(format!(
            "file {} is not a regular file",
            file.display()
        )));
    }
    let inside = allowed_dirs.iter().any(|d| {
        d.canonicalize()
            .map(|d| real.starts_with(d))
            .unwrap_or(false)
    });
    if !inside {
        return Err(Error::forbidden(format!(
            "file {} is outside the service's allowed_dirs",
            file.display()
        )));
    }
    Ok(real)
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
}
