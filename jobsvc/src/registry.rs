//! Apps and their nodes: what tickets act on. An app is registered with one
//! address; its members are discovered from the servers themselves
//! (`INFO replication` for a master and its replicas, `CLUSTER SLOTS` for a
//! cluster) and refreshed on demand and before every job.

use std::time::Duration;

use redis::{ConnectionAddr, IntoConnectionInfo, RedisConnectionInfo};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How an app is deployed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AppKind {
    /// One node.
    Standalone,
    /// A master with replicas.
    Replicated,
    /// A Redis Cluster, given by one seed node.
    Cluster,
}

impl AppKind {
    /// Name in the API and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            AppKind::Standalone => "standalone",
            AppKind::Replicated => "replicated",
            AppKind::Cluster => "cluster",
        }
    }

    /// Parses a name.
    pub fn parse(s: &str) -> Result<AppKind> {
        match s {
            "standalone" => Ok(AppKind::Standalone),
            "replicated" => Ok(AppKind::Replicated),
            "cluster" => Ok(AppKind::Cluster),
            _ => Err(Error::bad_request(format!(
                "unknown app kind {s:?} (expected standalone, replicated or cluster)"
            ))),
        }
    }
}

/// One member of an app.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Node {
    /// `host:port`.
    pub addr: String,
    /// `master` or `replica`.
    pub role: String,
    /// For a replica, its master's address.
    pub master: Option<String>,
    /// For a cluster master, the slot ranges it serves (inclusive).
    pub slots: Option<Vec<[u16; 2]>>,
}

/// How to log in to an app's nodes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Credentials {
    /// ACL user (none: the default user).
    pub user: Option<String>,
    /// Password.
    pub password: Option<String>,
}

/// Splits `host:port`.
pub fn split_addr(addr: &str) -> Result<(String, u16)> {
    let (host, port) = addr
        .rsplit_once(':')
        .ok_or_else(|| Error::bad_request(format!("address {addr:?} is not host:port")))?;
    let port: u16 = port
        .parse()
        .map_err(|_| Error::bad_request(format!("address {addr:?} has a bad port")))?;
    if host.is_empty() {
        return Err(Error::bad_request(format!("address {addr:?} has no host")));
    }
    Ok((host.trim_matches(['[', ']']).to_string(), port))
}

/// A blocking connection to one node.
pub fn connect(addr: &str, creds: &Credentials, timeout: Duration) -> Result<redis::Connection> {
    let (host, port) = split_addr(addr)?;
    let mut settings = RedisConnectionInfo::default().set_skip_set_lib_name();
    if let Some(u) = &creds.user {
        settings = settings.set_username(u);
    }
    if let Some(p) = &creds.password {
        settings = settings.set_password(p);
    }
    let info = ConnectionAddr::Tcp(host, port)
        .into_connection_info()
        .map_err(Error::from)?
        .set_redis_settings(settings);
    let client = redis::Client::open(info).map_err(Error::from)?;
    let conn = client
        .get_connection_with_timeout(timeout)
        .map_err(|e| Error::from(e).context(format!("cannot connect to {addr}")))?;
    conn.set_read_timeout(Some(timeout * 4))
        .map_err(Error::from)?;
    conn.set_write_timeout(Some(timeout * 4))
        .map_err(Error::from)?;
    Ok(conn)
}

/// `INFO section` as key/value pairs.
pub fn info(conn: &mut redis::Connection, section: &str) -> Result<Vec<(String, String)>> {
    let text: String = redis::cmd("INFO")
        .arg(section)
        .query(conn)
        .map_err(|e| Error::from(e).context(format!("INFO {section}")))?;
    Ok(text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect())
}

/// `(db, keys)` of each db that holds keys (`INFO keyspace`).
pub fn keyspace(conn: &mut redis::Connection) -> Result<Vec<(u32, u64)>> {
    let text: String = redis::cmd("INFO")
        .arg("keyspace")
        .query(conn)
        .map_err(|e| Error::from(e).context("INFO keyspace"))?;
    Ok(parse_keyspace(&text))
}

/// `(db, keys)` for each `dbN:keys=…` line of `INFO keyspace` with keys.
pub fn parse_keyspace(info: &str) -> Vec<(u32, u64)> {
    info.lines()
        .filter_map(|l| {
            let (db, rest) = l.trim().strip_prefix("db")?.split_once(':')?;
            let keys = rest.split(',').find_map(|kv| kv.strip_prefix("keys="))?;
            Some((db.parse().ok()?, keys.parse().ok()?))
        })
        .filter(|&(_, n)| n > 0)
        .collect()
}

fn field<'a>(info: &'a [(String, String)], key: &str) -> Option<&'a str> {
    info.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// Discovers the members of an app from the node at `addr`.
