//! A TCP proxy the fault tests put between the service and a node (or its
//! store): it passes bytes, drops every connection (and closes new ones at
//! once), stalls them (holds them open and forwards nothing), or passes at
//! most a number of bytes per second. Plain threads, loopback only.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

const PASS: u8 = 0;
const DROP: u8 = 1;
const STALL: u8 = 2;

struct Shared {
    mode: AtomicU8,
    /// Bytes per second each direction of a connection passes (0: no limit).
    rate: AtomicU64,
    /// Bumped by `drop_all`: connections of an older generation close.
    generation: AtomicU64,
    accepted: AtomicU64,
    stop: AtomicBool,
}

/// A proxy on 127.0.0.1 to `127.0.0.1:upstream`, stopped on drop.
pub(crate) struct Proxy {
    pub(crate) port: u16,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl Proxy {
    pub(crate) fn start(upstream: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared {
            mode: AtomicU8::new(PASS),
            rate: AtomicU64::new(0),
            generation: AtomicU64::new(0),
            accepted: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        });
        let sh = shared.clone();
        let accept = std::thread::spawn(move || {
            while !sh.stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((down, _)) => {
                        sh.accepted.fetch_add(1, Ordering::SeqCst);
                        if sh.mode.load(Ordering::SeqCst) == DROP {
                            drop(down);
                            continue;
                        }
                        let _ = down.set_nonblocking(false);
                        let Ok(up) = TcpStream::connect(("127.0.0.1", upstream)) else {
                            continue;
                        };
                        let generation = sh.generation.load(Ordering::SeqCst);
                        for (from, to) in [
                            (down.try_clone().unwrap(), up.try_clone().unwrap()),
                            (up, down),
                        ] {
                            let sh = sh.clone();
                            std::thread::spawn(move || pump(from, to, &sh, generation));
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Proxy {
            port,
            shared,
            accept: Some(accept),
        }
    }

    /// `127.0.0.1:<port>`.
    pub(crate) fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Passes bytes (at the rate set by `throttle`, if any).
    pub(crate) fn pass(&self) {
        self.shared.mode.store(PASS, Ordering::SeqCst);
    }

    /// Closes every open connection, and every new one as soon as it is
    /// accepted, until `pass`.
    pub(crate) fn drop_all(&self) {
        self.shared.mode.store(DROP, Ordering::SeqCst);
        self.shared.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// Holds every connection open and forwards nothing, until `pass`.
    pub(crate) fn stall(&self) {
        self.shared.mode.store(STALL, Ordering::SeqCst);
    }

    /// At most `bytes_per_sec` each way on each connection (0: no limit).
    pub(crate) fn throttle(&self, bytes_per_sec: u64) {
        self.shared.rate.store(bytes_per_sec, Ordering::SeqCst);
    }

    /// Connections accepted so far.
    pub(crate) fn accepted(&self) -> u64 {
        self.shared.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

/// Copies `from` to `to` until either closes or the proxy says otherwise.
fn pump(mut from: TcpStream, mut to: TcpStream, sh: &Shared, generation: u64) {
    let _ = from.set_read_timeout(Some(Duration::from_millis(20)));
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let mode = sh.mode.load(Ordering::SeqCst);
        if sh.stop.load(Ordering::SeqCst)
            || mode == DROP
            || sh.generation.load(Ordering::SeqCst) != generation
        {
            break;
        }
        if mode == STALL {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        }
        let rate = sh.rate.load(Ordering::SeqCst);
        // Under a rate, reads of a twentieth of a second's bytes.
        let want = if rate > 0 {
            ((rate / 20).max(1) as usize).min(buf.len())
        } else {
            buf.len()
        };
        match from.read(&mut buf[..want]) {
            Ok(0) => break,
            Ok(n) => {
                if rate > 0 {
                    std::thread::sleep(Duration::from_secs_f64(n as f64 / rate as f64));
                }
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}
