//! Ticket parameters by their public paths: each kind's parameter type
//! lives with its kind, and [`Params`], the list of kinds, in
//! [`crate::jobs`]. Parameters are checked at submission (unknown fields,
//! bad values and unknown apps are a 400) and stored in canonical form with
//! their hash, so that what runs is exactly what was approved.

pub use crate::job::{check_allowed_file, ParseCtx};
pub use crate::jobs::{
    AnalysisParams, CleanupParams, HotKeyMethodParam, HotkeysParams, MigrationParams, Params, TYPES,
};
