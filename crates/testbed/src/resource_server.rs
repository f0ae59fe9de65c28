//! The resource server: `GET /api/{path}` answers for a valid access token, checking its binding
//! — DPoP (RFC 9449 §7: proof with `ath`, key = `cnf.jkt`, `jti` in the shared replay store,
//! optional nonce), mTLS (RFC 8705 §3: the TLS client certificate's `x5t#S256` = `cnf`) — or
//! none (Bearer). Failures carry `WWW-Authenticate` challenges (RFC 6750 §3, RFC 9449 §7.1).
//!
//! The provider runs this server and the authorization server, so it reads the provider's state
//! directly: a client the provider disabled is refused at once, and with
//! [`AtRevocation::Introspection`] so is every revoked access token (what RFC 7662 would tell).
//!
//! Quotas are per grant (`client_id` + `sub` of the access token): failed proofs per minute and
//! live replay entries. A flood of proofs with throw-away keys fails the key-binding check before
//! its `jti` reaches the store, and a flood with one grant's token fills that grant's quota only.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use leaklab_protocol::access_token::{AccessTokenClaims, Confirmation};
use leaklab_protocol::challenge::{www_authenticate, Challenge};
use leaklab_protocol::oauth_error::OAuthError;
use leaklab_protocol::proof::ProofKind;
use leaklab_protocol::uri::NormalizedUri;
use leaklab_protocol::verify::{self, NonceCheck, ProofError, ProofRequest, VerifyPolicy};

use crate::access::{validate, AccessValidator};
use crate::clock::SharedClock;
use crate::http::{error_response, header_values, replay_refused, too_many};
use crate::nonce::NonceIssuer;
use crate::quota::FailureQuota;
use crate::store::{AsStore, SharedReplayStore};
use crate::tls::PeerCertificate;

/// Whether revoking a grant also stops its access tokens at this server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AtRevocation {
    /// Self-contained tokens: valid until `exp` (only a disabled client stops them).
    Expiry,
    /// Every call checks the token's grant and revocation state.
    Introspection,
}

#[derive(Clone, Debug)]
pub struct RsConfig {
    /// `https://127.0.0.1:PORT`, the base of every `htu`.
    pub base_url: String,
    pub issuer: String,
    pub audience: String,
    pub proof_max_age_secs: i64,
    pub proof_max_future_skew_secs: i64,
    pub nonce_lifetime_secs: Option<i64>,
    pub at_revocation: AtRevocation,
    pub failures_per_minute: u32,
}

/// Access tokens whose signature and claims were verified, by SHA-256 of the token: a client
/// sends one token with many proofs, and verifying its ES256 signature once instead of on every
/// call halves the signature work per request. `exp` is still checked on every call against the
/// clock; at `AT_CACHE_CAP` entries the cache is cleared (a flood of distinct tokens costs a
/// verification each, as without a cache).
const AT_CACHE_CAP: usize = 10_000;

pub struct RsState {
    pub config: RsConfig,
    verified: std::sync::Mutex<std::collections::HashMap<[u8; 32], Arc<AccessTokenClaims>>>,
    /// The normal form of `base_url + path` per request path (the same few paths every call):
    /// cleared at `HTU_CACHE_CAP` entries.
    htus: std::sync::RwLock<std::collections::HashMap<String, NormalizedUri>>,
    clock: SharedClock,
    validator: AccessValidator,
    provider: Arc<AsStore>,
    replay: Arc<SharedReplayStore>,
    policy: VerifyPolicy,
    nonces: Option<NonceIssuer>,
    failures: FailureQuota,
}

impl RsState {
    pub fn new(
        config: RsConfig,
        as_key: &leaklab_protocol::jwk::Jwk,
        provider: Arc<AsStore>,
        replay: Arc<SharedReplayStore>,
        nonce_secret: Vec<u8>,
        clock: SharedClock,
    ) -> RsState {
        RsState {
            verified: Default::default(),
            htus: Default::default(),
            validator: AccessValidator::new(&config.issuer, &config.audience, as_key),
            policy: VerifyPolicy {
                max_age_secs: config.proof_max_age_secs,
                max_future_skew_secs: config.proof_max_future_skew_secs,
                es256: leaklab_signers::aws_lc::verify_es256,
                ..VerifyPolicy::default()
            },
            nonces: config
                .nonce_lifetime_secs
                .map(|l| NonceIssuer::new(nonce_secret, l)),
            failures: FailureQuota::new(config.failures_per_minute),
            config,
            clock,
            provider,
            replay,
        }
    }
}

