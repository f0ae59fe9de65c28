//! Client authentication with `private_key_jwt` (RFC 7523 §2.2 / §3, OIDC Core §9) verified
//! against the client's JWKS through a sans-IO cache.
//!
//! **The JWKS strategy (what the simulator models).** The AS caches each client's JWKS document
//! for `max_age_secs` from the moment it was fetched. The cache performs no I/O: the caller asks
//! [`JwksCache::refetch_due`] (or gets [`KeyLookupError::RefetchDue`] from a lookup), fetches the
//! document itself, and hands it to [`JwksCache::store`] with `now`. Consequences, deliberately
//! kept:
//! * a key the client removes from its JWKS (e.g. after a leak) **keeps verifying until the
//!   cached copy ages out**, i.e. for up to `max_age_secs` after the removal is published;
//! * an unknown `kid` in a fresh cache is an error, not a refetch trigger, so a newly added key is
//!   usable only after the next scheduled refetch (no attacker-driven refetch storms).
//!
//! Checks on an assertion, in order: size bound, compact JWS syntax, `alg` (never `none` / MAC,
//! allow-listed), key selection by `kid` from the cached JWKS (a `kid`-less assertion is accepted
//! only when the JWKS holds exactly one usable key), signature, `iss` = `sub` = client_id, `aud`
//! contains the token endpoint URL, `exp` present and not passed, `exp` no further than
//! `max_lifetime_secs` ahead (which also bounds the replay store's memory), `nbf` if present,
//! `jti` present and unused (burnt last, keyed by client and `jti`).
//! <https://www.rfc-editor.org/rfc/rfc7523#section-3>

use std::collections::HashMap;

use rand::{CryptoRng, RngCore};
use serde_json::{Map, Value};

use super::access_token::Audience;
use super::jwk::{Jwk, JwkError};
use super::jws::{self, AlgError, JwsError, SignatureError};
use super::oauth_error::OAuthError;
use super::proof::new_jti;
use super::replay::{ReplayError, ReplayKey, ReplayStore};
use super::verify::numeric_date;
use crate::signer::{Signer, SignerError};

/// `client_assertion_type` for JWT client assertions (RFC 7523 §2.2).
pub const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// One usable key of a JWKS document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JwksKey {
    pub kid: Option<String>,
    pub jwk: Jwk,
}

/// Why a JWKS document is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwksError {
    #[error("JWKS document is not JSON")]
    NotJson,
    #[error("JWKS document has no `keys` array")]
    NoKeys,
    #[error("JWKS key #{0} contains private key material")]
    PrivateKey(usize),
}

/// Parses a JWKS document (RFC 7517 §5). Keys of a type this crate cannot represent are skipped
/// (a JWKS may legitimately carry other key types); a key with private members makes the whole
/// document invalid (the publisher is misconfigured).
pub fn parse_jwks(document: &str) -> Result<Vec<JwksKey>, JwksError> {
    let value: Value = serde_json::from_str(document).map_err(|_| JwksError::NotJson)?;
    let keys = value
        .get("keys")
        .and_then(Value::as_array)
        .ok_or(JwksError::NoKeys)?;
    let mut out = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        match Jwk::from_json(k) {
            Ok(jwk) => out.push(JwksKey {
                kid: k.get("kid").and_then(Value::as_str).map(str::to_owned),
                jwk,
            }),
            Err(JwkError::PrivateKeyMember(_)) => return Err(JwksError::PrivateKey(i)),
            Err(_) => {}
        }
    }
    Ok(out)
}

#[derive(Clone, Debug)]
struct Cached {
    fetched_at: i64,
    keys: Vec<JwksKey>,
}

/// Why no verification key is available.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyLookupError {
    /// No document cached for the client, or the cached one is older than the max-age: fetch and
    /// [`JwksCache::store`] it, then look up again.
    #[error("JWKS refetch due")]
    RefetchDue,
    #[error("no key with kid {0:?} in the cached JWKS")]
    UnknownKid(Option<String>),
}

/// Per-client JWKS cache with a max-age (see the module doc for the strategy).
#[derive(Clone, Debug)]
pub struct JwksCache {
    max_age_secs: i64,
    clients: HashMap<String, Cached>,
}

