//! Approval policies: rules per ticket type, risk, app tags and (for a
//! migration) conflict policy, saying which approvals a ticket needs. The
//! config file gives the defaults; the API and CLI may replace them in the
//! store. The first rule that matches a ticket decides; none: one admin.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::risk::Risk;
use crate::ticket::Eligible;

/// One approval policy rule. Every condition given must hold; a rule
/// without conditions matches every ticket of its type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "cleanup-production", "kind": "cleanup", "tags": ["production"], "approvals": ["team_lead", "admin"]}))]
pub struct PolicyRule {
    /// A name for the audit trail and the console.
    #[serde(default)]
    pub name: Option<String>,
    /// The ticket type (`analysis`, `hotkeys`, `cleanup`, `migration`),
    /// or `*` for every type.
    pub kind: String,
    /// Matches at this risk or above.
    #[serde(default)]
    pub min_risk: Option<Risk>,
    /// Matches when the plan touches more than this many keys.
    #[serde(default)]
    pub keys_over: Option<u64>,
    /// Matches when an app of the ticket carries one of these tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Matches a migration with this conflict policy (`replace`, `skip`, …).
    #[serde(default)]
    pub conflict: Option<String>,
    /// One entry per approval record: `admin` (any admin), `team_lead`
    /// (the owning team's lead), `app_approver` (one of the app's named
    /// approvers) or `user:NAME`. Empty: approved on submission.
    pub approvals: Vec<String>,
}

/// The rules used when neither the store nor the config names any: the
/// examples of the issue that asked for policies (analysis is
/// auto-approved with `auto_approve = ["analysis"]`, or a rule
/// `{kind = "analysis", approvals = []}`).
pub fn default_rules() -> Vec<PolicyRule> {
    let rule = |name: &str, kind: &str, approvals: &[&str]| PolicyRule {
        name: Some(name.into()),
        kind: kind.into(),
        min_risk: None,
        keys_over: None,
        tags: Vec::new(),
        conflict: None,
        approvals: approvals.iter().map(|a| a.to_string()).collect(),
    };
    let two = ["team_lead", "admin"];
    vec![
        PolicyRule {
            tags: vec!["production".into()],
            ..rule("cleanup-production", "cleanup", &two)
        },
        PolicyRule {
            keys_over: Some(100_000),
            ..rule("cleanup-large", "cleanup", &two)
        },
        PolicyRule {
            conflict: Some("replace".into()),
            ..rule("migration-replace", "migration", &["admin"])
        },
        PolicyRule {
            min_risk: Some(Risk::Critical),
            ..rule("critical", "*", &["admin", "admin"])
        },
    ]
}

/// What a rule looks at in a ticket.
pub struct Facts<'a> {
    /// The ticket type.
    pub kind: &'a str,
    /// Its risk.
    pub risk: Risk,
    /// Keys the plan touches, if it says.
    pub keys: Option<u64>,
    /// The tags of every app it names.
    pub tags: &'a [String],
    /// The plan (for a migration's `conflict`).
    pub plan: &'a Value,
}

impl PolicyRule {
    /// Whether the rule applies to these facts.
    pub fn matches(&self, f: &Facts<'_>) -> bool {
        (self.kind == "*" || self.kind == f.kind)
            && self.min_risk.is_none_or(|r| f.risk >= r)
            && self.keys_over.is_none_or(|n| f.keys.is_some_and(|k| k > n))
            && (self.tags.is_empty() || self.tags.iter().any(|t| f.tags.contains(t)))
            && self
                .conflict
                .as_deref()
                .is_none_or(|c| f.plan["conflict"].as_str() == Some(c))
    }

    /// Checks the approvals' spelling (a bad rule is a 400 or a bad config).
    pub fn check(&self) -> Result<(), String> {
        if self.kind.trim().is_empty() {
            return Err("policy rule: kind is empty (a ticket type, or \"*\")".into());
        }
        for a in &self.approvals {
            let ok = matches!(a.as_str(), "admin" | "team_lead" | "app_approver")
                || a.strip_prefix("user:").is_some_and(|u| !u.is_empty());
            if !ok {
                return Err(format!(
                    "policy rule: unknown approval {a:?} (admin, team_lead, app_approver or user:NAME)"
                ));
            }
        }
        Ok(())
    }
}

