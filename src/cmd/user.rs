//! `rdbscope user ...`: the job service's users and their tokens.

use std::io::Write;

use anyhow::{anyhow, Result};
use serde_json::json;

use super::client::{as_list, field, print_block, print_table, Client};
use crate::args::{UserArgs, UserCommand, UserRole};

pub(crate) fn run(a: UserArgs) -> Result<()> {
    let c = Client::new(&a.client)?;
    match a.command {
        UserCommand::Add(u) => {
            let role = match u.role {
                UserRole::Submitter => "submitter",
                UserRole::Admin => "admin",
            };
            let v = c.post("/users", Some(&json!({ "name": u.name, "role": role })))?;
            if c.print_json(&v)? {
                return Ok(());
            }
            let token = v.get("token").and_then(|t| t.as_str()).ok_or_else(|| {
                anyhow!("the service created the user but returned no token: {v}")
            })?;
            eprintln!(
                "user {} ({}) created; its token is shown this once:",
                field(&v, "name"),
                field(&v, "role")
            );
            writeln!(std::io::stdout(), "{token}")?;
            eprintln!("hint: export RDBSCOPE_TOKEN={token}");
            Ok(())
        }
        UserCommand::List => {
            let v = c.get("/users")?;
            if !c.print_json(&v)? {
                let rows: Vec<Vec<String>> = as_list(&v, "GET /users")?
                    .iter()
                    .map(|u| vec![field(u, "name"), field(u, "role"), field(u, "created_at")])
                    .collect();
                print_table(&["name", "role", "created"], &rows)?;
            }
            Ok(())
        }
        UserCommand::Me => {
            let v = c.get("/me")?;
            if !c.print_json(&v)? {
                print_block(&[("name", field(&v, "name")), ("role", field(&v, "role"))])?;
            }
            Ok(())
        }
        UserCommand::StandIn(s) => super::team::stand_in(&c, s),
        UserCommand::StandInEnd(n) => super::team::stand_in_end(&c, &n.name),
    }
}