impl RsState {
    /// [`validate`] through the cache of verified tokens.
    fn validated(
        &self,
        token: &str,
        now: i64,
    ) -> Result<Arc<AccessTokenClaims>, crate::access::AccessError> {
        use sha2::{Digest, Sha256};
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let cached = self
            .verified
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .cloned();
        let claims = match cached {
            Some(c) => c,
            None => {
                let c = Arc::new(validate(token, &self.validator, now)?);
                let mut m = self.verified.lock().unwrap_or_else(|p| p.into_inner());
                if m.len() >= AT_CACHE_CAP {
                    m.clear();
                }
                m.insert(key, c.clone());
                c
            }
        };
        if now >= claims.exp {
            return Err(crate::access::AccessError::Expired);
        }
        Ok(claims)
    }

    /// The `htu` this server expects for `path`.
    fn htu(&self, path: &str) -> Result<NormalizedUri, String> {
        let cached = self
            .htus
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(path)
            .cloned();
        if let Some(u) = cached {
            return Ok(u);
        }
        let u = NormalizedUri::parse(&format!("{}{}", self.config.base_url, path))
            .map_err(|e| e.to_string())?;
        let mut m = self.htus.write().unwrap_or_else(|p| p.into_inner());
        if m.len() >= HTU_CACHE_CAP {
            m.clear();
        }
        m.insert(path.to_owned(), u.clone());
        Ok(u)
    }
}

const HTU_CACHE_CAP: usize = 1024;

pub fn router(state: Arc<RsState>) -> Router {
    Router::new()
        .route("/api/{*path}", any(api))
        .with_state(state)
}

/// A 401 with a challenge of the given scheme.
fn challenge(dpop: bool, error: OAuthError, description: &str) -> Response {
    let c = if dpop {
        Challenge::dpop().algs(&["ES256"])
    } else {
        Challenge::bearer()
    }
    .error(error)
    .error_description(description);
    let mut r = error_response(StatusCode::UNAUTHORIZED, error.as_str(), description);
    if let Ok(Ok(v)) = www_authenticate(&[c]).map(|s| HeaderValue::from_str(&s)) {
        r.headers_mut().insert("www-authenticate", v);
    }
    r
}

// The whole request rather than extractors: the `HeaderMap` and `Uri` extractors clone them,
// on every call.
async fn api(State(rs): State<Arc<RsState>>, req: axum::extract::Request) -> Response {
    let no_peer = PeerCertificate::default();
    let peer = req
        .extensions()
        .get::<PeerCertificate>()
        .unwrap_or(&no_peer);
    api_inner(&rs, peer, req.method(), req.uri().path(), req.headers()).unwrap_or_else(|e| e)
}

/// The `Authorization` header's scheme (`true`: DPoP, `false`: Bearer) and token.
fn authorization(headers: &HeaderMap) -> Result<(bool, &str), Response> {
    let auth = header_values(headers, &axum::http::header::AUTHORIZATION)
        .map_err(|e| challenge(false, OAuthError::InvalidRequest, &e))?;
    let [auth] = auth[..] else {
        return Err(challenge(
            false,
            OAuthError::InvalidRequest,
            "exactly one Authorization header is required",
        ));
    };
    let (scheme, token) = auth.split_once(' ').unwrap_or((auth, ""));
    let dpop_scheme = scheme.eq_ignore_ascii_case("DPoP");
    if !dpop_scheme && !scheme.eq_ignore_ascii_case("Bearer") {
        return Err(challenge(
            false,
            OAuthError::InvalidRequest,
            "Authorization scheme must be DPoP or Bearer",
        ));
    }
    Ok((dpop_scheme, token.trim()))
}

