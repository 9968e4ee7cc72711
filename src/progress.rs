//! A progress bar on stderr, drawn only when stderr is a terminal, from a
//! byte counter the workers bump once per chunk.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Draws `label [#####.....] 45% 120/266 MB 310 MB/s` until dropped.
pub(crate) struct Progress {
    done: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Progress {
    /// Starts drawing for `total` bytes (no thread when stderr is not a TTY).
    pub(crate) fn start(label: &str, total: u64) -> Progress {
        let done = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::io::stderr().is_terminal().then(|| {
            let (done, stop, label) = (Arc::clone(&done), Arc::clone(&stop), label.to_string());
            std::thread::spawn(move || {
                let started = Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(150));
                    draw(
                        &label,
                        done.load(Ordering::Relaxed),
                        total,
                        started.elapsed(),
                    );
                }
                eprint!("\r\x1b[2K");
            })
        });
        Progress { done, stop, thread }
    }

    /// The counter workers add finished bytes to.
    pub(crate) fn counter(&self) -> &AtomicU64 {
        &self.done
    }
}

fn draw(label: &str, done: u64, total: u64, elapsed: Duration) {
    const WIDTH: usize = 30;
    let frac = if total == 0 {
        1.0
    } else {
        (done as f64 / total as f64).min(1.0)
    };
    let filled = (frac * WIDTH as f64) as usize;
    let rate = done as f64 / 1e6 / elapsed.as_secs_f64().max(1e-3);
    let mut err = std::io::stderr().lock();
    let _ = write!(
        err,
        "\r{label} [{}{}] {:>3.0}% {:.0}/{:.0} MB {:.0} MB/s",
        "#".repeat(filled),
        ".".repeat(WIDTH - filled),
        frac * 100.0,
        done as f64 / 1e6,
        total as f64 / 1e6,
        rate
    );
    let _ = err.flush();
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
