//! The job service's HTTP client and the output helpers shared by `ticket`,
//! `node` and `user`: tables, `key: value` blocks, errors as
//! `error: <message> (HTTP <status>)`.

use std::io::{self, Write};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;

use crate::args::ClientOpts;

/// A connection to one service, with the caller's token.
pub(crate) struct Client {
    base: String,
    token: Option<String>,
    agent: ureq::Agent,
    /// Print the API's JSON instead of tables.
    pub(crate) json: bool,
}

/// An answer the service refused: its status and the `error` of its JSON body.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub(crate) status: u16,
    pub(crate) message: String,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (HTTP {})", self.message, self.status)
    }
}

impl std::error::Error for ApiError {}

/// Percent-encodes one path segment (everything but unreserved characters;
/// with `keep_slash`, `/` too, for report names inside folders).
pub(crate) fn encode(segment: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Client {
    pub(crate) fn new(opts: &ClientOpts) -> Result<Client> {
        let base = opts.server.trim_end_matches('/').to_string();
        if base.starts_with("https://") {
            bail!(
                "--server {base}: this build speaks plain HTTP only; reach the service over \
                 http:// (e.g. through an SSH tunnel or a TLS-terminating proxy in front of it)"
            );
        }
        if !base.starts_with("http://") {
            bail!("--server {base}: expected a URL like http://127.0.0.1:7780");
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_recv_response(Some(Duration::from_secs(120)))
            .build()
            .into();
        Ok(Client {
            base,
            token: opts.token.clone().filter(|t| !t.is_empty()),
            agent,
            json: opts.json,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn unreachable(&self, e: ureq::Error) -> anyhow::Error {
        let refused = matches!(&e, ureq::Error::Io(io) if io.kind() == io::ErrorKind::ConnectionRefused)
            || matches!(e, ureq::Error::ConnectionFailed);
        if refused {
            anyhow!(
                "cannot reach the rdbscope service at {} (connection refused): is `rdbscope serve` \
                 running there? (set --server or RDBSCOPE_SERVER)",
                self.base
            )
        } else {
            anyhow!(
                "request to the rdbscope service at {} failed: {e}",
                self.base
            )
        }
    }

    /// Sends a request; returns the status and the response for 2xx, an
    /// [`ApiError`] otherwise.
    fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Result<(u16, ureq::http::Response<ureq::Body>)> {
        let url = self.url(path);
        let auth = self.token.as_ref().map(|t| format!("Bearer {t}"));
        let result = match method {
            "GET" | "DELETE" => {
                let mut r = if method == "GET" {
                    self.agent.get(&url)
                } else {
                    self.agent.delete(&url)
                };
                if let Some(a) = &auth {
                    r = r.header("Authorization", a);
                }
                for (k, v) in headers {
                    r = r.header(*k, *v);
                }
                r.call()
            }
            _ => {
                let mut r = match method {
                    "PUT" => self.agent.put(&url),
                    "PATCH" => self.agent.patch(&url),
                    _ => self.agent.post(&url),
                };
                if let Some(a) = &auth {
                    r = r.header("Authorization", a);
                }
                for (k, v) in headers {
                    r = r.header(*k, *v);
                }
                match body {
                    Some(b) => r.send_json(b),
                    None => r.send_empty(),
                }
            }
        };
        let mut resp = result.map_err(|e| self.unreachable(e))?;
        let status = resp.status().as_u16();
        if (200..300).contains(&status) {
            return Ok((status, resp));
        }
        let text = resp
            .body_mut()
            .with_config()
            .limit(1 << 20)
            .read_to_string()
            .unwrap_or_default();
        let mut message = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_else(|| {
                let t = text.trim();
                if t.is_empty() {
                    format!("{method} {path} refused")
                } else {
                    t.chars().take(500).collect()
                }
            });
        if status == 401 && self.token.is_none() {
            message.push_str("; no token given (set --token or RDBSCOPE_TOKEN)");
        }
        Err(ApiError { status, message }.into())
    }

    /// A JSON request; returns the status and the parsed body (`null` when empty).
    pub(crate) fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value)> {
        self.call_with(method, path, body, &[])
    }

    pub(crate) fn call_with(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Result<(u16, Value)> {
        let (status, mut resp) = self.send(method, path, body, headers)?;
        let text = resp
            .body_mut()
            .with_config()
            .limit(256 << 20)
            .read_to_string()
            .with_context(|| format!("reading the answer to {method} {path}"))?;
        if text.trim().is_empty() {
            return Ok((status, Value::Null));
        }
        let v = serde_json::from_str(&text).with_context(|| {
            format!("{method} {path}: the service answered with something that is not JSON")
        })?;
        Ok((status, v))
    }

    pub(crate) fn get(&self, path: &str) -> Result<Value> {
        Ok(self.call("GET", path, None)?.1)
    }

    pub(crate) fn post(&self, path: &str, body: Option<&Value>) -> Result<Value> {
        Ok(self.call("POST", path, body)?.1)
    }

    /// Streams a GET's body into `out`; returns the bytes written.
    pub(crate) fn download(&self, path: &str, out: &mut dyn Write) -> Result<u64> {
        let (_, mut resp) = self.send("GET", path, None, &[])?;
        let mut reader = resp.body_mut().as_reader();
        let n = io::copy(&mut reader, out).with_context(|| format!("downloading {path}"))?;
        Ok(n)
    }

    /// With `--json`, prints `v` as the API gave it (one line); returns whether it did.
    pub(crate) fn print_json(&self, v: &Value) -> Result<bool> {
        if self.json {
            let mut out = io::stdout().lock();
            serde_json::to_writer(&mut out, v)?;
            writeln!(out)?;
        }
        Ok(self.json)
    }
}

/// A value as a table cell or a `key: value` line: strings bare, null as `-`,
/// objects and arrays as compact JSON.
pub(crate) fn cell(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => if *b { "yes" } else { "no" }.into(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    }
}

/// Prints rows under upper-case headers, columns padded to their widest cell
/// (the last column is not padded).
pub(crate) fn print_table(headers: &[&str], rows: &[Vec<String>]) -> io::Result<()> {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = io::stdout().lock();
    let line = |out: &mut dyn Write, cells: &mut dyn Iterator<Item = String>| -> io::Result<()> {
        let cells: Vec<String> = cells.collect();
        let mut text = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 < cells.len() {
                text.push_str(c);
                text.extend(std::iter::repeat_n(' ', widths[i] - c.chars().count() + 2));
            } else {
                text.push_str(c);
            }
        }
        writeln!(out, "{}", text.trim_end())
    };
    line(&mut out, &mut headers.iter().map(|h| h.to_uppercase()))?;
    for row in rows {
        line(&mut out, &mut row.iter().cloned())?;
    }
    Ok(())
}

/// Prints `key: value` lines, values aligned; a multi-line value (pretty
/// JSON) continues indented under its first line.
pub(crate) fn print_block(fields: &[(&str, String)]) -> io::Result<()> {
    let width = fields.iter().map(|(k, _)| k.len()).max().unwrap_or(0) + 2;
    let mut out = io::stdout().lock();
    for (k, v) in fields {
        let mut lines = v.lines();
        let first = lines.next().unwrap_or("");
        writeln!(out, "{:<width$}{first}", format!("{k}:"))?;
        for l in lines {
            writeln!(out, "{:width$}{l}", "")?;
        }
    }
    Ok(())
}

/// A value for a `key: value` block: scalars as in [`cell`], an object of
/// scalars as `k=v, k=v`, anything deeper as pretty JSON.
pub(crate) fn block_value(v: &Value) -> String {
    match v {
        Value::Object(m) if m.values().all(|x| !x.is_object() && !x.is_array()) => {
            if m.is_empty() {
                return "{}".into();
            }
            m.iter()
                .map(|(k, x)| format!("{k}={}", cell(x)))
                .collect::<Vec<_>>()
                .join(", ")
        }
        Value::Object(_) | Value::Array(_) => {
            serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
        }
        other => cell(other),
    }
}

/// A ticket's progress: `42.0% fetching (bytes=123456)`, or `-`.
pub(crate) fn progress_text(p: &Value, with_counters: bool) -> String {
    if p.is_null() {
        return "-".into();
    }
    let mut parts = Vec::new();
    if let Some(pct) = p.get("percent").and_then(Value::as_f64) {
        parts.push(format!("{pct:.0}%"));
    }
    if let Some(phase) = p.get("phase").and_then(Value::as_str) {
        parts.push(phase.to_string());
    }
    if with_counters {
        if let Some(c) = p.get("counters").and_then(Value::as_object) {
            if !c.is_empty() {
                let cs: Vec<String> = c.iter().map(|(k, v)| format!("{k}={}", cell(v))).collect();
                parts.push(format!("({})", cs.join(", ")));
            }
        }
    }
    if parts.is_empty() {
        block_value(p)
    } else {
        parts.join(" ")
    }
}

/// A field of a JSON object as a cell.
pub(crate) fn field(v: &Value, name: &str) -> String {
    cell(v.get(name).unwrap_or(&Value::Null))
}

/// The array a list endpoint answered with.
pub(crate) fn as_list<'a>(v: &'a Value, what: &str) -> Result<&'a Vec<Value>> {
    v.as_array().ok_or_else(|| {
        anyhow!("the service answered {what} with something that is not a list: {v}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn encodes_path_segments() {
        assert_eq!(encode("shop", false), "shop");
        assert_eq!(encode("a b/c?", false), "a%20b%2Fc%3F");
        assert_eq!(encode("shard-1/summary.json", true), "shard-1/summary.json");
        assert_eq!(encode("é", false), "%C3%A9");
    }

    #[test]
    fn renders_values() {
        assert_eq!(cell(&Value::Null), "-");
        assert_eq!(cell(&json!("x")), "x");
        assert_eq!(cell(&json!(3)), "3");
        assert_eq!(
            block_value(&json!({"keys": 3, "role": "replica"})),
            "keys=3, role=replica"
        );
        assert_eq!(
            block_value(&json!({"a": [1]})),
            "{\n  \"a\": [\n    1\n  ]\n}"
        );
        assert_eq!(
            progress_text(
                &json!({"percent": 42.0, "phase": "fetching", "counters": {"bytes": 5}}),
                true
            ),
            "42% fetching (bytes=5)"
        );
        assert_eq!(
            progress_text(&json!({"percent": 42.0, "phase": "fetching"}), false),
            "42% fetching"
        );
        assert_eq!(progress_text(&Value::Null, true), "-");
    }
}
