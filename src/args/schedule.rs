//! Arguments of `rdbscope schedule …`, `ticket run-at` and `ticket stats`.

pub(crate) const SCHEDULE_EXAMPLES: &str = "\
Examples:
  # Analyze the app `shop` every day at 03:00 UTC, keeping the last 14 reports:
  rdbscope schedule add shop-nightly --app shop --cron '0 3 * * *' --keep 14
  rdbscope schedule add shop-hourly --app shop --cron '0 * * * *' --params '{\"separators\":\":\"}'
  rdbscope schedule list
  rdbscope schedule show shop-nightly      # settings, next run, the newest runs
  rdbscope schedule set shop-nightly --cron '30 2 * * *' --keep 7
  rdbscope schedule set shop-nightly --disable
  rdbscope schedule rm shop-nightly        # its tickets and kept reports stay";

#[derive(clap::Subcommand, Debug)]
pub(crate) enum ScheduleCommand {
    /// Define a recurring analysis of an app (admin).
    Add(ScheduleAddArgs),
    /// List the schedules: cron, next run, last firing.
    List,
    /// One schedule and its newest runs.
    Show(ScheduleName),
    /// Change a schedule (admin): only the flags given change.
    Set(ScheduleSetArgs),
    /// Delete a schedule (admin); its tickets and kept reports stay.
    #[command(alias = "remove")]
    Rm(ScheduleName),
}

#[derive(clap::Args, Debug)]
pub(crate) struct ScheduleAddArgs {
    /// The schedule's name.
    pub(crate) name: String,
    /// The app to analyze.
    #[arg(long, value_name = "NAME")]
    pub(crate) app: String,
    /// When, in UTC: 5 fields (minute hour day month weekday, e.g. '0 3 * * *'
    /// daily at 03:00) or 6 with seconds first.
    #[arg(long, value_name = "EXPR")]
    pub(crate) cron: String,
    /// Reports kept; older runs' reports are deleted.
    #[arg(long, value_name = "N", default_value_t = 7)]
    pub(crate) keep: i64,
    /// Analysis parameters as a JSON object (separators, prefix_depth, top,
    /// keys_table, loaded).
    #[arg(long, value_name = "JSON")]
    pub(crate) params: Option<String>,
    /// Define it without firing (enable it later with `schedule set --enable`).
    #[arg(long)]
    pub(crate) disabled: bool,
}

#[derive(clap::Args, Debug)]
pub(crate) struct ScheduleSetArgs {
    /// The schedule's name.
    pub(crate) name: String,
    /// A new cron expression (counted from now).
    #[arg(long, value_name = "EXPR")]
    pub(crate) cron: Option<String>,
    /// Reports kept.
    #[arg(long, value_name = "N")]
    pub(crate) keep: Option<i64>,
    /// New analysis parameters (JSON object), replacing the old ones.
    #[arg(long, value_name = "JSON")]
    pub(crate) params: Option<String>,
    /// Resume firing (counted from now; nothing missed is run).
    #[arg(long, conflicts_with = "disable")]
    pub(crate) enable: bool,
    /// Stop firing.
    #[arg(long)]
    pub(crate) disable: bool,
}

#[derive(clap::Args, Debug)]
pub(crate) struct ScheduleName {
    /// The schedule's name.
    pub(crate) name: String,
}

#[derive(clap::Args, Debug)]
pub(crate) struct TicketRunAtArgs {
    /// The ticket's id.
    pub(crate) id: u64,
    /// Not before this time: RFC 3339, e.g. 2026-11-23T03:00:00Z.
    #[arg(value_name = "TIME")]
    pub(crate) time: String,
}

#[derive(clap::Args, Debug)]
pub(crate) struct StatsArgs {
    /// Tickets filed at or after: YYYY-MM-DD (UTC) or RFC 3339 [default: 30
    /// days before --to].
    #[arg(long, value_name = "WHEN")]
    pub(crate) from: Option<String>,
    /// Tickets filed before: YYYY-MM-DD (the whole day) or RFC 3339
    /// [default: now].
    #[arg(long, value_name = "WHEN")]
    pub(crate) to: Option<String>,
    /// Only tickets naming this app.
    #[arg(long, value_name = "NAME")]
    pub(crate) app: Option<String>,
    /// Only tickets naming an app this team owns.
    #[arg(long, value_name = "NAME")]
    pub(crate) team: Option<String>,
}