/// Verifies the call's DPoP proof for a token bound to `jkt`; `owner` (client and subject)
/// keys the replay store and the failure quota.
#[allow(clippy::too_many_arguments)]
fn verify_call_proof(
    rs: &RsState,
    headers: &HeaderMap,
    method: &Method,
    path: &str,
    token: &str,
    jkt: &str,
    owner: &str,
    now: i64,
) -> Result<(), Response> {
    let values = header_values(headers, &axum::http::HeaderName::from_static("dpop"))
        .map_err(|e| challenge(true, OAuthError::InvalidDpopProof, &e))?;
    let htu = rs.htu(path).map_err(|e| {
        challenge(
            true,
            OAuthError::InvalidRequest,
            &format!("request URI: {e}"),
        )
    })?;
    let accepted = rs.nonces.as_ref().map(|n| n.accepted(now));
    let accepted_refs: Option<Vec<&str>> = accepted
        .as_ref()
        .map(|a| a.iter().map(String::as_str).collect());
    let mut req = ProofRequest::new(ProofKind::Dpop, &values, method.as_str(), &htu);
    if let Some(a) = &accepted_refs {
        req.nonce = NonceCheck::OneOf(a);
    }
    req.access_token = Some(token);
    req.expected_jkt = Some(jkt);
    let mut replay = rs.replay.for_owner(owner);
    if let Err(rejection) = verify::verify(&req, &rs.policy, now, &mut replay) {
        match rejection.error {
            ProofError::ReplayStoreFull => return Err(replay_refused(replay.refusal())),
            ProofError::NonceMissing | ProofError::NonceMismatch => {
                let mut r = challenge(true, OAuthError::UseDpopNonce, rejection.reason());
                if let Some(n) = &rs.nonces {
                    if let Ok(v) = HeaderValue::from_str(&n.current(now)) {
                        r.headers_mut().insert("dpop-nonce", v);
                    }
                }
                return Err(r);
            }
            _ => {
                rs.failures.record(owner, now);
                return Err(challenge(
                    true,
                    OAuthError::InvalidDpopProof,
                    rejection.reason(),
                ));
            }
        }
    }
    Ok(())
}

/// What a successful call answers.
#[derive(serde::Serialize)]
struct Answer<'a> {
    path: &'a str,
    sub: &'a str,
    client_id: &'a str,
    token_iat: i64,
}

fn api_inner(
    rs: &RsState,
    peer: &PeerCertificate,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
) -> Result<Response, Response> {
    let now = rs.clock.now();
    let (dpop_scheme, token) = authorization(headers)?;
    let claims = rs
        .validated(token, now)
        .map_err(|e| challenge(dpop_scheme, OAuthError::InvalidToken, &e.to_string()))?;
    let server_error = |e: crate::store::StoreError| {
        error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            &e.to_string(),
        )
    };
    if rs.provider.client_disabled(&claims.client_id) {
        return Err(challenge(
            dpop_scheme,
            OAuthError::InvalidToken,
            "the provider disabled this client",
        ));
    }
    if rs.config.at_revocation == AtRevocation::Introspection
        && !rs
            .provider
            .access_token_active(&claims.jti)
            .map_err(server_error)?
    {
        return Err(challenge(
            dpop_scheme,
            OAuthError::InvalidToken,
            "access token revoked",
        ));
    }
    let owner = format!("{}|{}", claims.client_id, claims.sub);
    if rs.failures.exceeded(&owner, now) {
        return Err(too_many(
            "too many failed proofs for this grant; retry later",
        ));
    }
    match &claims.cnf {
        Some(Confirmation::Jkt(jkt)) => {
            if !dpop_scheme {
                return Err(challenge(
                    true,
                    OAuthError::InvalidToken,
                    "DPoP-bound access token sent with the Bearer scheme",
                ));
            }
            verify_call_proof(rs, headers, method, path, token, jkt, &owner, now)?;
        }
        Some(Confirmation::X5tS256(_)) => {
            let cnf = claims.cnf.as_ref();
            let ok = peer
                .0
                .as_deref()
                .is_some_and(|der| cnf.is_some_and(|c| c.matches_certificate(der)));
            if !ok {
                rs.failures.record(&owner, now);
                return Err(challenge(
                    false,
                    OAuthError::InvalidToken,
                    "certificate-bound access token without its client certificate",
                ));
            }
        }
        None => {
            if dpop_scheme {
                return Err(challenge(
                    true,
                    OAuthError::InvalidToken,
                    "Bearer access token sent with the DPoP scheme",
                ));
            }
        }
    }
    Ok(Json(Answer {
        path,
        sub: &claims.sub,
        client_id: &claims.client_id,
        token_iat: claims.iat,
    })
    .into_response())
}
