//! The vocabulary of approval records as the ticket rules see them: who
//! may fill a slot, where a record is, what a decision does to it, and the
//! impact (keys, bytes) an approval is bound to.

use std::fmt;
use std::str::FromStr;

/// What a plan says a ticket will touch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Impact {
    /// Keys.
    pub keys: u64,
    /// Bytes (memory or file bytes).
    pub bytes: u64,
}

impl Impact {
    /// Whether `now` exceeds `self` by more than `margin` (0.2 = 20 %) in
    /// keys or in bytes.
    pub fn grew_beyond(&self, now: &Impact, margin: f64) -> bool {
        let over = |a: u64, b: u64| b as f64 > a as f64 * (1.0 + margin.max(0.0));
        over(self.keys, now.keys) || over(self.bytes, now.bytes)
    }
}

impl fmt::Display for Impact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} keys / {} bytes", self.keys, self.bytes)
    }
}

/// A decision on one approval record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Counts towards the policy.
    Approve,
    /// Sends the ticket back to its submitter for changes (a note required).
    Return,
    /// Refuses the ticket (a reason required).
    Reject,
}

/// Who may fill an approval slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Eligible {
    /// Any admin.
    AnyAdmin,
    /// One of these users (the owning team's lead, the app's approvers, a
    /// named user).
    Users(Vec<String>),
}

impl Eligible {
    /// Whether user `name` (an admin or not) may fill the slot.
    pub fn admits(&self, name: &str, admin: bool) -> bool {
        match self {
            Eligible::AnyAdmin => admin,
            Eligible::Users(u) => u.iter().any(|u| u == name),
        }
    }
}

impl fmt::Display for Eligible {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Eligible::AnyAdmin => f.write_str("an admin"),
            Eligible::Users(u) if u.is_empty() => f.write_str("nobody (no such user is set)"),
            Eligible::Users(u) => write!(f, "one of {}", u.join(", ")),
        }
    }
}

/// Where one approval record is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum SlotState {
    /// Waiting for its approver.
    Pending,
    /// Approved.
    Approved,
    /// Sent back for changes.
    Returned,
    /// Refused.
    Rejected,
    /// No longer counts: the ticket was amended, returned, rejected or
    /// cancelled, or its impact grew, before this record was decided.
    Void,
}

impl SlotState {
    /// Every state.
    pub const ALL: [SlotState; 5] = [
        SlotState::Pending,
        SlotState::Approved,
        SlotState::Returned,
        SlotState::Rejected,
        SlotState::Void,
    ];

    /// The name used in the API and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            SlotState::Pending => "pending",
            SlotState::Approved => "approved",
            SlotState::Returned => "returned",
            SlotState::Rejected => "rejected",
            SlotState::Void => "void",
        }
    }
}

impl fmt::Display for SlotState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SlotState {
    type Err = String;
    fn from_str(s: &str) -> Result<SlotState, String> {
        SlotState::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| format!("unknown approval state {s:?}"))
    }
}

/// One approval record of the current round, as the rules see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slot {
    /// Who may fill it.
    pub eligible: Eligible,
    /// Where it is.
    pub state: SlotState,
    /// Who decided it.
    pub actor: Option<String>,
    /// Whom the actor stood in for.
    pub for_user: Option<String>,
}

/// What a decision does to its record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotDecision {
    /// The record's index in the round.
    pub index: usize,
    /// Its new state.
    pub state: SlotState,
    /// Whom the actor stood in for.
    pub for_user: Option<String>,
}
