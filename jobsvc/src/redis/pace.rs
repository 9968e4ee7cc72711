//! Keeping to a rate of keys per second: a token bucket (cleanup) and a
//! pacer (migration), both stopping when the job is told to.

use std::time::{Duration, Instant};

use crate::error::Result;

/// Something that can tell a waiting loop to stop (a cancelled job).
pub trait Cancel {
    /// Errors out when the caller must stop.
    fn check_cancel(&self) -> Result<()>;
}

/// A token bucket over keys per second; it starts empty (so the rate holds
/// from the first key to the last) and holds at most `cap` tokens.
pub struct Bucket {
    rate: f64,
    cap: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    /// A bucket for `rate` keys per second holding at most `cap` tokens.
    pub fn new(rate: u64, cap: usize) -> Bucket {
        Bucket {
            rate: rate as f64,
            cap: cap.max(1) as f64,
            tokens: 0.0,
            last: Instant::now(),
        }
    }

    /// Waits until `n` tokens are there and takes them.
    pub fn take(&mut self, n: usize, ctx: &dyn Cancel) -> Result<()> {
        let n = n as f64;
        loop {
            let now = Instant::now();
            self.tokens = (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate)
                .min(self.cap.max(n));
            self.last = now;
            if self.tokens >= n {
                self.tokens -= n;
                return Ok(());
            }
            ctx.check_cancel()?;
            let wait = ((n - self.tokens) / self.rate).min(0.2);
            std::thread::sleep(Duration::from_secs_f64(wait.max(0.001)));
        }
    }
}

/// A pacer over keys per second: key n goes out no earlier than n / rate
/// seconds after the first.
pub struct Pacer {
    rate: f64,
    start: Option<Instant>,
    sent: u64,
}

impl Pacer {
    /// A pacer for `rate` keys per second, started by its first wait.
    pub fn new(rate: f64) -> Pacer {
        Pacer {
            rate,
            start: None,
            sent: 0,
        }
    }

    /// Waits until `n` more keys may go out.
    pub fn wait(&mut self, n: usize, ctx: &dyn Cancel) -> Result<()> {
        let start = *self.start.get_or_insert_with(Instant::now);
        self.sent += n as u64;
        let due = start + Duration::from_secs_f64(self.sent as f64 / self.rate);
        loop {
            let now = Instant::now();
            if now >= due {
                return Ok(());
            }
            ctx.check_cancel()?;
            std::thread::sleep((due - now).min(Duration::from_millis(200)));
        }
    }
}