impl JwksCache {
    pub fn new(max_age_secs: i64) -> Self {
        Self {
            max_age_secs,
            clients: HashMap::new(),
        }
    }

    /// Whether the caller must fetch the client's JWKS before keys can be looked up.
    pub fn refetch_due(&self, client_id: &str, now: i64) -> bool {
        match self.clients.get(client_id) {
            Some(c) => now.saturating_sub(c.fetched_at) >= self.max_age_secs,
            None => true,
        }
    }

    /// Stores a freshly fetched document (replacing the old copy); returns the number of usable
    /// keys. On error the old copy is kept.
    pub fn store(&mut self, client_id: &str, document: &str, now: i64) -> Result<usize, JwksError> {
        let keys = parse_jwks(document)?;
        let n = keys.len();
        self.clients.insert(
            client_id.to_owned(),
            Cached {
                fetched_at: now,
                keys,
            },
        );
        Ok(n)
    }

    /// Drops the cached copy for `client_id`: the next use fetches the JWKS again (what a cache
    /// entry's ageing out amounts to).
    pub fn forget(&mut self, client_id: &str) {
        self.clients.remove(client_id);
    }

    /// The key for `kid` from a fresh cached copy.
    pub fn lookup(
        &self,
        client_id: &str,
        kid: Option<&str>,
        now: i64,
    ) -> Result<&Jwk, KeyLookupError> {
        if self.refetch_due(client_id, now) {
            return Err(KeyLookupError::RefetchDue);
        }
        let keys = self
            .clients
            .get(client_id)
            .map(|c| c.keys.as_slice())
            .unwrap_or(&[]);
        let found = match kid {
            Some(kid) => keys.iter().find(|k| k.kid.as_deref() == Some(kid)),
            None if keys.len() == 1 => keys.first(),
            None => None,
        };
        found
            .map(|k| &k.jwk)
            .ok_or_else(|| KeyLookupError::UnknownKid(kid.map(str::to_owned)))
    }
}

/// Server policy for client assertions.
#[derive(Clone, Debug)]
pub struct AssertionPolicy {
    pub max_bytes: usize,
    pub allowed_algs: Vec<String>,
    /// Largest accepted `exp - now`.
    pub max_lifetime_secs: i64,
    /// Clock leeway for `exp` and `nbf`.
    pub leeway_secs: i64,
}

impl Default for AssertionPolicy {
    fn default() -> Self {
        Self {
            max_bytes: 8192,
            allowed_algs: vec!["ES256".into()],
            max_lifetime_secs: 300,
            leeway_secs: 10,
        }
    }
}

/// A verified client assertion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedAssertion {
    pub client_id: String,
    pub jti: String,
    pub exp: i64,
}

/// Why a client assertion is refused. Every variant means `invalid_client` (RFC 6749 §5.2).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientAuthError {
    #[error("client assertion too large ({0} bytes)")]
    TooLarge(usize),
    #[error("client assertion is not a JWS: {0}")]
    Malformed(JwsError),
    #[error(transparent)]
    Alg(AlgError),
    #[error("verification key: {0}")]
    Key(KeyLookupError),
    #[error("signature: {0}")]
    Signature(SignatureError),
    #[error("claim `{0}` missing or of the wrong type")]
    MissingClaim(&'static str),
    #[error("iss is not the client_id")]
    Issuer,
    #[error("sub is not the client_id")]
    Subject,
    #[error("aud does not name the token endpoint")]
    Audience,
    #[error("assertion expired")]
    Expired,
    #[error("exp too far in the future")]
    LifetimeTooLong,
    #[error("assertion not yet valid (nbf)")]
    NotYetValid,
    #[error("jti already used")]
    Replayed,
    #[error("replay store full (failing closed)")]
    ReplayStoreFull,
}

impl ClientAuthError {
    pub fn oauth_error(&self) -> OAuthError {
        OAuthError::InvalidClient
    }

