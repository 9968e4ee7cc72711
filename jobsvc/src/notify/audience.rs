//! Who is told of an event, and through which channels: the event's own
//! users (or else the ticket's submitter), matched against channels' own
//! event lists and users' and teams' subscriptions.

use std::collections::BTreeSet;

use super::channel::{ChannelKind, ChannelSpec};
use super::event::takes;
use crate::error::Result;
use crate::state::ServiceState;
use crate::store::{EventRow, SubscriptionRow};

/// The members of team `team`, its lead among them (none for a team that
/// does not exist).
pub async fn team_members(state: &ServiceState, team: &str) -> Result<Vec<String>> {
    let Some(t) = state.store.team(team).await? else {
        return Ok(Vec::new());
    };
    let mut users = t.members;
    users.extend(t.lead);
    users.sort();
    users.dedup();
    Ok(users)
}

/// A subscription with the users it stands for.
#[derive(Clone, Debug)]
pub struct Subscriber {
    /// The subscription.
    pub sub: SubscriptionRow,
    /// The user, or the team's members.
    pub users: Vec<String>,
}

/// The deliveries (channel, address) of event `e` of a ticket filed by
/// `submitter`, one per channel and address.
pub fn route(
    e: &EventRow,
    submitter: &str,
    channels: &[ChannelSpec],
    subscribers: &[Subscriber],
) -> Vec<(String, String)> {
    let audience: Vec<&str> = match &e.users {
        Some(users) => users.iter().map(String::as_str).collect(),
        None => vec![submitter],
    };
    let mut out = BTreeSet::new();
    for c in channels.iter().filter(|c| takes(&c.events, &e.kind)) {
        match (c.kind, &c.smtp) {
            (ChannelKind::Email, Some(smtp)) => {
                for to in &smtp.to {
                    out.insert((c.name.clone(), to.clone()));
                }
            }
            (ChannelKind::Email, None) => {}
            _ => {
                out.insert((c.name.clone(), String::new()));
            }
        }
    }
    for s in subscribers {
        if !takes(&s.sub.events, &e.kind) {
            continue;
        }
        let Some(c) = channels.iter().find(|c| c.name == s.sub.channel) else {
            continue;
        };
        let concerned = s.sub.all_tickets || s.users.iter().any(|u| audience.contains(&u.as_str()));
        if !concerned {
            continue;
        }
        let address = match c.kind {
            ChannelKind::Email if s.sub.address.is_empty() => continue,
            ChannelKind::Email => s.sub.address.clone(),
            _ => String::new(),
        };
        out.insert((c.name.clone(), address));
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::channel::SmtpSpec;

    fn event(kind: &str, users: Option<Vec<String>>) -> EventRow {
        EventRow {
            id: 1,
            ticket_id: 7,
            kind: kind.into(),
            at: 0,
            actor: "bob".into(),
            note: None,
            state: "approved".into(),
            users,
        }
    }

    fn sub(
        kind: &str,
        who: &str,
        events: &[&str],
        channel: &str,
        address: &str,
        all: bool,
    ) -> SubscriptionRow {
        SubscriptionRow {
            id: 1,
            subscriber_kind: kind.into(),
            subscriber: who.into(),
            events: events.iter().map(|s| s.to_string()).collect(),
            channel: channel.into(),
            address: address.into(),
            all_tickets: all,
            created_by: who.into(),
            created_at: 0,
        }
    }

    #[test]
    fn events_reach_the_concerned_subscribers_once_per_channel_and_address() {
        let hook = ChannelSpec {
            name: "ops".into(),
            kind: ChannelKind::Webhook,
            url: Some("http://h/".into()),
            secret: None,
            events: vec!["failed".into()],
            smtp: None,
        };
        let mail = ChannelSpec {
            name: "mail".into(),
            kind: ChannelKind::Email,
            url: None,
            secret: None,
            events: vec![],
            smtp: Some(SmtpSpec {
                host: "h".into(),
                port: 25,
                from: "a@b".into(),
                to: vec![],
                username: None,
                password: None,
            }),
        };
        let channels = [hook, mail];
        let subs = [
            Subscriber {
                sub: sub("user", "alice", &["*"], "mail", "alice@x", false),
                users: vec!["alice".into()],
            },
            Subscriber {
                sub: sub("user", "carol", &["approved"], "mail", "carol@x", false),
                users: vec!["carol".into()],
            },
            Subscriber {
                sub: sub("user", "root", &["approved"], "ops", "", true),
                users: vec!["root".into()],
            },
            Subscriber {
                sub: sub("user", "bob", &["needs_approval"], "mail", "bob@x", false),
                users: vec!["bob".into()],
            },
        ];
        let d = route(&event("approved", None), "alice", &channels, &subs);
        assert_eq!(
            d,
            [
                ("mail".to_string(), "alice@x".to_string()),
                ("ops".into(), String::new())
            ]
        );
        let d = route(&event("failed", None), "alice", &channels, &subs);
        assert_eq!(
            d,
            [
                ("mail".to_string(), "alice@x".to_string()),
                ("ops".into(), String::new())
            ]
        );
        let d = route(
            &event("needs_approval", Some(vec!["bob".into()])),
            "alice",
            &channels,
            &subs,
        );
        assert_eq!(d, [("mail".to_string(), "bob@x".to_string())]);
        let d = route(&event("started", None), "dave", &channels, &subs);
        assert!(d.is_empty());
    }
}
