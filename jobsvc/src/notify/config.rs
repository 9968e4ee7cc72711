//! The `[notify]` section of the service's config file: links, reminder
//! and escalation delays, retries, and the channels admins configure.

use serde::Deserialize;

use super::channel::ChannelSpec;

/// How notifications are sent.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct NotifyConfig {
    /// The console's address, for the links in messages
    /// (`<base_url>/#/ticket/<id>`); none: no link.
    pub base_url: Option<String>,
    /// Seconds a ticket waits for approval before its approvers get a
    /// reminder (0: never).
    pub remind_after_secs: u64,
    /// Seconds a ticket waits for approval before every admin is told
    /// (0: never).
    pub escalate_after_secs: u64,
    /// Attempts per delivery before it is given up (`dead`).
    pub max_attempts: u32,
    /// First retry delay in seconds, doubled after each failed attempt…
    pub backoff_secs: u64,
    /// …up to this many seconds.
    pub backoff_max_secs: u64,
    /// Seconds one attempt may take (connect, send, answer).
    pub timeout_secs: u64,
    /// Deliveries sent at once by one instance.
    pub concurrency: usize,
    /// How often the sender looks for work, in milliseconds.
    pub poll_ms: u64,
    /// Channels (`[[notify.channels]]`); admins add more through the API.
    pub channels: Vec<ChannelSpec>,
}

impl Default for NotifyConfig {
    fn default() -> NotifyConfig {
        NotifyConfig {
            base_url: None,
            remind_after_secs: 4 * 3600,
            escalate_after_secs: 24 * 3600,
            max_attempts: 8,
            backoff_secs: 5,
            backoff_max_secs: 1800,
            timeout_secs: 10,
            concurrency: 4,
            poll_ms: 1000,
            channels: Vec::new(),
        }
    }
}

impl NotifyConfig {
    /// Checks the channels (names unique, specs complete).
    pub fn check(&self) -> Result<(), String> {
        let mut seen = std::collections::BTreeSet::new();
        for c in &self.channels {
            c.check()?;
            if !seen.insert(c.name.as_str()) {
                return Err(format!("notify.channels: {:?} is named twice", c.name));
            }
        }
        Ok(())
    }

    /// The delay before retry number `attempts` (1 after the first failure).
    pub fn backoff_ms(&self, attempts: u32) -> i64 {
        let first = self.backoff_secs.max(1) * 1000;
        let d = first.saturating_mul(1u64 << attempts.saturating_sub(1).min(20));
        d.min(self.backoff_max_secs.max(1) * 1000) as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let c = NotifyConfig {
            backoff_secs: 1,
            backoff_max_secs: 5,
            ..NotifyConfig::default()
        };
        let v: Vec<i64> = (1..=5).map(|a| c.backoff_ms(a)).collect();
        assert_eq!(v, [1000, 2000, 4000, 5000, 5000]);
    }
}
