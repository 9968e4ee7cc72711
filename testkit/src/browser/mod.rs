//! A real headless Chromium driven over the DevTools protocol, for the tests of
//! the report and the web console: open a page, run script in it, click and
//! type like a user, wait for the page to change, take screenshots, and read
//! back every console message and every network request the page made.
//!
//! ```no_run
//! let Some(bin) = testkit::require_chromium() else { return };
//! let mut b = testkit::Browser::launch(&bin);
//! b.goto("file:///tmp/report.html");
//! b.click("#drill-0 .node[data-path='user']");
//! b.wait_for("document.querySelector('.node.top').dataset.path === 'user'", "drill-down");
//! b.screenshot(std::path::Path::new("target/report.png"));
//! assert!(b.console_errors().is_empty());
//! ```

mod cdp;
mod launch;

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};

pub use cdp::Event;
pub use launch::{find_chromium, require_chromium, CHROMIUM_ENV, HEADLESS_FLAGS};

use crate::fsutil::{temp_dir, TempDir};

/// How long [`Browser::wait_for`] waits before failing the test.
const WAIT: Duration = Duration::from_secs(30);

/// One headless Chromium with one page; killed when dropped.
pub struct Browser {
    child: Child,
    conn: cdp::Connection,
    _profile: TempDir,
}

impl Browser {
    /// Starts Chromium (1280×900) with a fresh profile and attaches to its page.
    #[track_caller]
    pub fn launch(bin: &Path) -> Browser {
        Browser::launch_sized(bin, 1280, 900)
    }

    /// [`Browser::launch`] with a window of `width`×`height` CSS pixels.
    #[track_caller]
    pub fn launch_sized(bin: &Path, width: u32, height: u32) -> Browser {
        let profile = temp_dir("chromium");
        let (child, port) = launch::start(bin, profile.path(), width, height)
            .unwrap_or_else(|e| panic!("start chromium {}: {e}", bin.display()));
        let mut b = match launch::page_socket_url(port)
            .and_then(|url| cdp::Connection::open(&url).map_err(std::io::Error::other))
        {
            Ok(conn) => Browser {
                child,
                conn,
                _profile: profile,
            },
            Err(e) => {
                let mut child = child;
                let _ = child.kill();
                let _ = child.wait();
                panic!("attach to chromium's page: {e}");
            }
        };
        for domain in ["Page", "Runtime", "Log", "Network"] {
            b.call(&format!("{domain}.enable"), json!({}));
        }
        b
    }

