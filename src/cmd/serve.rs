//! `rdbscope serve`: the job service (HTTP API and scheduler), or, with
//! `--init-admin`, the first admin's token.

use std::io::Write;

use anyhow::{Context, Result};

use crate::args::ServeArgs;

/// The configuration: the file's (or the defaults), then the flags.
fn config(a: &ServeArgs) -> Result<jobsvc::Config> {
    let mut config = match &a.config {
        Some(path) => jobsvc::Config::from_file(path)?,
        None => jobsvc::Config::default(),
    };
    if let Some(listen) = a.listen {
        config.listen = listen;
    }
    if let Some(dir) = &a.data_dir {
        config.data_dir = dir.clone();
    }
    if let Some(store) = &a.store {
        config.store = Some(store.clone());
    }
    Ok(config)
}

pub(crate) fn run(a: ServeArgs) -> Result<()> {
    let config = config(&a)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("rdbscope-serve")
        .build()
        .context("cannot start the async runtime")?;
    if let Some(name) = &a.init_admin {
        let token = runtime
            .block_on(jobsvc::init_admin(&config, name))
            .with_context(|| format!("cannot create admin {name:?} in {}", config.store_url()))?;
        eprintln!("admin {name:?} created; its token is shown this once:");
        writeln!(std::io::stdout(), "{token}")?;
        eprintln!("hint: export RDBSCOPE_TOKEN={token}");
        return Ok(());
    }
    runtime.block_on(jobsvc::serve(config))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn flags_override_the_file() {
        let dir = testkit::temp_dir("serve-config");
        let file = dir.join("c.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9000\"\ndata_dir = \"/from/file\"\nworkers = 7\n",
        )
        .unwrap();
        let mut a = ServeArgs {
            config: Some(file.clone()),
            listen: None,
            data_dir: None,
            store: None,
            init_admin: None,
        };
        let c = config(&a).unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.data_dir, PathBuf::from("/from/file"));
        assert_eq!(c.workers, 7);
        a.listen = Some("127.0.0.1:9001".parse().unwrap());
        a.data_dir = Some("/from/flag".into());
        a.store = Some("sqlite:///x.db".into());
        let c = config(&a).unwrap();
        assert_eq!(c.listen.port(), 9001);
        assert_eq!(c.data_dir, PathBuf::from("/from/flag"));
        assert_eq!(c.store_url(), "sqlite:///x.db");
        assert_eq!(c.workers, 7, "what no flag overrides stays from the file");
        // Without a file: the defaults, with the flags.
        a.config = None;
        let c = config(&a).unwrap();
        assert_eq!(c.workers, jobsvc::Config::default().workers);
        std::fs::write(&file, "colour = \"red\"\n").unwrap();
        a.config = Some(file);
        assert!(config(&a).is_err(), "unknown keys are refused");
    }
}
