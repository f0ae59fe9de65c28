//! `jti` replay detection: a store trait and a bounded in-memory implementation.
//!
//! Keys are SHA-256 digests of a length-prefixed context (see [`ReplayKey`]), so an over-long or
//! hostile `jti` costs the store 32 bytes (RFC 9449 §11.1: "reject over-long jti, or store only
//! their hash"). DPoP and DPoP-RT proofs share one key space: the DPoP-RT draft §5.2 says a
//! DPoP-RT `jti` must not equal the `jti` of any other DPoP *or* DPoP-RT proof in the same
//! context, and RFC 9449 §11.1 scopes `jti` uniqueness per target URI, so a proof key is
//! `(htu, jti)`. Client assertions use `(client_id, jti)` in a separate domain.
//!
//! Memory bound: an entry lives until its `expires_at` (for a proof, `iat + max_age`, the last
//! instant the proof would still pass the `iat` window, so the skew allowance never lets an entry
//! die early, the mistake of keycloak#43505). Expired entries are evicted on every insert, so the
//! store never holds more than the proofs accepted within one window; on top of that a hard
//! capacity cap makes the store *fail closed* ([`ReplayError::Full`]) instead of growing.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use sha2::{Digest, Sha256};

/// A replay-store key: SHA-256 over a domain tag and length-prefixed parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReplayKey(pub [u8; 32]);

impl ReplayKey {
    /// Key for a DPoP or DPoP-RT proof: the normalised `htu` and the `jti`.
    pub fn proof(htu: &str, jti: &str) -> ReplayKey {
        Self::hash(b"proof", &[htu.as_bytes(), jti.as_bytes()])
    }

    /// Key for a client assertion (RFC 7523 §3 item 7): the client and the `jti`.
    pub fn client_assertion(client_id: &str, jti: &str) -> ReplayKey {
        Self::hash(b"client-assertion", &[client_id.as_bytes(), jti.as_bytes()])
    }

    fn hash(domain: &[u8], parts: &[&[u8]]) -> ReplayKey {
        let mut h = Sha256::new();
        h.update(domain);
        for p in parts {
            h.update((p.len() as u64).to_be_bytes());
            h.update(p);
        }
        ReplayKey(h.finalize().into())
    }
}

/// Why a key was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// The key was already recorded and has not expired.
    #[error("jti already used within the replay window")]
    Replayed,
    /// The store is at its capacity cap; the request is refused (fail closed).
    #[error("replay store is full")]
    Full,
}

/// A single-use store. Implementations must be atomic per call: checking and recording are one
/// step, so two concurrent uses of one key cannot both succeed.
pub trait ReplayStore {
    /// Records `key` as used until `expires_at` (unix seconds). Fails if the key is live or the
    /// store cannot take another entry.
    fn check_and_insert(
        &mut self,
        key: ReplayKey,
        now: i64,
        expires_at: i64,
    ) -> Result<(), ReplayError>;
}

/// An in-memory [`ReplayStore`] with time-based eviction and a hard capacity cap.
#[derive(Debug)]
pub struct MemoryReplayStore {
    capacity: usize,
    live: HashMap<ReplayKey, i64>,
    by_expiry: BinaryHeap<Reverse<(i64, ReplayKey)>>,
}

impl MemoryReplayStore {
    /// A store holding at most `capacity` live entries.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            live: HashMap::new(),
            by_expiry: BinaryHeap::new(),
        }
    }

    /// Live entries (after the last eviction).
    pub fn len(&self) -> usize {
        self.live.len()
    }

    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }

    /// Drops every entry whose expiry is at or before `now`.
    pub fn evict_expired(&mut self, now: i64) {
        while let Some(Reverse((exp, key))) = self.by_expiry.peek().copied() {
            if exp > now {
                break;
            }
            self.by_expiry.pop();
            if self.live.get(&key) == Some(&exp) {
                self.live.remove(&key);
            }
        }
    }
}

impl ReplayStore for MemoryReplayStore {
    fn check_and_insert(
        &mut self,
        key: ReplayKey,
        now: i64,
        expires_at: i64,
    ) -> Result<(), ReplayError> {
        self.evict_expired(now);
        if self.live.contains_key(&key) {
            return Err(ReplayError::Replayed);
        }
        if expires_at <= now {
            // Already outside its window: nothing to remember (the caller's window check decides
            // whether such a use is acceptable at all).
            return Ok(());
        }
        if self.live.len() >= self.capacity {
            return Err(ReplayError::Full);
        }
        self.live.insert(key, expires_at);
        self.by_expiry.push(Reverse((expires_at, key)));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_detected_until_expiry_then_forgotten() {
        let mut s = MemoryReplayStore::new(10);
        let k = ReplayKey::proof("https://a/", "j1");
        assert_eq!(s.check_and_insert(k, 100, 160), Ok(()));
        assert_eq!(s.check_and_insert(k, 159, 219), Err(ReplayError::Replayed));
        assert_eq!(s.check_and_insert(k, 160, 220), Ok(()));
        assert_ne!(k, ReplayKey::proof("https://b/", "j1"));
        assert_ne!(ReplayKey::proof("ab", "c"), ReplayKey::proof("a", "bc"));
    }

    #[test]
    fn memory_stays_bounded_by_the_window_and_the_cap() {
        let window = 60;
        let mut s = MemoryReplayStore::new(1_000);
        // 10 new proofs per second for an hour: only the last window's worth stay.
        for now in 0..3_600i64 {
            for i in 0..10 {
                let key = ReplayKey::proof("https://a/", &format!("{now}-{i}"));
                assert_eq!(s.check_and_insert(key, now, now + window), Ok(()));
            }
            assert!(s.len() <= 10 * window as usize, "len {} at {now}", s.len());
            assert!(s.by_expiry.len() <= 10 * window as usize);
        }
        // Hard cap: a burst beyond capacity fails closed and does not grow the store.
        let mut s = MemoryReplayStore::new(5);
        for i in 0..5 {
            assert_eq!(
                s.check_and_insert(ReplayKey::proof("u", &i.to_string()), 0, 60),
                Ok(())
            );
        }
        assert_eq!(
            s.check_and_insert(ReplayKey::proof("u", "x"), 0, 60),
            Err(ReplayError::Full)
        );
        assert_eq!(s.len(), 5);
        assert_eq!(
            s.check_and_insert(ReplayKey::proof("u", "x"), 60, 120),
            Ok(())
        );
        assert_eq!(s.len(), 1);
    }
}
