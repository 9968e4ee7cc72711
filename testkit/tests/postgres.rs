//! A throwaway PostgreSQL server: starts, answers psql over TCP on its own
//! port, is independent of a second one, and is gone (process, port, dir)
//! once dropped.

use std::net::{Ipv4Addr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

fn pid_alive(pid: u32) -> bool {
    // A zombie still has a /proc entry; look at its state.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit_once(") ")
                .map(|(_, rest)| !rest.starts_with('Z'))
                .unwrap_or(true)
        })
        .unwrap_or(false)
}

fn port_open(port: u16) -> bool {
    TcpStream::connect_timeout(
        &(Ipv4Addr::LOCALHOST, port).into(),
        Duration::from_millis(500),
    )
    .is_ok()
}

#[test]
fn postgres_starts_answers_and_is_gone_after_drop() {
    let Some(bin) = testkit::require_postgres() else {
        return;
    };
    assert!(
        !bin.version().is_empty()
            && bin
                .version()
                .chars()
                .all(|c| c.is_ascii_digit() || c == '.'),
        "version {:?}",
        bin.version()
    );
    let a = bin.start().expect("start postgres");
    let b = bin.start().expect("start a second postgres");
    assert_ne!(a.port(), b.port());
    assert_eq!(
        a.url(),
        format!("postgres://rdbscope@127.0.0.1:{}/rdbscope", a.port())
    );

    assert_eq!(a.psql("select 1").unwrap(), "1");
    assert_eq!(a.psql("select current_user").unwrap(), "rdbscope");
    assert_eq!(a.psql("select current_database()").unwrap(), "rdbscope");
    assert_eq!(a.psql("show fsync").unwrap(), "off");
    let server_version = a.psql("show server_version").unwrap();
    assert!(
        server_version.starts_with(bin.version()),
        "{server_version} vs {}",
        bin.version()
    );
    // Listening on 127.0.0.1 at the port we were told, as the postmaster we hold.
    assert_eq!(
        a.psql("select inet_server_addr()::text || ' ' || inet_server_port()")
            .unwrap(),
        format!("127.0.0.1/32 {}", a.port())
    );
    // The server answering there serves our data directory, and that
    // directory's lock file names the postmaster we hold. (Not the parent
    // of `pg_backend_pid()`: that backend exits with psql, so its /proc
    // entry may be gone before it is read.)
    let served = a.psql("show data_directory").unwrap();
    assert_eq!(
        Path::new(&served).canonicalize().unwrap(),
        a.data_dir().canonicalize().unwrap()
    );
    let lock = std::fs::read_to_string(a.data_dir().join("postmaster.pid")).unwrap();
    assert_eq!(
        lock.lines()
            .next()
            .and_then(|l| l.trim().parse::<u32>().ok()),
        Some(a.pid()),
        "the data directory's postmaster is not the one we hold"
    );

    // Two servers, two clusters: a table in one is not in the other.
    a.psql("create table t (x int); insert into t values (7)")
        .unwrap();
    assert_eq!(a.psql("select x from t").unwrap(), "7");
    let err = b.psql("select x from t").unwrap_err().to_string();
    assert!(err.contains("does not exist"), "{err}");
    // SQL errors come back as errors.
    assert!(a.psql("select nonsense(").is_err());

    let (pid, port, dir) = (a.pid(), a.port(), a.dir().to_path_buf());
    assert!(pid_alive(pid));
    assert!(port_open(port));
    assert!(a.data_dir().join("PG_VERSION").is_file());
    drop(a);
    let deadline = Instant::now() + Duration::from_secs(5);
    while pid_alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!pid_alive(pid), "postmaster {pid} still running after drop");
    assert!(!port_open(port), "port {port} still open after drop");
    if std::env::var_os("RDBSCOPE_KEEP_TMP").is_none() {
        assert!(!Path::new(&dir).exists(), "{} not removed", dir.display());
    }
    // The other one is unaffected.
    assert_eq!(b.psql("select 2").unwrap(), "2");
}
