//! `rdbscope notify ...`: notification channels, subscriptions and the
//! outbox of the job service.

use anyhow::Result;
use serde_json::{json, Value};

use super::client::{as_list, encode, field, print_table, Client};
use crate::args::NotifyArgs;
use crate::notify_args::{ChannelKindArg, DeliveryState, NotifyCommand};

fn kind_name(k: ChannelKindArg) -> &'static str {
    match k {
        ChannelKindArg::Webhook => "webhook",
        ChannelKindArg::Wecom => "wecom",
        ChannelKindArg::Dingtalk => "dingtalk",
        ChannelKindArg::Slack => "slack",
        ChannelKindArg::Email => "email",
    }
}

/// The `events` of a channel or a subscription, comma-separated.
fn events(v: &Value) -> String {
    v["events"]
        .as_array()
        .map(|e| {
            e.iter()
                .map(|x| x.as_str().unwrap_or(""))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

fn channel_rows(v: &Value) -> Result<Vec<Vec<String>>> {
    Ok(as_list(v, "GET /notify/channels")?
        .iter()
        .map(|c| {
            let h = &c["health"];
            let target = match (c.get("url").and_then(Value::as_str), c["smtp"].get("host")) {
                (Some(u), _) => u.to_string(),
                (None, Some(h)) => {
                    format!("smtp {}:{}", h.as_str().unwrap_or(""), c["smtp"]["port"])
                }
                _ => String::new(),
            };
            vec![
                field(c, "name"),
                field(c, "kind"),
                field(c, "source"),
                target,
                events(c),
                field(h, "state"),
                field(h, "sent"),
                field(h, "failures_in_row"),
                field(h, "last_error"),
            ]
        })
        .collect())
}

pub(crate) fn run(a: NotifyArgs) -> Result<()> {
    let c = Client::new(&a.client)?;
    match a.command {
        NotifyCommand::Channels => {
            let v = c.get("/notify/channels")?;
            if !c.print_json(&v)? {
                print_table(
                    &[
                        "name",
                        "kind",
                        "source",
                        "target",
                        "events",
                        "health",
                        "sent",
                        "failing",
                        "last error",
                    ],
                    &channel_rows(&v)?,
                )?;
            }
        }
        NotifyCommand::ChannelSet(s) => {
            let mut body = json!({ "kind": kind_name(s.kind), "events": s.events });
            if let Some(u) = s.url {
                body["url"] = json!(u);
            }
            if let Some(k) = s.secret {
                body["secret"] = json!(k);
            }
            if let Some(host) = s.smtp_host {
                let mut smtp = json!({
                    "host": host,
                    "port": s.smtp_port,
                    "from": s.from.unwrap_or_default(),
                    "to": s.to,
                });
                if let Some(u) = s.smtp_user {
                    smtp["username"] = json!(u);
                }
                if let Some(p) = s.smtp_password {
                    smtp["password"] = json!(p);
                }
                body["smtp"] = smtp;
            }
            let path = format!("/notify/channels/{}", encode(&s.name, false));
            let v = c.call("PUT", &path, Some(&body))?.1;
            if !c.print_json(&v)? {
                eprintln!(
                    "channel {} ({}) stored",
                    field(&v, "name"),
                    field(&v, "kind")
                );
            }
        }
        NotifyCommand::ChannelRm(n) => {
            c.call(
                "DELETE",
                &format!("/notify/channels/{}", encode(&n.name, false)),
                None,
            )?;
            eprintln!("channel {} removed", n.name);
        }
        NotifyCommand::Subs(s) => {
            let v = c.get(if s.all {
                "/notify/subscriptions?all=true"
            } else {
                "/notify/subscriptions"
            })?;
            if !c.print_json(&v)? {
                let rows: Vec<Vec<String>> = as_list(&v, "GET /notify/subscriptions")?
                    .iter()
                    .map(|s| {
                        vec![
                            field(s, "id"),
                            format!("{} {}", field(s, "subscriber_kind"), field(s, "subscriber")),
                            events(s),
                            field(s, "channel"),
                            field(s, "address"),
                            if s["all_tickets"] == json!(true) {
                                "every ticket".into()
                            } else {
                                "own".into()
                            },
                        ]
                    })
                    .collect();
                print_table(
                    &[
                        "id",
                        "subscriber",
                        "events",
                        "channel",
                        "address",
                        "tickets",
                    ],
                    &rows,
                )?;
            }
        }
        NotifyCommand::Subscribe(s) => {
            let mut body =
                json!({ "events": s.events, "channel": s.channel, "all_tickets": s.all_tickets });
            for (k, v) in [("address", s.address), ("user", s.user), ("team", s.team)] {
                if let Some(v) = v {
                    body[k] = json!(v);
                }
            }
            let v = c.post("/notify/subscriptions", Some(&body))?;
            if !c.print_json(&v)? {
                eprintln!(
                    "subscription {} added: {} {} on channel {}",
                    field(&v, "id"),
                    field(&v, "subscriber_kind"),
                    field(&v, "subscriber"),
                    field(&v, "channel")
                );
            }
        }
        NotifyCommand::Unsubscribe(s) => {
            c.call("DELETE", &format!("/notify/subscriptions/{}", s.id), None)?;
            eprintln!("subscription {} removed", s.id);
        }
        NotifyCommand::Deliveries(d) => {
            let mut q = vec![format!("limit={}", d.limit)];
            if let Some(s) = d.state {
                q.push(format!(
                    "state={}",
                    match s {
                        DeliveryState::Pending => "pending",
                        DeliveryState::Sent => "sent",
                        DeliveryState::Dead => "dead",
                    }
                ));
            }
            if let Some(ch) = d.channel {
                q.push(format!("channel={}", encode(&ch, false)));
            }
            if let Some(t) = d.ticket {
                q.push(format!("ticket={t}"));
            }
            let v = c.get(&format!("/notify/deliveries?{}", q.join("&")))?;
            if !c.print_json(&v)? {
                let rows: Vec<Vec<String>> = as_list(&v, "GET /notify/deliveries")?
                    .iter()
                    .map(|d| {
                        vec![
                            field(d, "id"),
                            field(d, "ticket"),
                            field(d, "event"),
                            field(d, "channel"),
                            field(d, "address"),
                            field(d, "state"),
                            field(d, "attempts"),
                            field(d, "next_at"),
                            field(d, "last_error"),
                        ]
                    })
                    .collect();
                print_table(
                    &[
                        "id",
                        "ticket",
                        "event",
                        "channel",
                        "address",
                        "state",
                        "attempts",
                        "next try",
                        "last error",
                    ],
                    &rows,
                )?;
            }
        }
    }
    Ok(())
}
