//! Software ES256 through `aws-lc-rs` (AWS-LC's assembly-optimised P-256): the fastest practical
//! software back end in Rust, used as the reference point for the pure-Rust `p256` signer in
//! benches and `leaklab bench signers`.
//!
//! `ECDSA_P256_SHA256_FIXED_SIGNING` produces the JWS form (`r || s`, 32 bytes each) directly
//! (<https://docs.rs/aws-lc-rs/latest/aws_lc_rs/signature/index.html>).

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_FIXED_SIGNING};

use super::{jws_signature, Signer, SignerError};
use leaklab_protocol::jwk::Jwk;

/// An ES256 key held in process memory by AWS-LC.
pub struct AwsLcSigner {
    key: EcdsaKeyPair,
    rng: SystemRandom,
    jwk: Jwk,
}

impl AwsLcSigner {
    /// A fresh key from AWS-LC's generator.
    pub fn generate() -> Result<Self, SignerError> {
        let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .map_err(|e| SignerError::operation("aws-lc", "P-256 key generation", e))?;
        let (x, y) = jws_signature::p256_point(key.public_key().as_ref())?;
        Ok(Self {
            key,
            rng: SystemRandom::new(),
            jwk: Jwk::p256(&x, &y),
        })
    }
}

impl Signer for AwsLcSigner {
    fn public_jwk(&self) -> &Jwk {
        &self.jwk
    }

    fn sign(&mut self, message: &[u8]) -> Result<[u8; 64], SignerError> {
        let sig = self
            .key
            .sign(&self.rng, message)
            .map_err(|e| SignerError::operation("aws-lc", "ECDSA signing", e))?;
        let bytes = sig.as_ref();
        <[u8; 64]>::try_from(bytes).map_err(|_| SignerError::MalformedSignature {
            reason: format!("aws-lc returned {} bytes, expected 64", bytes.len()),
        })
    }

    fn describe(&self) -> String {
        "software aws-lc-rs".into()
    }
}

/// ES256 verification with aws-lc-rs, for `VerifyPolicy::es256` (a resource server verifies a
/// proof on every call; this is several times faster than the pure-Rust default). A point that is
/// not on the curve is reported as an invalid signature.
///
/// A client signs many proofs with one key, so each thread keeps the last [`PARSED_KEYS`] keys it
/// parsed (point validation and the `EVP_PKEY` built once per key, not per proof: a few percent
/// of a resource server's call). The cache is keyed by the whole point; a full cache is cleared,
/// so a flood of fresh keys costs one parse each, as without it.
pub fn verify_es256(
    jwk: &Jwk,
    signing_input: &[u8],
    signature: &[u8],
) -> Result<(), leaklab_protocol::jws::SignatureError> {
    use aws_lc_rs::signature::{ParsedPublicKey, ECDSA_P256_SHA256_FIXED};
    use leaklab_protocol::jws::SignatureError;
    use std::collections::HashMap;
    thread_local! {
        static KEYS: std::cell::RefCell<HashMap<[u8; 65], ParsedPublicKey>> =
            std::cell::RefCell::new(HashMap::new());
    }
    let point = jwk.p256_sec1().map_err(SignatureError::KeyMismatch)?;
    KEYS.with_borrow_mut(|keys| {
        if !keys.contains_key(&point) {
            let parsed = ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &point[..])
                .map_err(|_| SignatureError::Invalid)?;
            if keys.len() >= PARSED_KEYS {
                keys.clear();
            }
            keys.insert(point, parsed);
        }
        keys[&point]
            .verify_sig(signing_input, signature)
            .map_err(|_| SignatureError::Invalid)
    })
}

/// Parsed verification keys kept per thread by [`verify_es256`].
pub const PARSED_KEYS: usize = 1024;

#[cfg(test)]
mod tests {
    use super::*;

    /// The per-thread cache of parsed keys never lets one key verify another's signature, nor
    /// after it was cleared for being full.
    #[test]
    fn cached_keys_verify_only_their_own_signatures() {
        let mut a = AwsLcSigner::generate().expect("key");
        let mut b = AwsLcSigner::generate().expect("key");
        let msg = b"signing input";
        let (sa, sb) = (a.sign(msg).expect("sign"), b.sign(msg).expect("sign"));
        for _ in 0..2 {
            assert!(verify_es256(a.public_jwk(), msg, &sa).is_ok());
            assert!(verify_es256(b.public_jwk(), msg, &sb).is_ok());
            assert!(verify_es256(b.public_jwk(), msg, &sa).is_err());
            assert!(verify_es256(a.public_jwk(), msg, &sb).is_err());
            assert!(verify_es256(a.public_jwk(), b"other input", &sa).is_err());
            // More keys than the cache holds: it is cleared and a and b are parsed again.
            for _ in 0..PARSED_KEYS {
                let mut k = AwsLcSigner::generate().expect("key");
                let s = k.sign(msg).expect("sign");
                assert!(verify_es256(k.public_jwk(), msg, &s).is_ok());
            }
        }
    }
}
