//! Per-client failure quotas: failed proofs and client authentications counted per client per
//! minute (of the injected clock). A client over its quota gets `429` until the minute ends;
//! other clients are not affected. The map holds only clients that failed this minute and is
//! cleared when the minute turns, so a flood of invented client ids cannot grow it past one
//! minute's requests (and it is capped at `MAX_TRACKED` entries besides).

use std::collections::HashMap;
use std::sync::Mutex;

const MAX_TRACKED: usize = 100_000;

#[derive(Debug)]
pub struct FailureQuota {
    per_minute: u32,
    state: Mutex<(i64, HashMap<String, u32>)>,
}

impl FailureQuota {
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            state: Mutex::new((i64::MIN, HashMap::new())),
        }
    }

    fn with<R>(&self, now: i64, f: impl FnOnce(&mut HashMap<String, u32>) -> R) -> R {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let minute = now.div_euclid(60);
        if s.0 != minute {
            s.0 = minute;
            s.1.clear();
        }
        f(&mut s.1)
    }

    pub fn exceeded(&self, client: &str, now: i64) -> bool {
        self.with(now, |m| {
            m.get(client).is_some_and(|&n| n >= self.per_minute)
        })
    }

    pub fn record(&self, client: &str, now: i64) {
        self.with(now, |m| {
            if let Some(n) = m.get_mut(client) {
                *n = n.saturating_add(1);
            } else if m.len() < MAX_TRACKED {
                m.insert(client.to_owned(), 1);
            }
        })
    }
}
