//! Teams (a lead and members) and who owns an app (its team, tags and
//! extra approvers).

use sqlx::Row;

use super::handle::{now_ms, Store};
use crate::error::{Error, Result};

/// A team as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Team {
    /// Unique name.
    pub name: String,
    /// Its lead (a user), who approves for the team.
    pub lead: Option<String>,
    /// Its members (users), sorted.
    pub members: Vec<String>,
    /// When created (ms).
    pub created_at: i64,
}

/// Who owns an app.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ownership {
    /// The owning team (none: only admins and, as before teams existed,
    /// every submitter may file tickets for it).
    pub team: Option<String>,
    /// Tags such as `production`, which approval policies match.
    pub tags: Vec<String>,
    /// Users who may fill `app_approver` approvals.
    pub approvers: Vec<String>,
}

fn list(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

impl Store {
    /// Creates a team; a taken name is a conflict.
    pub async fn create_team(
        &self,
        name: &str,
        lead: Option<&str>,
        members: &[String],
    ) -> Result<Team> {
        let mut tx = self.pool.begin().await?;
        let res = sqlx::query("INSERT INTO teams (name, lead, created_at) VALUES ($1, $2, $3)")
            .bind(name)
            .bind(lead.map(str::to_string))
            .bind(now_ms())
            .execute(&mut *tx)
            .await;
        match res {
            Ok(_) => {}
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Err(Error::conflict(format!("team {name:?} already exists")))
            }
            Err(e) => return Err(e.into()),
        }
        for m in members.iter().chain(lead.map(str::to_string).as_ref()) {
            sqlx::query(
                "INSERT INTO team_members (team, member) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(name)
            .bind(m)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        self.team(name)
            .await?
            .ok_or_else(|| Error::internal("team vanished"))
    }

    /// One team with its members.
    pub async fn team(&self, name: &str) -> Result<Option<Team>> {
        let Some(r) = sqlx::query("SELECT name, lead, created_at FROM teams WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.read)
            .await?
        else {
            return Ok(None);
        };
        let members =
            sqlx::query("SELECT member FROM team_members WHERE team = $1 ORDER BY member")
                .bind(name)
                .fetch_all(&self.read)
                .await?
                .iter()
                .map(|m| m.try_get::<String, _>("member"))
                .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(Some(Team {
            name: r.try_get("name")?,
            lead: r.try_get("lead")?,
            members,
            created_at: r.try_get("created_at")?,
        }))
    }

    /// Every team, by name.
    pub async fn list_teams(&self) -> Result<Vec<Team>> {
        let names: Vec<String> = sqlx::query("SELECT name FROM teams ORDER BY name")
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(|r| r.try_get("name"))
            .collect::<std::result::Result<_, _>>()?;
        let mut out = Vec::new();
        for n in names {
            out.extend(self.team(&n).await?);
        }
        Ok(out)
    }

    /// Sets (or clears) a team's lead; the lead becomes a member.
    pub async fn set_team_lead(&self, name: &str, lead: Option<&str>) -> Result<Team> {
        let r = sqlx::query("UPDATE teams SET lead = $1 WHERE name = $2")
            .bind(lead.map(str::to_string))
            .bind(name)
            .execute(&self.pool)
            .await?;
        if r.rows_affected() == 0 {
            return Err(Error::not_found(format!("no team {name:?}")));
        }
        if let Some(l) = lead {
            self.add_member(name, l).await?;
        }
        self.team(name)
            .await?
            .ok_or_else(|| Error::not_found(format!("no team {name:?}")))
    }

    /// Adds a member (already one: nothing changes).
    pub async fn add_member(&self, team: &str, member: &str) -> Result<()> {
        if self.team(team).await?.is_none() {
            return Err(Error::not_found(format!("no team {team:?}")));
        }
        sqlx::query(
            "INSERT INTO team_members (team, member) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(team)
        .bind(member)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Removes a member; false when they were not one.
    pub async fn remove_member(&self, team: &str, member: &str) -> Result<bool> {
        let r = sqlx::query("DELETE FROM team_members WHERE team = $1 AND member = $2")
            .bind(team)
            .bind(member)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Deletes a team: its apps have no owning team afterwards.
    pub async fn delete_team(&self, name: &str) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM team_members WHERE team = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE apps SET team = NULL WHERE team = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        let r = sqlx::query("DELETE FROM teams WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(r.rows_affected() == 1)
    }

    /// The teams a user belongs to, by name.
    pub async fn teams_of(&self, member: &str) -> Result<Vec<String>> {
        sqlx::query("SELECT team FROM team_members WHERE member = $1 ORDER BY team")
            .bind(member)
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(|r| Ok(r.try_get("team")?))
            .collect()
    }

    /// Who owns an app (none: no such app).
    pub async fn ownership(&self, app: &str) -> Result<Option<Ownership>> {
        let r = sqlx::query("SELECT team, tags, approvers FROM apps WHERE name = $1")
            .bind(app)
            .fetch_optional(&self.read)
            .await?;
        r.map(|r| {
            Ok(Ownership {
                team: r.try_get("team")?,
                tags: list(&r.try_get::<String, _>("tags")?),
                approvers: list(&r.try_get::<String, _>("approvers")?),
            })
        })
        .transpose()
    }

    /// Replaces who owns an app.
    pub async fn set_ownership(&self, app: &str, o: &Ownership) -> Result<()> {
        let r = sqlx::query("UPDATE apps SET team = $1, tags = $2, approvers = $3 WHERE name = $4")
            .bind(o.team.clone())
            .bind(serde_json::to_string(&o.tags).unwrap_or_else(|_| "[]".into()))
            .bind(serde_json::to_string(&o.approvers).unwrap_or_else(|_| "[]".into()))
            .bind(app)
            .execute(&self.pool)
            .await?;
        if r.rows_affected() == 0 {
            return Err(Error::not_found(format!("no app {app:?}")));
        }
        Ok(())
    }
}
