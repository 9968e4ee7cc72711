//! Command-line arguments of `rdbscope notify`'s subcommands (no logic;
//! `args.rs` puts them under the client options).
// These doc comments are the commands' --help text, written for a terminal.
#![allow(rustdoc::broken_intra_doc_links, rustdoc::invalid_html_tags)]

use clap::{Subcommand, ValueEnum};

pub(crate) const NOTIFY_EXAMPLES: &str = "\
Examples:
  # An admin adds channels (secrets are kept, never shown again):
  rdbscope notify channel-set ops --kind webhook --url http://hooks.example.com/rdbscope --secret s3cret --events failed,approval_escalation
  rdbscope notify channel-set mail --kind email --smtp-host 127.0.0.1 --smtp-port 25 --from rdbscope@example.com
  rdbscope notify channels                  # each with its health (failing: the last error)
  # Anyone subscribes themselves:
  rdbscope notify subscribe --events approved,rejected,failed --channel mail --address alice@example.com
  rdbscope notify subs
  rdbscope notify unsubscribe 3
  # Admins: every ticket's events, or a team's:
  rdbscope notify subscribe --events '*' --channel ops --all-tickets
  rdbscope notify deliveries --state pending   # the outbox: attempts, next try, last error";

/// Kinds of channel.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ChannelKindArg {
    /// Any HTTP endpoint: JSON payload, HMAC-SHA256 signature header.
    Webhook,
    /// A WeCom group robot.
    Wecom,
    /// A DingTalk robot (--secret signs the URL).
    Dingtalk,
    /// A Slack incoming webhook.
    Slack,
    /// E-mail over SMTP.
    Email,
}

#[derive(Subcommand, Debug)]
pub(crate) enum NotifyCommand {
    /// The channels, with their health.
    Channels,
    /// Add or replace a channel (admin).
    ChannelSet(ChannelSetArgs),
    /// Remove a channel and the subscriptions to it (admin).
    ChannelRm(ChannelName),
    /// Your subscriptions (--all: everyone's, admin).
    Subs(SubsArgs),
    /// Subscribe to events.
    Subscribe(SubscribeArgs),
    /// Remove a subscription.
    Unsubscribe(SubscriptionId),
    /// The outbox: deliveries with their attempts and errors (admin).
    Deliveries(DeliveriesArgs),
}

#[derive(clap::Args, Debug)]
pub(crate) struct ChannelSetArgs {
    /// The channel's name.
    pub(crate) name: String,
    /// What it is.
    #[arg(long, value_enum)]
    pub(crate) kind: ChannelKindArg,
    /// The endpoint (http://…) of a webhook, WeCom, DingTalk or Slack channel.
    #[arg(long, value_name = "URL")]
    pub(crate) url: Option<String>,
    /// A webhook's HMAC key, or a DingTalk robot's signing secret.
    #[arg(
        long,
        value_name = "SECRET",
        env = "RDBSCOPE_NOTIFY_SECRET",
        hide_env_values = true
    )]
    pub(crate) secret: Option<String>,
    /// Events of every ticket sent here without a subscription (comma-separated, `*`: all).
    #[arg(long, value_name = "EVENTS", value_delimiter = ',')]
    pub(crate) events: Vec<String>,
    /// SMTP server of an e-mail channel.
    #[arg(long, value_name = "HOST")]
    pub(crate) smtp_host: Option<String>,
    /// Its port.
    #[arg(long, value_name = "PORT", default_value_t = 25)]
    pub(crate) smtp_port: u16,
    /// The sender's address.
    #[arg(long, value_name = "ADDRESS")]
    pub(crate) from: Option<String>,
    /// Who gets the channel's own --events (comma-separated addresses).
    #[arg(long, value_name = "ADDRESSES", value_delimiter = ',')]
    pub(crate) to: Vec<String>,
    /// SMTP login user.
    #[arg(long, value_name = "USER")]
    pub(crate) smtp_user: Option<String>,
    /// SMTP login password.
    #[arg(
        long,
        value_name = "PASSWORD",
        env = "RDBSCOPE_SMTP_PASSWORD",
        hide_env_values = true
    )]
    pub(crate) smtp_password: Option<String>,
}

#[derive(clap::Args, Debug)]
pub(crate) struct ChannelName {
    /// The channel's name.
    pub(crate) name: String,
}

#[derive(clap::Args, Debug)]
pub(crate) struct SubsArgs {
    /// Everyone's subscriptions (admin).
    #[arg(long)]
    pub(crate) all: bool,
}

#[derive(clap::Args, Debug)]
pub(crate) struct SubscribeArgs {
    /// The events (comma-separated, `*`: all): submitted, needs_approval,
    /// approved, returned, rejected, started, paused, succeeded, failed,
    /// cancelled, approval_reminder, approval_escalation.
    #[arg(long, value_name = "EVENTS", value_delimiter = ',', required = true)]
    pub(crate) events: Vec<String>,
    /// The channel they go to.
    #[arg(long, value_name = "NAME")]
    pub(crate) channel: String,
    /// Your e-mail address (for an e-mail channel).
    #[arg(long, value_name = "ADDRESS")]
    pub(crate) address: Option<String>,
    /// Subscribe this user instead of yourself (admin).
    #[arg(long, value_name = "NAME", conflicts_with = "team")]
    pub(crate) user: Option<String>,
    /// Subscribe a team (admin).
    #[arg(long, value_name = "NAME")]
    pub(crate) team: Option<String>,
    /// Every ticket's events, not only your own (admin).
    #[arg(long)]
    pub(crate) all_tickets: bool,
}

#[derive(clap::Args, Debug)]
pub(crate) struct SubscriptionId {
    /// The subscription's id.
    pub(crate) id: i64,
}

/// States of a delivery.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DeliveryState {
    /// Queued or waiting to retry.
    Pending,
    /// Delivered.
    Sent,
    /// Out of attempts.
    Dead,
}

#[derive(clap::Args, Debug)]
pub(crate) struct DeliveriesArgs {
    /// Only deliveries in this state.
    #[arg(long, value_enum)]
    pub(crate) state: Option<DeliveryState>,
    /// Only this channel's.
    #[arg(long, value_name = "NAME")]
    pub(crate) channel: Option<String>,
    /// Only this ticket's.
    #[arg(long, value_name = "ID")]
    pub(crate) ticket: Option<i64>,
    /// At most this many, newest first.
    #[arg(long, default_value_t = 50)]
    pub(crate) limit: i64,
}