    /// Short name of the failed check.
    pub fn reason(&self) -> &'static str {
        match self {
            ClientAuthError::TooLarge(_) => "size",
            ClientAuthError::Malformed(_) => "jwt_syntax",
            ClientAuthError::Alg(_) => "alg",
            ClientAuthError::Key(KeyLookupError::RefetchDue) => "jwks_refetch_due",
            ClientAuthError::Key(KeyLookupError::UnknownKid(_)) => "unknown_kid",
            ClientAuthError::Signature(_) => "signature",
            ClientAuthError::MissingClaim(_) => "required_claims",
            ClientAuthError::Issuer => "iss",
            ClientAuthError::Subject => "sub",
            ClientAuthError::Audience => "aud",
            ClientAuthError::Expired => "exp",
            ClientAuthError::LifetimeTooLong => "exp_lifetime",
            ClientAuthError::NotYetValid => "nbf",
            ClientAuthError::Replayed => "jti_replay",
            ClientAuthError::ReplayStoreFull => "replay_store_full",
        }
    }
}

/// Verifies a `client_assertion` for `client_id` at `token_endpoint`.
pub fn verify_client_assertion(
    assertion: &str,
    client_id: &str,
    token_endpoint: &str,
    policy: &AssertionPolicy,
    cache: &JwksCache,
    replay: &mut dyn ReplayStore,
    now: i64,
) -> Result<VerifiedAssertion, ClientAuthError> {
    if assertion.len() > policy.max_bytes {
        return Err(ClientAuthError::TooLarge(assertion.len()));
    }
    let jws = jws::parse(assertion).map_err(ClientAuthError::Malformed)?;
    let alg = jws.header_str("alg").unwrap_or("");
    jws::check_alg(alg, &policy.allowed_algs).map_err(ClientAuthError::Alg)?;
    let key = cache
        .lookup(client_id, jws.header_str("kid"), now)
        .map_err(ClientAuthError::Key)?;
    jws.verify(alg, key).map_err(ClientAuthError::Signature)?;

    let c = &jws.claims;
    let s = |name: &'static str| {
        c.get(name)
            .and_then(Value::as_str)
            .ok_or(ClientAuthError::MissingClaim(name))
    };
    if s("iss")? != client_id {
        return Err(ClientAuthError::Issuer);
    }
    if s("sub")? != client_id {
        return Err(ClientAuthError::Subject);
    }
    let aud: Audience = c
        .get("aud")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .ok_or(ClientAuthError::MissingClaim("aud"))?;
    if !aud.contains(token_endpoint) {
        return Err(ClientAuthError::Audience);
    }
    let exp = c
        .get("exp")
        .and_then(numeric_date)
        .ok_or(ClientAuthError::MissingClaim("exp"))?;
    if now.saturating_sub(policy.leeway_secs) >= exp {
        return Err(ClientAuthError::Expired);
    }
    if exp.saturating_sub(now) > policy.max_lifetime_secs {
        return Err(ClientAuthError::LifetimeTooLong);
    }
    if let Some(nbf) = c.get("nbf") {
        let nbf = numeric_date(nbf).ok_or(ClientAuthError::MissingClaim("nbf"))?;
        if nbf > now.saturating_add(policy.leeway_secs) {
            return Err(ClientAuthError::NotYetValid);
        }
    }
    let jti = s("jti")?;
    let expires_at = exp.saturating_add(policy.leeway_secs);
    replay
        .check_and_insert(ReplayKey::client_assertion(client_id, jti), now, expires_at)
        .map_err(|e| match e {
            ReplayError::Replayed => ClientAuthError::Replayed,
            ReplayError::Full => ClientAuthError::ReplayStoreFull,
        })?;
    Ok(VerifiedAssertion {
        client_id: client_id.to_owned(),
        jti: jti.to_owned(),
        exp,
    })
}

/// Creates a client assertion (client side; tests and the simulator).
pub fn create_client_assertion(
    signer: &mut dyn Signer,
    kid: Option<&str>,
    client_id: &str,
    token_endpoint: &str,
    now: i64,
    lifetime_secs: i64,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<String, SignerError> {
    let mut header = Map::new();
    header.insert("alg".into(), signer.alg().into());
    if let Some(kid) = kid {
        header.insert("kid".into(), kid.into());
    }
    let mut claims = Map::new();
    claims.insert("iss".into(), client_id.into());
    claims.insert("sub".into(), client_id.into());
    claims.insert("aud".into(), token_endpoint.into());
    claims.insert("jti".into(), new_jti(rng).into());
    claims.insert("iat".into(), now.into());
    claims.insert("exp".into(), now.saturating_add(lifetime_secs).into());
    jws::sign(header, &claims, signer)
}