    /// One protocol call; a protocol error fails the test.
    #[track_caller]
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.conn
            .call(method, params)
            .unwrap_or_else(|e| panic!("chromium: {e}"))
    }

    /// Opens `url` and waits for its `load` event.
    #[track_caller]
    pub fn goto(&mut self, url: &str) {
        let since = self.conn.events.len();
        let r = self.call("Page.navigate", json!({ "url": url }));
        if let Some(err) = r["errorText"].as_str() {
            panic!("navigate to {url}: {err}");
        }
        self.conn
            .wait_event("Page.loadEventFired", since)
            .unwrap_or_else(|e| panic!("load {url}: {e}"));
    }

    /// Runs `js` in the page (awaiting a promise) and returns its value as
    /// JSON, or the exception's text.
    pub fn try_eval(&mut self, js: &str) -> Result<Value, String> {
        let r = self.conn.call(
            "Runtime.evaluate",
            json!({"expression": js, "returnByValue": true, "awaitPromise": true}),
        )?;
        if let Some(ex) = r.get("exceptionDetails") {
            let text = ex["exception"]["description"]
                .as_str()
                .or(ex["text"].as_str())
                .unwrap_or("exception");
            return Err(format!("{text} (in `{js}`)"));
        }
        Ok(r["result"]["value"].clone())
    }

    /// [`Browser::try_eval`]; an exception fails the test.
    #[track_caller]
    pub fn eval(&mut self, js: &str) -> Value {
        self.try_eval(js)
            .unwrap_or_else(|e| panic!("script failed: {e}"))
    }

    /// Polls `js` until it gives a truthy value (returned), failing the test
    /// after 30 s with `what` and the last value seen.
    #[track_caller]
    pub fn wait_for(&mut self, js: &str, what: &str) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let v = self.try_eval(js);
            match &v {
                Ok(Value::Null) | Ok(Value::Bool(false)) => {}
                Ok(Value::String(s)) if s.is_empty() => {}
                Ok(Value::Number(n)) if n.as_f64() == Some(0.0) => {}
                Ok(v) => return v.clone(),
                Err(_) => {}
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {what}: `{js}` gave {v:?}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until `selector` matches an element.
    #[track_caller]
    pub fn wait_for_selector(&mut self, selector: &str) {
        let js = format!("!!document.querySelector({})", quote(selector));
        self.wait_for(&js, selector);
    }

    /// The `innerText` of the first element matching `selector` (`None` if none).
    #[track_caller]
    pub fn text(&mut self, selector: &str) -> Option<String> {
        let js = format!(
            "(() => {{ const e = document.querySelector({}); return e ? e.innerText : null; }})()",
            quote(selector)
        );
        self.eval(&js).as_str().map(str::to_string)
    }

    /// Clicks the middle of the first element matching `selector` with real
    /// mouse events (scrolled into view first), as a user would.
    #[track_caller]
    pub fn click(&mut self, selector: &str) {
        self.wait_for_selector(selector);
        let js = format!(
            "(() => {{ const e = document.querySelector({});
                e.scrollIntoView({{block: 'center', inline: 'center'}});
                const r = e.getBoundingClientRect();
                return [r.left + r.width / 2, r.top + r.height / 2, r.width, r.height]; }})()",
            quote(selector)
        );
        let at = self.eval(&js);
        let (x, y) = (at[0].as_f64().unwrap_or(0.0), at[1].as_f64().unwrap_or(0.0));
        assert!(
            at[2].as_f64().unwrap_or(0.0) > 0.0 && at[3].as_f64().unwrap_or(0.0) > 0.0,
            "{selector} is not visible: {at}"
        );
        for kind in ["mouseMoved", "mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1}),
            );
        }
    }

    /// Focuses the field matching `selector`, clears it, and types `text` into
    /// it (firing the `input` events a user's clearing and typing fire).
    #[track_caller]
    pub fn type_into(&mut self, selector: &str, text: &str) {
        self.wait_for_selector(selector);
        let js = format!(
            "(() => {{ const e = document.querySelector({}); e.focus();
                if ('value' in e && e.value !== '') {{
                    e.value = '';
                    e.dispatchEvent(new Event('input', {{bubbles: true}}));
                }} }})()",
            quote(selector)
        );
        self.eval(&js);
        if !text.is_empty() {
            self.call("Input.insertText", json!({ "text": text }));
        }
    }

    /// How the next `alert`/`confirm`/`prompt` is answered (default: accept).
    pub fn answer_dialogs(&mut self, accept: bool, prompt_text: &str) {
        self.conn.dialog_answer = (accept, prompt_text.to_string());
    }

    /// Sets the viewport (e.g. 390×844 for a phone; `mobile` adds touch-style layout).
    #[track_caller]
    pub fn set_viewport(&mut self, width: u32, height: u32, mobile: bool) {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}),
        );
    }

    /// Writes a PNG of the page (the whole page when `full_page`) to `path`,
    /// creating its folder.
    #[track_caller]
    pub fn screenshot(&mut self, path: &Path, full_page: bool) {
        let r = self.call(
            "Page.captureScreenshot",
            json!({"format": "png", "captureBeyondViewport": full_page}),
        );
        let png = base64::engine::general_purpose::STANDARD
            .decode(r["data"].as_str().unwrap_or(""))
            .unwrap_or_else(|e| panic!("screenshot data: {e}"));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        }
        std::fs::write(path, png).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }

    /// Every event received so far, in order.
    pub fn events(&self) -> &[Event] {
        &self.conn.events
    }

    /// Console errors and warnings, uncaught exceptions and error log entries
    /// (a failed request, a CSP violation) seen so far, as text.
    pub fn console_errors(&self) -> Vec<String> {
        let mut out = Vec::new();
        for e in &self.conn.events {
            match e.method.as_str() {
                "Runtime.consoleAPICalled"
                    if matches!(
                        e.params["type"].as_str(),
                        Some("error" | "warning" | "assert")
                    ) =>
                {
                    out.push(format!(
                        "console.{}: {}",
                        e.params["type"], e.params["args"]
                    ));
                }
                "Runtime.exceptionThrown" => {
                    let d = &e.params["exceptionDetails"];
                    let text = d["exception"]["description"]
                        .as_str()
                        .or(d["text"].as_str());
                    out.push(format!("exception: {}", text.unwrap_or("?")));
                }
                "Log.entryAdded" if e.params["entry"]["level"] == "error" => {
                    out.push(format!("log: {}", e.params["entry"]["text"]));
                }
                _ => {}
            }
        }
        out
    }

    /// The URL of every request the page made (documents, scripts, fetches…).
    pub fn requests(&self) -> Vec<String> {
        self.conn
            .events
            .iter()
            .filter(|e| e.method == "Network.requestWillBeSent")
            .filter_map(|e| e.params["request"]["url"].as_str().map(str::to_string))
            .collect()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `s` as a JavaScript string literal.
fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}