pub fn discover(
    kind: AppKind,
    addr: &str,
    creds: &Credentials,
    timeout: Duration,
) -> Result<Vec<Node>> {
    match kind {
        AppKind::Standalone => {
            let mut c = connect(addr, creds, timeout)?;
            let _ = info(&mut c, "server")?;
            Ok(vec![Node {
                addr: addr.to_string(),
                role: "master".into(),
                master: None,
                slots: None,
            }])
        }
        AppKind::Replicated => discover_replicated(addr, creds, timeout),
        AppKind::Cluster => discover_cluster(addr, creds, timeout),
    }
}

/// Discovers the members of an app from its registered address, or, when
/// that node does not answer (a master killed and a replica promoted in
/// its place, by hand or by a failover tool), from the members found last
/// time (`known`, the stored topology): masters first, then replicas. A
/// promoted replica answers as a master and the app follows it; a replica
/// still waiting for a dead master does not count. The first error is
/// returned when no member answers.
pub fn discover_following(
    kind: AppKind,
    addr: &str,
    known: &[Node],
    creds: &Credentials,
    timeout: Duration,
) -> Result<Vec<Node>> {
    let first = match discover(kind, addr, creds, timeout) {
        Ok(nodes) => return Ok(nodes),
        Err(e) => e,
    };
    if kind == AppKind::Standalone {
        return Err(first);
    }
    let mut others: Vec<&Node> = known.iter().filter(|n| n.addr != addr).collect();
    others.sort_by_key(|n| n.role != "master");
    for n in others {
        if let Ok(nodes) = discover(kind, &n.addr, creds, timeout) {
            return Ok(nodes);
        }
    }
    Err(first.context(format!(
        "{addr} and the {} other members found last time did not answer",
        known.iter().filter(|n| n.addr != addr).count()
    )))
}

fn discover_replicated(addr: &str, creds: &Credentials, timeout: Duration) -> Result<Vec<Node>> {
    let mut c = connect(addr, creds, timeout)?;
    let mut repl = info(&mut c, "replication")?;
    let mut master_addr = addr.to_string();
    if field(&repl, "role") == Some("slave") {
        let host = field(&repl, "master_host").unwrap_or_default();
        let port = field(&repl, "master_port").unwrap_or_default();
        master_addr = format!("{host}:{port}");
        let mut m = connect(&master_addr, creds, timeout)
            .map_err(|e| e.context(format!("master of {addr}")))?;
        repl = info(&mut m, "replication")?;
    }
    let mut nodes = vec![Node {
        addr: master_addr.clone(),
        role: "master".into(),
        master: None,
        slots: None,
    }];
    for (k, v) in &repl {
        if !(k.starts_with("slave") && k[5..].chars().all(|c| c.is_ascii_digit())) {
            continue;
        }
        // slave0:ip=127.0.0.1,port=7002,state=online,offset=…,lag=0
        let get = |name: &str| {
            v.split(',')
                .filter_map(|kv| kv.split_once('='))
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        };
        if let (Some(ip), Some(port)) = (get("ip"), get("port")) {
            nodes.push(Node {
                addr: format!("{ip}:{port}"),
                role: "replica".into(),
                master: Some(master_addr.clone()),
                slots: None,
            });
        }
    }
    Ok(nodes)
}

fn discover_cluster(addr: &str, creds: &Credentials, timeout: Duration) -> Result<Vec<Node>> {
    let mut c = connect(addr, creds, timeout)?;
    let slots: redis::Value = redis::cmd("CLUSTER")
        .arg("SLOTS")
        .query(&mut c)
        .map_err(|e| Error::from(e).context(format!("CLUSTER SLOTS on {addr}")))?;
    let bad = || Error::internal(format!("unexpected CLUSTER SLOTS reply from {addr}"));
    let mut masters: Vec<Node> = Vec::new();
    let mut replicas: Vec<Node> = Vec::new();
    let redis::Value::Array(ranges) = slots else {
        return Err(bad());
    };
    for range in ranges {
        let redis::Value::Array(parts) = range else {
            return Err(bad());
        };
        if parts.len() < 3 {
            return Err(bad());
        }
        let start = int(&parts[0]).ok_or_else(bad)? as u16;
        let end = int(&parts[1]).ok_or_else(bad)? as u16;
        let node_addr = |v: &redis::Value| -> Option<String> {
            let redis::Value::Array(n) = v else {
                return None;
            };
            let host = text(n.first()?)?;
            let port = int(n.get(1)?)?;
            let host = if host.is_empty() {
                split_addr(addr).ok()?.0
            } else {
                host
            };
            Some(format!("{host}:{port}"))
        };
        let master = node_addr(&parts[2]).ok_or_else(bad)?;
        match masters.iter_mut().find(|m| m.addr == master) {
            Some(m) => m.slots.get_or_insert_with(Vec::new).push([start, end]),
            None => masters.push(Node {
                addr: master.clone(),
                role: "master".into(),
                master: None,
                slots: Some(vec![[start, end]]),
            }),
        }
        for r in &parts[3..] {
            let r = node_addr(r).ok_or_else(bad)?;
            if !replicas.iter().any(|x| x.addr == r) {
                replicas.push(Node {
                    addr: r,
                    role: "replica".into(),
                    master: Some(master.clone()),
                    slots: None,
                });
            }
        }
    }
    if masters.is_empty() {
        return Err(Error::bad_request(format!(
            "{addr} reports no slots: is it a cluster node with slots assigned?"
        )));
    }
    for m in &mut masters {
        if let Some(s) = &mut m.slots {
            s.sort_unstable();
        }
    }
    masters.sort_by(|a, b| a.addr.cmp(&b.addr));
    replicas.sort_by(|a, b| a.addr.cmp(&b.addr));
    masters.extend(replicas);
    Ok(masters)
}

