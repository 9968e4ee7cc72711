//! Sends one notification: an HTTP POST to a webhook, WeCom, DingTalk or
//! Slack URL (signed, with a time limit), or an e-mail over SMTP. Blocking:
//! the sender calls it off the async threads. An error says what failed.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{Message, SmtpTransport, Transport};

use super::channel::{ChannelKind, ChannelSpec};
use super::message::{dingtalk_signed, signature, Notice};

/// Longest answer body read back (for the error message and the robots'
/// `errcode`).
const MAX_ANSWER: u64 = 64 * 1024;

/// Sends `n` on channel `c` to `address` (an e-mail channel's recipient).
pub(super) fn deliver(
    c: &ChannelSpec,
    address: &str,
    n: &Notice<'_>,
    timeout: Duration,
) -> Result<(), String> {
    match c.kind {
        ChannelKind::Email => mail(c, address, n, timeout),
        kind => post(c, kind, n, timeout),
    }
}

fn post(
    c: &ChannelSpec,
    kind: ChannelKind,
    n: &Notice<'_>,
    timeout: Duration,
) -> Result<(), String> {
    let url = c.url.as_deref().ok_or("the channel has no url")?;
    let url = match (kind, &c.secret) {
        (ChannelKind::Dingtalk, Some(s)) => dingtalk_signed(url, s, n.timestamp * 1000),
        _ => url.to_string(),
    };
    let body = n.body(kind);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let mut req = agent
        .post(&url)
        .header("Content-Type", "application/json")
        .header("User-Agent", "rdbscope-notify")
        .header("X-Rdbscope-Event", &n.event.kind)
        .header("X-Rdbscope-Delivery", &n.delivery.to_string())
        .header("X-Rdbscope-Timestamp", &n.timestamp.to_string());
    if let (ChannelKind::Webhook, Some(secret)) = (kind, &c.secret) {
        req = req.header("X-Rdbscope-Signature", &signature(secret, &body));
    }
    let mut resp = req
        .send(&body[..])
        .map_err(|e| format!("POST {}: {e}", redact(&url)))?;
    let status = resp.status().as_u16();
    let text = resp
        .body_mut()
        .with_config()
        .limit(MAX_ANSWER)
        .read_to_string()
        .unwrap_or_default();
    if !(200..300).contains(&status) {
        return Err(format!(
            "POST {}: HTTP {status}: {}",
            redact(&url),
            text.chars().take(200).collect::<String>()
        ));
    }
    // The robots answer 200 with an error code in the body.
    if matches!(kind, ChannelKind::Wecom | ChannelKind::Dingtalk) {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
            match v.get("errcode").and_then(serde_json::Value::as_i64) {
                Some(0) | None => {}
                Some(code) => {
                    return Err(format!(
                        "POST {}: errcode {code}: {}",
                        redact(&url),
                        v.get("errmsg").and_then(|m| m.as_str()).unwrap_or("")
                    ))
                }
            }
        }
    }
    Ok(())
}

/// A URL without its query (robot keys and signatures live there).
fn redact(url: &str) -> String {
    match url.split_once('?') {
        Some((base, _)) => format!("{base}?…"),
        None => url.to_string(),
    }
}

fn mail(c: &ChannelSpec, address: &str, n: &Notice<'_>, timeout: Duration) -> Result<(), String> {
    let smtp = c
        .smtp
        .as_ref()
        .ok_or("the e-mail channel has no smtp server")?;
    let from: Mailbox = smtp
        .from
        .parse()
        .map_err(|e| format!("from {:?}: {e}", smtp.from))?;
    let to: Mailbox = address
        .parse()
        .map_err(|e| format!("to {address:?}: {e}"))?;
    let (subject, body) = n.mail();
    let email = Message::builder()
        .from(from)
        .to(to)
        .subject(subject)
        .header(ContentType::TEXT_PLAIN)
        .body(body)
        .map_err(|e| format!("building the e-mail: {e}"))?;
    let mut transport = SmtpTransport::builder_dangerous(smtp.host.as_str())
        .port(smtp.port)
        .timeout(Some(timeout));
    if let (Some(u), Some(p)) = (&smtp.username, &smtp.password) {
        transport = transport.credentials(Credentials::new(u.clone(), p.clone()));
    }
    transport
        .build()
        .send(&email)
        .map(|_| ())
        .map_err(|e| format!("SMTP {}:{}: {e}", smtp.host, smtp.port))
}
