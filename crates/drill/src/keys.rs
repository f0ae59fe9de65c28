//! The keys of the drill's agents and attackers, and what they sign: DPoP and DPoP-RT proofs,
//! `private_key_jwt` assertions, JWKS documents.

use std::sync::{Arc, Mutex, MutexGuard};

use leaklab_protocol::client_auth::create_client_assertion;
use leaklab_protocol::proof::{self, ProofKind, ProofParams};
use leaklab_protocol::signer::{Signer, SoftwareSigner};
use rand::rngs::OsRng;

use crate::DrillError;

pub use leaklab_testbed::SharedSigner;

fn sign_err(e: impl std::fmt::Display) -> DrillError {
    DrillError::Sign(e.to_string())
}

fn lock(key: &SharedSigner) -> MutexGuard<'_, Box<dyn Signer>> {
    key.lock().unwrap_or_else(|p| p.into_inner())
}

/// A fresh software key.
pub(crate) fn software() -> SharedSigner {
    Arc::new(Mutex::new(
        Box::new(SoftwareSigner::generate(&mut OsRng)) as Box<dyn Signer>
    ))
}

/// The key's RFC 7638 thumbprint.
pub(crate) fn thumbprint(key: &SharedSigner) -> String {
    lock(key).public_jwk().thumbprint()
}

/// A DPoP proof for a request to the resource server with `access_token`.
pub(crate) fn call_proof(
    key: &SharedSigner,
    url: &str,
    now: i64,
    access_token: &str,
) -> Result<String, DrillError> {
    let mut params = ProofParams::new(ProofKind::Dpop, "GET", url, now);
    params.access_token = Some(access_token);
    sign_proof(key, &params)
}

/// A DPoP proof for the token endpoint (the key the new access token is bound to).
pub(crate) fn token_proof(
    key: &SharedSigner,
    token_url: &str,
    now: i64,
) -> Result<String, DrillError> {
    sign_proof(
        key,
        &ProofParams::new(ProofKind::Dpop, "POST", token_url, now),
    )
}

/// A DPoP-RT proof for refreshing `refresh_token`.
pub(crate) fn refresh_proof(
    key: &SharedSigner,
    token_url: &str,
    now: i64,
    refresh_token: &str,
) -> Result<String, DrillError> {
    let mut params = ProofParams::new(ProofKind::DpopRt, "POST", token_url, now);
    params.refresh_token = Some(refresh_token);
    sign_proof(key, &params)
}

fn sign_proof(key: &SharedSigner, params: &ProofParams<'_>) -> Result<String, DrillError> {
    let mut signer = lock(key);
    proof::create(params, signer.as_mut(), &mut OsRng).map_err(sign_err)
}

/// A `private_key_jwt` assertion, valid five minutes.
pub(crate) fn assertion(
    key: &SharedSigner,
    client_id: &str,
    token_url: &str,
    now: i64,
) -> Result<String, DrillError> {
    let mut signer = lock(key);
    let kid = signer.public_jwk().thumbprint();
    create_client_assertion(
        signer.as_mut(),
        Some(&kid),
        client_id,
        token_url,
        now,
        300,
        &mut OsRng,
    )
    .map_err(sign_err)
}

/// A JWKS document with `keys`, each with its thumbprint as `kid`.
pub(crate) fn jwks_document(keys: &[&SharedSigner]) -> String {
    let keys: Vec<serde_json::Value> = keys
        .iter()
        .map(|key| {
            let mut jwk = lock(key).public_jwk().to_json();
            jwk["kid"] = thumbprint(key).into();
            jwk
        })
        .collect();
    serde_json::json!({ "keys": keys }).to_string()
}