fn int(v: &redis::Value) -> Option<i64> {
    match v {
        redis::Value::Int(i) => Some(*i),
        redis::Value::BulkString(b) => std::str::from_utf8(b).ok()?.parse().ok(),
        _ => None,
    }
}

fn text(v: &redis::Value) -> Option<String> {
    match v {
        redis::Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
        redis::Value::SimpleString(s) => Some(s.clone()),
        _ => None,
    }
}

/// The masters' addresses, sorted.
pub fn masters(nodes: &[Node]) -> Vec<String> {
    let mut m: Vec<String> = nodes
        .iter()
        .filter(|n| n.role == "master")
        .map(|n| n.addr.clone())
        .collect();
    m.sort();
    m
}

/// The masters of an app, each with the member an analysis should read it
/// from: an online replica when there is one (to spare the master the
/// fork), else the master itself.
pub fn sources(nodes: &[Node]) -> Vec<(Node, Node)> {
    nodes
        .iter()
        .filter(|n| n.role == "master")
        .map(|m| {
            let replica = nodes
                .iter()
                .find(|r| r.role == "replica" && r.master.as_deref() == Some(m.addr.as_str()));
            (m.clone(), replica.unwrap_or(m).clone())
        })
        .collect()
}

/// A maintenance window `HH:MM-HH:MM` in UTC, minutes since midnight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Opens at.
    pub start: u32,
    /// Closes at (may be before `start`: the window wraps midnight).
    pub end: u32,
}

impl Window {
    /// Parses `HH:MM-HH:MM`.
    pub fn parse(s: &str) -> Result<Window> {
        let bad =
            || Error::bad_request(format!("maintenance window {s:?} is not HH:MM-HH:MM (UTC)"));
        let (a, b) = s.split_once('-').ok_or_else(bad)?;
        let hm = |t: &str| -> Option<u32> {
            let (h, m) = t.trim().split_once(':')?;
            let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
            // Checked first: `then_some` would multiply an hour of any size.
            (h < 24 && m < 60).then(|| h * 60 + m)
        };
        let w = Window {
            start: hm(a).ok_or_else(bad)?,
            end: hm(b).ok_or_else(bad)?,
        };
        if w.start == w.end {
            return Err(bad());
        }
        Ok(w)
    }

    /// Whether the window is open at `ms` since the epoch.
    pub fn is_open(&self, ms: i64) -> bool {
        let minute = ((ms / 60_000) % (24 * 60)) as u32;
        if self.start < self.end {
            (self.start..self.end).contains(&minute)
        } else {
            minute >= self.start || minute < self.end
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows() {
        let w = Window::parse("01:00-05:00").unwrap();
        assert!(w.is_open(2 * 3_600_000));
        assert!(!w.is_open(6 * 3_600_000));
        let wrap = Window::parse("22:30-02:00").unwrap();
        assert!(wrap.is_open(23 * 3_600_000));
        assert!(wrap.is_open(3_600_000));
        assert!(!wrap.is_open(12 * 3_600_000));
        assert!(Window::parse("25:00-01:00").is_err());
        assert!(Window::parse("0100").is_err());
        assert!(Window::parse("01:00-01:00").is_err());
        // Found by the `api` fuzz target: an hour past u32 / 60 overflowed
        // the multiplication (a panic where overflow is checked).
        assert!(Window::parse("0001289968915:4400-05:00").is_err());
        assert!(Window::parse("4294967295:00-01:00").is_err());
    }

    #[test]
    fn keyspace_lines() {
        let info = "# Keyspace\r\ndb0:keys=12,expires=3,avg_ttl=0,subexpiry=0\r\ndb5:keys=0,expires=0\r\ndb15:keys=7,expires=0,avg_ttl=0\r\nnot-a-db:keys=1\r\n";
        assert_eq!(parse_keyspace(info), vec![(0, 12), (15, 7)]);
        assert!(parse_keyspace("# Keyspace\r\n").is_empty());
    }

    #[test]
    fn addresses() {
        assert_eq!(
            split_addr("127.0.0.1:6379").unwrap(),
            ("127.0.0.1".into(), 6379)
        );
        assert!(split_addr("localhost").is_err());
        assert!(split_addr(":1").is_err());
        assert!(split_addr("h:99999").is_err());
    }
}
