//! [`Lookup`]: the reads an approval flow makes of who owns what and who
//! decides (apps, their owners and teams, users, stand-ins, the stored
//! policies), from the writer (a [`Store`]'s) or from SQLite's read-only
//! connections (a `ReadView`'s, for the API's requests).

use super::approvals::Delegate;
use super::handle::Store;
use super::rows::{AppRow, User};
use super::teams::{Ownership, Team};
use crate::error::Result;

/// Reads of apps, owners, teams, users, stand-ins and policies.
#[derive(Clone, Copy, Debug)]
pub struct Lookup<'a> {
    pub(super) store: &'a Store,
}

impl Store {
    /// Its lookups, read from the writer.
    pub fn lookup(&self) -> Lookup<'_> {
        Lookup { store: self }
    }
}

impl Lookup<'_> {
    /// One registered app.
    pub async fn get_app(&self, name: &str) -> Result<Option<AppRow>> {
        self.store.get_app(name).await
    }

    /// Who owns an app.
    pub async fn ownership(&self, app: &str) -> Result<Option<Ownership>> {
        self.store.ownership(app).await
    }

    /// One team.
    pub async fn team(&self, name: &str) -> Result<Option<Team>> {
        self.store.team(name).await
    }

    /// The teams a user is in.
    pub async fn teams_of(&self, member: &str) -> Result<Vec<String>> {
        self.store.teams_of(member).await
    }

    /// One user by name.
    pub async fn user(&self, name: &str) -> Result<User> {
        self.store.user(name).await
    }

    /// Every user.
    pub async fn list_users(&self) -> Result<Vec<User>> {
        self.store.list_users().await
    }

    /// Every stand-in.
    pub async fn delegates(&self) -> Result<Vec<Delegate>> {
        self.store.delegates().await
    }

    /// The policies set through the API (text, who, when), if any.
    pub async fn stored_policies(&self) -> Result<Option<(String, String, i64)>> {
        self.store.stored_policies().await
    }
}
