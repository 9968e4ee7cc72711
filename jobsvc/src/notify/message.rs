//! What a notification says: the webhook's JSON payload and its signature,
//! the one-line summary, and the bodies of the WeCom, DingTalk and Slack
//! robots and of the e-mail.

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use super::channel::ChannelKind;
use crate::auth::hex;
use crate::store::{EventRow, TicketRow};
use crate::time::rfc3339;

/// One notification: an event of a ticket, as delivery `delivery`.
#[derive(Clone, Debug)]
pub struct Notice<'a> {
    /// What happened.
    pub event: &'a EventRow,
    /// To which ticket.
    pub ticket: &'a TicketRow,
    /// The delivery's id (receivers may use it to drop a repeat).
    pub delivery: i64,
    /// The console's address, for a link.
    pub base_url: Option<&'a str>,
    /// When this attempt is made (Unix seconds), also sent in a header.
    pub timestamp: i64,
}

/// The apps a ticket names (`app`, or a migration's `source` and `target`).
pub fn ticket_apps(t: &TicketRow) -> Vec<String> {
    let Ok(p) = serde_json::from_str::<Value>(&t.params) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for k in ["app", "source", "target"] {
        let name = match p.get(k) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Object(o)) => o.get("app").and_then(Value::as_str).map(str::to_string),
            _ => None,
        };
        if let Some(n) = name.filter(|n| !out.contains(n)) {
            out.push(n);
        }
    }
    out
}

impl Notice<'_> {
    /// The ticket's page in the console, when the base URL is known.
    pub fn url(&self) -> Option<String> {
        self.base_url
            .map(|b| format!("{}/#/ticket/{}", b.trim_end_matches('/'), self.ticket.id))
    }

    /// The webhook's JSON payload.
    pub fn payload(&self) -> Value {
        let apps = ticket_apps(self.ticket);
        json!({
            "event": self.event.kind,
            "delivery": self.delivery,
            "timestamp": self.timestamp,
            "at": rfc3339(self.event.at),
            "actor": self.event.actor,
            "note": self.event.note,
            "users": self.event.users,
            "ticket": {
                "id": self.ticket.id,
                "kind": self.ticket.kind,
                "state": self.event.state,
                "app": apps.first(),
                "apps": apps,
                "submitter": self.ticket.submitter,
                "url": self.url(),
            },
        })
    }

    /// One line: which ticket, what happened, by whom.
    pub fn summary(&self) -> String {
        let e = self.event;
        let what = match e.kind.as_str() {
            "submitted" => format!("submitted by {}", e.actor),
            "needs_approval" => format!(
                "waits for approval by {}",
                e.users.as_deref().unwrap_or_default().join(", ")
            ),
            "approved" => format!("approved by {}", e.actor),
            "returned" => format!("returned for changes by {}", e.actor),
            "rejected" => format!("rejected by {}", e.actor),
            "started" => "started".to_string(),
            "paused" => "paused".to_string(),
            "succeeded" => "succeeded".to_string(),
            "failed" => "failed".to_string(),
            "cancelled" => format!("cancelled by {}", e.actor),
            "approval_reminder" => "still waits for approval (reminder)".to_string(),
            "approval_escalation" => {
                "has waited too long for approval (escalated to every admin)".to_string()
            }
            other => other.to_string(),
        };
        let apps = ticket_apps(self.ticket);
        let on = if apps.is_empty() {
            String::new()
        } else {
            format!(" on {}", apps.join(" → "))
        };
        format!(
            "rdbscope ticket #{} ({}{on}) {what}",
            self.ticket.id, self.ticket.kind
        )
    }

    /// The note line, if any (a reason, an error, why it paused).
    pub fn note_line(&self) -> Option<String> {
        let n = self.event.note.as_deref()?.trim();
        (!n.is_empty()).then(|| n.to_string())
    }

    /// The body sent to a channel of `kind` (e-mail has its own builder).
    pub fn body(&self, kind: ChannelKind) -> Vec<u8> {
        let title = self.summary();
        let note = self.note_line();
        let url = self.url();
        let v = match kind {
            ChannelKind::Webhook | ChannelKind::Email => self.payload(),
            ChannelKind::Wecom => {
                let mut content = format!("**{title}**");
                if let Some(n) = &note {
                    content.push_str(&format!("\n> {n}"));
                }
                if let Some(u) = &url {
                    content.push_str(&format!("\n[open ticket #{}]({u})", self.ticket.id));
                }
                json!({"msgtype": "markdown", "markdown": {"content": content}})
            }
            ChannelKind::Dingtalk => {
                let mut text = format!("#### {title}\n");
                if let Some(n) = &note {
                    text.push_str(&format!("\n> {n}\n"));
                }
                if let Some(u) = &url {
                    text.push_str(&format!("\n[open ticket #{}]({u})\n", self.ticket.id));
                }
                json!({"msgtype": "markdown", "markdown": {"title": title, "text": text}})
            }
            ChannelKind::Slack => {
                let mut text = format!("*{}*", slack_escape(&title));
                if let Some(n) = &note {
                    text.push_str(&format!("\n>{}", slack_escape(n)));
                }
                if let Some(u) = &url {
                    text.push_str(&format!("\n<{u}|open ticket #{}>", self.ticket.id));
                }
                json!({"text": text})
            }
        };
        v.to_string().into_bytes()
    }

    /// The e-mail's subject and plain-text body.
    pub fn mail(&self) -> (String, String) {
        let mut body = format!("{}\n\n", self.summary());
        if let Some(n) = self.note_line() {
            body.push_str(&format!("Note: {n}\n"));
        }
        body.push_str(&format!(
            "Event: {}\nTicket: #{} ({}), state {}\nBy: {}\nAt: {}\n",
            self.event.kind,
            self.ticket.id,
            self.ticket.kind,
            self.event.state,
            self.event.actor,
            rfc3339(self.event.at)
        ));
        if let Some(u) = self.url() {
            body.push_str(&format!("\n{u}\n"));
        }
        (self.summary(), body)
    }
}

/// Slack's three reserved characters.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// The webhook signature header's value: `sha256=<hex HMAC-SHA256 of body>`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    format!("sha256={}", hex(&hmac_sha256(secret.as_bytes(), body)))
}

/// A DingTalk robot's signed URL: `timestamp` (ms) and `sign`, the
/// URL-encoded base64 of HMAC-SHA256 of `"<timestamp>\n<secret>"`.
pub fn dingtalk_signed(url: &str, secret: &str, timestamp_ms: i64) -> String {
    let mac = hmac_sha256(
        secret.as_bytes(),
        format!("{timestamp_ms}\n{secret}").as_bytes(),
    );
    let sign: String = analyzer::base64::base64(&mac)
        .chars()
        .map(|c| match c {
            '+' => "%2B".to_string(),
            '/' => "%2F".to_string(),
            '=' => "%3D".to_string(),
            c => c.to_string(),
        })
        .collect();
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}timestamp={timestamp_ms}&sign={sign}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_rfc_4231_hmac_sha256() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let u = dingtalk_signed(
            "http://h/robot/send?access_token=x",
            "SEC1",
            1_700_000_000_000,
        );
        assert!(
            u.starts_with("http://h/robot/send?access_token=x&timestamp=1700000000000&sign="),
            "{u}"
        );
        assert!(!u.contains('+') && !u.ends_with('='));
    }
}
