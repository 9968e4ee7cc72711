//! A notification channel's spec (webhook, WeCom, DingTalk, Slack, e-mail),
//! as the config file and the API give it, and its checks.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::event::check_kinds;

/// Where a channel sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    /// Any HTTP endpoint: the JSON payload, signed with `secret`
    /// (`X-Rdbscope-Signature: sha256=<hex HMAC-SHA256 of the body>`).
    Webhook,
    /// A WeCom (企业微信) group robot: a `markdown` message.
    Wecom,
    /// A DingTalk (钉钉) robot: a `markdown` message; with `secret`, the
    /// URL is signed (`timestamp` and `sign`).
    Dingtalk,
    /// A Slack incoming webhook: a `text` message (mrkdwn).
    Slack,
    /// E-mail over SMTP.
    Email,
}

impl ChannelKind {
    /// The kind's name.
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Webhook => "webhook",
            ChannelKind::Wecom => "wecom",
            ChannelKind::Dingtalk => "dingtalk",
            ChannelKind::Slack => "slack",
            ChannelKind::Email => "email",
        }
    }
}

/// An SMTP server and the sender.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SmtpSpec {
    /// Host name or address of the SMTP server (plain SMTP, no TLS).
    pub host: String,
    /// Its port.
    #[serde(default = "smtp_port")]
    pub port: u16,
    /// The sender, `name@example.com` or `rdbscope <name@example.com>`.
    pub from: String,
    /// Who gets the channel's own `events` (subscriptions give their own address).
    #[serde(default)]
    pub to: Vec<String>,
    /// SMTP login user, if the server wants one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// SMTP login password (never shown by the API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

fn smtp_port() -> u16 {
    25
}

/// A channel: where notifications go.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"kind": "webhook", "url": "http://hooks.example.com/rdbscope", "secret": "s3cret", "events": ["failed"]}))]
pub struct ChannelSpec {
    /// Its name (in the config file; the API takes it from the path).
    #[serde(default)]
    pub name: String,
    /// Where it sends.
    pub kind: ChannelKind,
    /// The endpoint (`http://…`) of a webhook, WeCom, DingTalk or Slack channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// A webhook's HMAC key, or a DingTalk robot's signing secret (never shown by the API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Events of every ticket this channel gets on its own, without a
    /// subscription (`*`: all); empty: only what subscriptions send it.
    #[serde(default)]
    pub events: Vec<String>,
    /// The SMTP server of an e-mail channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp: Option<SmtpSpec>,
}

impl ChannelSpec {
    /// Checks the spec: a name, a URL for the HTTP kinds, an SMTP server
    /// for e-mail, known event kinds.
    pub fn check(&self) -> Result<(), String> {
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 64
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !name_ok {
            return Err(format!(
                "channel name {:?}: 1-64 letters, digits, '.', '_' or '-'",
                self.name
            ));
        }
        check_kinds(&self.events).map_err(|e| format!("channel {}: {e}", self.name))?;
        match (self.kind, &self.url, &self.smtp) {
            (ChannelKind::Email, _, None) => Err(format!(
                "channel {}: an e-mail channel needs smtp = {{ host, port, from }}",
                self.name
            )),
            (ChannelKind::Email, Some(_), _) => Err(format!(
                "channel {}: an e-mail channel takes smtp, not url",
                self.name
            )),
            (ChannelKind::Email, None, Some(s)) => {
                check_address(&s.from).map_err(|e| format!("channel {}: from: {e}", self.name))?;
                for to in &s.to {
                    check_address(to).map_err(|e| format!("channel {}: to: {e}", self.name))?;
                }
                if s.host.trim().is_empty() {
                    return Err(format!("channel {}: smtp.host is empty", self.name));
                }
                Ok(())
            }
            (_, None, _) => Err(format!(
                "channel {}: a {} channel needs a url",
                self.name,
                self.kind.as_str()
            )),
            (_, Some(_), Some(_)) => Err(format!(
                "channel {}: smtp is for e-mail channels only",
                self.name
            )),
            (_, Some(url), None) => {
                if url.starts_with("https://") {
                    return Err(format!(
                        "channel {}: this build sends plain HTTP only (no TLS stack): \
                         give an http:// URL, e.g. a relay that forwards to {url}",
                        self.name
                    ));
                }
                if !url.starts_with("http://") || url.len() <= "http://".len() {
                    return Err(format!(
                        "channel {}: url must be http://host[:port]/path, not {url:?}",
                        self.name
                    ));
                }
                Ok(())
            }
        }
    }

    /// The spec as the API shows it: secrets and passwords left out, and
    /// (for non-admins) the URL too, which often carries a robot's key.
    pub fn shown(&self, admin: bool) -> ChannelSpec {
        let mut s = self.clone();
        s.secret = None;
        if let Some(smtp) = &mut s.smtp {
            smtp.password = None;
        }
        if !admin {
            s.url = None;
            if let Some(smtp) = &mut s.smtp {
                smtp.to.clear();
                smtp.username = None;
            }
        }
        s
    }
}

/// Checks an e-mail address (`a@b`, optionally as `Name <a@b>`).
pub fn check_address(a: &str) -> Result<(), String> {
    let inner = match (a.find('<'), a.rfind('>')) {
        (Some(l), Some(r)) if l < r => &a[l + 1..r],
        _ => a,
    };
    match inner.split_once('@') {
        Some((user, host))
            if !user.is_empty()
                && !host.is_empty()
                && !inner.contains(char::is_whitespace)
                && !host.contains('@') =>
        {
            Ok(())
        }
        _ => Err(format!("{a:?} is not an e-mail address")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(url: &str) -> ChannelSpec {
        ChannelSpec {
            name: "ops".into(),
            kind: ChannelKind::Webhook,
            url: Some(url.into()),
            secret: Some("k".into()),
            events: vec!["failed".into()],
            smtp: None,
        }
    }

    #[test]
    fn specs_are_checked_and_secrets_never_shown() {
        assert!(hook("http://127.0.0.1:9/x").check().is_ok());
        assert!(hook("https://hooks.slack.com/x")
            .check()
            .unwrap_err()
            .contains("plain HTTP"));
        assert!(hook("ftp://x").check().is_err());
        let mut bad = hook("http://h/");
        bad.events = vec!["nope".into()];
        assert!(bad.check().unwrap_err().contains("unknown event"));
        bad = hook("http://h/");
        bad.name = "a b".into();
        assert!(bad.check().is_err());
        let mail = ChannelSpec {
            kind: ChannelKind::Email,
            url: None,
            smtp: Some(SmtpSpec {
                host: "127.0.0.1".into(),
                port: 2525,
                from: "rdbscope <noreply@example.com>".into(),
                to: vec!["ops@example.com".into()],
                username: None,
                password: Some("pw".into()),
            }),
            ..hook("")
        };
        assert!(mail.check().is_ok());
        assert!(ChannelSpec {
            smtp: None,
            ..mail.clone()
        }
        .check()
        .is_err());
        let shown = mail.shown(false);
        assert_eq!(shown.secret, None);
        let smtp = shown.smtp.unwrap();
        assert_eq!((smtp.password, smtp.to.len()), (None, 0));
        assert_eq!(hook("http://h/").shown(false).url, None);
        assert!(check_address("nobody").is_err());
        assert!(check_address("a@b").is_ok());
    }
}
