//! The DevTools protocol over one page's WebSocket: numbered calls, their
//! answers, and the events that arrive in between (kept for the caller).

use std::net::TcpStream;
use std::time::Duration;

use serde_json::{json, Value};
use tungstenite::{Message, WebSocket};

/// An event the page sent: its method (`Runtime.consoleAPICalled`, …) and params.
#[derive(Debug, Clone)]
pub struct Event {
    /// The protocol method, e.g. `Network.requestWillBeSent`.
    pub method: String,
    /// Its parameters, as sent.
    pub params: Value,
}

/// A connection to one page target.
pub(crate) struct Connection {
    ws: WebSocket<TcpStream>,
    next_id: u64,
    /// How an `alert`/`confirm`/`prompt` is answered: accept, and the prompt's text.
    pub(crate) dialog_answer: (bool, String),
    /// Events received since the connection opened, in order.
    pub(crate) events: Vec<Event>,
}

/// How long one call may wait for its answer before the test fails.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

impl Connection {
    /// Opens the page's socket (`ws://127.0.0.1:PORT/devtools/page/ID`).
    pub(crate) fn open(url: &str) -> Result<Connection, String> {
        let rest = url
            .strip_prefix("ws://")
            .ok_or_else(|| format!("not a ws:// URL: {url}"))?;
        let host = rest.split('/').next().unwrap_or(rest);
        let stream = TcpStream::connect(host).map_err(|e| format!("connect {host}: {e}"))?;
        stream
            .set_read_timeout(Some(CALL_TIMEOUT))
            .map_err(|e| e.to_string())?;
        let (ws, _) = tungstenite::client::client(url, stream)
            .map_err(|e| format!("handshake {url}: {e}"))?;
        Ok(Connection {
            ws,
            next_id: 1,
            dialog_answer: (true, String::new()),
            events: Vec::new(),
        })
    }

    /// Calls `method` with `params` and returns its `result`; a protocol error
    /// comes back as `Err` with the method named.
    pub(crate) fn call(&mut self, method: &str, params: Value) -> Result<Value, String> {
        let id = self.next_id;
        self.next_id += 1;
        let msg = json!({"id": id, "method": method, "params": params}).to_string();
        self.ws
            .send(Message::text(msg))
            .map_err(|e| format!("{method}: send: {e}"))?;
        loop {
            let v = self.read().map_err(|e| format!("{method}: {e}"))?;
            if v["id"].as_u64() == Some(id) {
                if let Some(err) = v.get("error") {
                    return Err(format!("{method}: {err}"));
                }
                return Ok(v["result"].clone());
            }
        }
    }

    /// The first event named `method` at or after index `since` of
    /// [`Connection::events`], reading more messages until it arrives.
    pub(crate) fn wait_event(&mut self, method: &str, since: usize) -> Result<Event, String> {
        let mut from = since.min(self.events.len());
        loop {
            if let Some(e) = self.events[from..].iter().find(|e| e.method == method) {
                return Ok(e.clone());
            }
            from = self.events.len();
            self.read()
                .map_err(|e| format!("waiting for {method}: {e}"))?;
        }
    }

    /// One message; events are appended to [`Connection::events`].
    fn read(&mut self) -> Result<Value, String> {
        loop {
            let msg = self.ws.read().map_err(|e| format!("read: {e}"))?;
            let text = match msg {
                Message::Text(t) => t.to_string(),
                Message::Binary(b) => String::from_utf8_lossy(&b).into_owned(),
                Message::Close(_) => return Err("the page closed its socket".into()),
                _ => continue,
            };
            let v: Value = serde_json::from_str(&text).map_err(|e| format!("bad JSON: {e}"))?;
            if let Some(method) = v["method"].as_str() {
                if method == "Page.javascriptDialogOpening" {
                    // A modal dialog stops the page (and any call waiting on
                    // it) until answered: answer it now; the answer's own
                    // reply is read and dropped like any other stray reply.
                    let id = self.next_id;
                    self.next_id += 1;
                    let (accept, text) = &self.dialog_answer;
                    let msg = json!({"id": id, "method": "Page.handleJavaScriptDialog",
                        "params": {"accept": accept, "promptText": text}});
                    self.ws
                        .send(Message::text(msg.to_string()))
                        .map_err(|e| format!("answer dialog: {e}"))?;
                }
                self.events.push(Event {
                    method: method.to_string(),
                    params: v["params"].clone(),
                });
            }
            return Ok(v);
        }
    }
}