/// The rule for a ticket: the first that matches, else one admin.
pub fn choose(rules: &[PolicyRule], f: &Facts<'_>) -> PolicyRule {
    rules
        .iter()
        .find(|r| r.matches(f))
        .cloned()
        .unwrap_or_else(|| PolicyRule {
            name: Some("default".into()),
            kind: "*".into(),
            min_risk: None,
            keys_over: None,
            tags: Vec::new(),
            conflict: None,
            approvals: vec!["admin".into()],
        })
}

/// Who owns an app, as the approvals need it.
#[derive(Clone, Debug, Default)]
pub struct Owners {
    /// The owning team's lead (none: no team, or a team without a lead).
    pub lead: Option<String>,
    /// The app's named approvers.
    pub approvers: Vec<String>,
}

/// Who may fill an approval of kind `what`. A team lead or app approver
/// that is not set falls back to an admin, so a ticket never waits for
/// somebody who does not exist.
pub fn eligible(what: &str, owners: &Owners) -> Eligible {
    match what {
        "team_lead" => match &owners.lead {
            Some(l) => Eligible::Users(vec![l.clone()]),
            None => Eligible::AnyAdmin,
        },
        "app_approver" if !owners.approvers.is_empty() => Eligible::Users(owners.approvers.clone()),
        w => match w.strip_prefix("user:") {
            Some(u) => Eligible::Users(vec![u.to_string()]),
            None => Eligible::AnyAdmin,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn facts<'a>(kind: &'a str, keys: u64, tags: &'a [String], plan: &'a Value) -> Facts<'a> {
        Facts {
            kind,
            risk: super::super::risk::risk(kind, plan),
            keys: Some(keys),
            tags,
            plan,
        }
    }

    #[test]
    fn the_issue_examples_are_the_defaults() {
        let rules = default_rules();
        let none: Vec<String> = vec![];
        let prod = vec!["production".to_string()];
        let small = json!({"keys": 10, "masters": ["a"]});
        assert_eq!(
            choose(&rules, &facts("cleanup", 10, &none, &small)).approvals,
            ["admin"]
        );
        assert_eq!(
            choose(&rules, &facts("cleanup", 10, &prod, &small)).approvals,
            ["team_lead", "admin"]
        );
        let big = json!({"keys": 200_000, "masters": ["a"]});
        let r = choose(&rules, &facts("cleanup", 200_000, &none, &big));
        assert_eq!(r.name.as_deref(), Some("cleanup-large"));
        let replace = json!({"keys_estimate": 5, "conflict": "replace"});
        let r = choose(&rules, &facts("migration", 5, &none, &replace));
        assert_eq!(
            (r.name.as_deref(), r.approvals.len()),
            (Some("migration-replace"), 1)
        );
        let skip = json!({"keys_estimate": 5, "conflict": "skip"});
        assert_eq!(
            choose(&rules, &facts("migration", 5, &none, &skip))
                .name
                .as_deref(),
            Some("default")
        );
        let huge = json!({"keys": 5_000_000, "masters": ["a"], "mode": "delete"});
        assert_eq!(
            choose(&rules, &facts("migration", 5, &none, &huge)).approvals,
            ["admin", "admin"]
        );
        for r in &rules {
            r.check().unwrap();
        }
    }

    #[test]
    fn rules_parse_from_toml_and_auto_approve_is_expressible() {
        #[derive(Deserialize)]
        struct T {
            approval_policies: Vec<PolicyRule>,
        }
        let t: T = toml::from_str(
            r#"
            [[approval_policies]]
            kind = "analysis"
            approvals = []
            [[approval_policies]]
            kind = "cleanup"
            min_risk = "high"
            approvals = ["app_approver", "user:dba"]
            "#,
        )
        .unwrap();
        let none: Vec<String> = vec![];
        let plan = json!({});
        let r = choose(&t.approval_policies, &facts("analysis", 0, &none, &plan));
        assert!(r.approvals.is_empty());
        let bad = PolicyRule {
            approvals: vec!["boss".into()],
            ..t.approval_policies[1].clone()
        };
        assert!(bad.check().is_err());
        let owners = Owners {
            lead: None,
            approvers: vec!["ann".into()],
        };
        assert_eq!(eligible("team_lead", &owners), Eligible::AnyAdmin);
        assert_eq!(
            eligible("app_approver", &owners),
            Eligible::Users(vec!["ann".into()])
        );
        assert_eq!(
            eligible("user:dba", &owners),
            Eligible::Users(vec!["dba".into()])
        );
        assert_eq!(eligible("admin", &owners), Eligible::AnyAdmin);
    }
}
