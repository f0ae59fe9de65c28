//! The time every server and client of the testbed reads, injected (as the protocol core takes
//! `now` as an argument): the wall clock for `testbed serve` and `testbed load`, a manual clock
//! that the drill steps from one scheduled instant to the next (no wall-clock sleep decides any
//! protocol outcome).
//!
//! Only protocol time is injected (token `exp`/`iat`, proof windows, nonces, JWKS cache ages).
//! TLS certificate validity is checked by rustls against the real clock; the testbed's
//! certificates are valid for decades, and certificate revocation is driven through CRLs.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Unix seconds.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> i64;
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    }
}

/// A clock set by its owner (the drill), shared by every server and client it was handed to.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    pub fn new(start: i64) -> Self {
        Self(Arc::new(AtomicI64::new(start)))
    }

    /// Moves the clock to `t`. Time never runs backwards: an earlier `t` is ignored.
    pub fn set(&self, t: i64) {
        self.0.fetch_max(t, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// The clock handle servers and clients hold.
pub type SharedClock = Arc<dyn Clock>;
