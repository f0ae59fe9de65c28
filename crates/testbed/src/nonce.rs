//! Stateless server nonces (RFC 9449 §8): `nonce = b64url(epoch ‖ HMAC-SHA256(secret, epoch)[..16])`
//! with `epoch = now / lifetime`. The current and the previous epoch's nonce are accepted, so a
//! nonce stays valid for between one and two lifetimes, across restarts (the secret is kept in
//! the database) and across server instances sharing it. Nothing is stored per client.

use aws_lc_rs::hmac;
use leaklab_protocol::b64;

#[derive(Debug)]
pub struct NonceIssuer {
    key: hmac::Key,
    lifetime_secs: i64,
}

impl NonceIssuer {
    pub fn new(secret: Vec<u8>, lifetime_secs: i64) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, &secret),
            lifetime_secs: lifetime_secs.max(1),
        }
    }

    fn for_epoch(&self, epoch: i64) -> String {
        let e = epoch.to_be_bytes();
        let tag = hmac::sign(&self.key, &e);
        let mut bytes = e.to_vec();
        bytes.extend_from_slice(&tag.as_ref()[..16]);
        b64::encode(bytes)
    }

    /// The nonce to hand out at `now`.
    pub fn current(&self, now: i64) -> String {
        self.for_epoch(now.div_euclid(self.lifetime_secs))
    }

    /// The nonces a proof may carry at `now`.
    pub fn accepted(&self, now: i64) -> [String; 2] {
        let epoch = now.div_euclid(self.lifetime_secs);
        [self.for_epoch(epoch), self.for_epoch(epoch - 1)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_lives_one_to_two_lifetimes() {
        let n = NonceIssuer::new(vec![7; 32], 60);
        let issued = n.current(1_000_020); // epoch 16667 starts at 1_000_020
        assert!(n.accepted(1_000_020).contains(&issued));
        assert!(n.accepted(1_000_139).contains(&issued));
        assert!(!n.accepted(1_000_140).contains(&issued));
        let other = NonceIssuer::new(vec![8; 32], 60);
        assert!(!other.accepted(1_000_020).contains(&issued));
    }
}
