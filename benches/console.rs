//! The web console's first page load against a store of 10,000 tickets
//! (criterion): what the server answers for the tickets page (the page, its
//! CSS and modules, the caller, the summary and the first page of the
//! list), and a filtered page deep in the list.
//!
//!     cargo bench --bench console
//!
//! The store is filled directly (10,000 tickets of four users and two apps)
//! before `rdbscope serve` starts on it; the requests go over one
//! keep-alive connection, one after the other (a browser loads the modules
//! in parallel, so a real load takes less).

use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion};
use jobsvc::store::{NewTicket, Store};
use testkit::{ServeSetup, Served};

const TICKETS: usize = 10_000;

fn serve_with_tickets() -> Served {
    let setup = ServeSetup::new(
        env!("CARGO_BIN_EXE_rdbscope"),
        "console-bench",
        None,
        |_| String::new(),
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    rt.block_on(async {
        let s = Store::open(&setup.store).await.unwrap();
        for i in 0..TICKETS {
            let app = if i % 3 == 0 { "shelf" } else { "shop" };
            let kind = ["analysis", "cleanup", "hotkeys", "migration"][i % 4];
            let params = format!("{{\"app\":\"{app}\",\"n\":{i}}}");
            s.insert_ticket(&NewTicket {
                kind: kind.into(),
                submitter: ["alice", "bob", "carol", "dave"][i % 4].into(),
                params,
                params_hash: format!("sha256:{i:064x}"),
                idempotency_key: None,
                plan: Some(r#"{"keys":1000,"memory_bytes":123456,"eta_secs":3}"#.into()),
            })
            .await
            .unwrap();
        }
    });
    eprintln!("{TICKETS} tickets stored in {:?}", started.elapsed());
    setup.start()
}

fn get(agent: &ureq::Agent, url: &str, token: Option<&str>) -> usize {
    let mut req = agent.get(url);
    if let Some(t) = token {
        req = req.header("Authorization", &format!("Bearer {t}"));
    }
    let mut resp = req.call().unwrap_or_else(|e| panic!("{url}: {e}"));
    resp.body_mut().read_to_vec().unwrap().len()
}

fn console(c: &mut Criterion) {
    let s = serve_with_tickets();
    let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
    let base = format!("http://127.0.0.1:{}", s.port);
    let files: Vec<String> = jobsvc::console::ASSETS
        .iter()
        .filter(|a| a.path != "index.html")
        .map(|a| format!("{base}/console/{}", a.path))
        .collect();
    let mut g = c.benchmark_group("console");
    g.sample_size(30);
    g.bench_function("first_page_load_10k_tickets", |b| {
        b.iter(|| {
            let mut n = get(&agent, &format!("{base}/"), None);
            for f in &files {
                n += get(&agent, f, None);
            }
            n += get(&agent, &format!("{base}/me"), Some(&s.admin));
            n += get(&agent, &format!("{base}/tickets/summary"), Some(&s.admin));
            n += get(
                &agent,
                &format!("{base}/tickets?limit=20&offset=0"),
                Some(&s.admin),
            );
            n
        })
    });
    g.bench_function("filtered_page_deep_in_10k_tickets", |b| {
        b.iter(|| {
            get(
                &agent,
                &format!("{base}/tickets?type=analysis&app=shop&limit=20&offset=1000"),
                Some(&s.admin),
            )
        })
    });
    g.finish();
}

criterion_group!(benches, console);
criterion_main!(benches);
