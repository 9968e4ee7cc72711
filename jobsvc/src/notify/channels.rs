//! The channels in force: the config file's (`[[notify.channels]]`) and
//! those admins added through the API, by name.

use super::channel::ChannelSpec;
use crate::error::Result;
use crate::state::ServiceState;

/// Where a channel was defined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The config file (changed by editing it and restarting).
    Config,
    /// The API (changed through it).
    Api,
}

impl Source {
    /// Its name in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Config => "config",
            Source::Api => "api",
        }
    }
}

/// Every channel, the config file's first. An API channel whose stored
/// spec no longer parses is left out (and named in the service log).
pub async fn all(state: &ServiceState) -> Result<Vec<(ChannelSpec, Source)>> {
    let mut out: Vec<(ChannelSpec, Source)> = state
        .config
        .notify
        .channels
        .iter()
        .map(|c| (c.clone(), Source::Config))
        .collect();
    for stored in state.store.stored_channels().await? {
        if out.iter().any(|(c, _)| c.name == stored.name) {
            continue;
        }
        match serde_json::from_str::<ChannelSpec>(&stored.spec) {
            Ok(mut spec) => {
                spec.name = stored.name;
                out.push((spec, Source::Api));
            }
            Err(e) => crate::state::log(&format!(
                "notify channel {}: stored spec unreadable: {e}",
                stored.name
            )),
        }
    }
    Ok(out)
}

/// One channel by name.
pub async fn find(state: &ServiceState, name: &str) -> Result<Option<(ChannelSpec, Source)>> {
    Ok(all(state).await?.into_iter().find(|(c, _)| c.name == name))
}
