//! Cleanup tickets (being built: until then they are refused at submission).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::jobs::JobCtx;
use crate::params::ParseCtx;
use crate::service::ServiceState;
use crate::store::AppRow;

/// Parameters of a `cleanup` ticket.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CleanupParams {
    /// The app acted on.
    pub app: String,
}

impl CleanupParams {
    /// Checks the parameters at submission.
    pub fn validate(&self, _ctx: &ParseCtx<'_>) -> Result<()> {
        Err(Error::bad_request(
            "cleanup tickets are not available in this version",
        ))
    }

    /// The apps the ticket touches.
    pub fn apps(&self) -> Vec<&str> {
        vec![self.app.as_str()]
    }
}

/// The plan shown to the approver.
pub async fn plan(_state: &ServiceState, _p: &CleanupParams, _apps: &[AppRow]) -> Result<Value> {
    Ok(Value::Null)
}

/// Runs the ticket.
pub fn run(_ctx: &JobCtx, _p: &CleanupParams) -> Result<Value> {
    Err(Error::internal(
        "cleanup tickets are not available in this version",
    ))
}
