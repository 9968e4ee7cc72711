//! The store tests' two real stores: a new SQLite file and a new PostgreSQL
//! server, each driven by a small multi-threaded runtime.

use std::future::Future;

use crate::store::Store;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Runs `f` on a store in a new SQLite file (its folder named after
/// `name`), and closes the store after.
pub(super) fn on_sqlite<F, Fut>(name: &str, f: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = testkit::temp_dir(name);
    let url = format!("sqlite://{}", dir.join("jobs.db").display());
    runtime().block_on(async {
        let store = Store::open(&url).await.unwrap();
        f(store.clone()).await;
        store.close().await;
    });
}

/// Runs `f` on a store in a new PostgreSQL server, and closes the store
/// after; without PostgreSQL, skips loudly (fails when `CI` is set, as
/// [`testkit::require_postgres`] does).
pub(super) fn on_postgres<F, Fut>(f: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some(pg) = testkit::require_postgres() else {
        return;
    };
    let pg = pg.start().expect("start postgres");
    runtime().block_on(async {
        let store = Store::open(&pg.url()).await.unwrap();
        f(store.clone()).await;
        store.close().await;
    });
}
