//! The service process: `serve` runs the HTTP API and the scheduler until
//! SIGINT or SIGTERM; `init_admin` creates an admin and prints its token.

use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::api;
use crate::auth;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::service::scheduler;
use crate::state::{log, open};
use crate::ticket::Role;

/// Creates the first admin (or another one) and returns its token, shown
/// this once.
pub async fn init_admin(config: &Config, name: &str) -> Result<String> {
    auth::check_name("user name", name)?;
    let state = open(config.clone()).await?;
    let token = auth::new_token()?;
    state
        .store
        .create_user(name, Role::Admin, &auth::token_hash(&token))
        .await?;
    Ok(token)
}

/// Runs the API and the scheduler until SIGINT or SIGTERM.
pub async fn serve(config: Config) -> Result<()> {
    let listen = config.listen;
    let state = open(config).await?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| Error::internal(format!("cannot listen on {listen}: {e}")))?;
    log(&format!(
        "listening on http://{} (store: {}, instance {})",
        listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default(),
        state.store.backend().as_str(),
        state.instance
    ));
    if state.store.count_users().await? == 0 {
        log("no users yet: create the first admin with `rdbscope serve --init-admin NAME`");
    }
    let scheduler = tokio::spawn(scheduler(state.clone()));
    let ticker = tokio::spawn(crate::schedule::ticker(state.clone()));
    let sweeper = tokio::spawn(crate::backup::retention::sweep_periodically(
        state.config.clone(),
    ));
    let notifier = tokio::spawn(crate::notify::sender(state.clone()));
    let app = api::router(state.clone());
    let shutdown = {
        let state = state.clone();
        async move {
            shutdown_signal().await;
            log("stopping: running jobs stop at their next batch and resume on restart");
            state.stopping.store(true, Ordering::SeqCst);
            state.wake.notify_waiters();
        }
    };
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| Error::internal(format!("server: {e}")))?;
    state.stopping.store(true, Ordering::SeqCst);
    state.wake.notify_waiters();
    sweeper.abort();
    let _ = tokio::time::timeout(Duration::from_secs(10), scheduler).await;
    let _ = tokio::time::timeout(Duration::from_secs(2), ticker).await;
    let _ = tokio::time::timeout(Duration::from_secs(3), notifier).await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
