//! The authorization server: `POST /token` (refresh-token grant), `POST /revoke` (RFC 7009),
//! `POST /introspect` (RFC 7662 with `cnf`), `GET /jwks` (its signing key) and the admin
//! actions a provider has (register a client, provision a grant, revoke a grant, revoke every
//! grant of a client, age out a client's cached JWKS).
//!
//! Every protocol decision comes from the sans-IO core: proof checks from
//! [`leaklab_protocol::verify`], the binding decision from [`leaklab_protocol::token_endpoint`],
//! client assertions from [`leaklab_protocol::client_auth`]. This module does I/O and state:
//! it reads the request, asks the core, commits the outcome to SQLite, answers.
//!
//! Access tokens are RFC 9068 `at+jwt`, signed and verified with `jsonwebtoken` (ES256 on
//! aws-lc-rs), bound with `cnf.jkt` (DPoP) or `cnf.x5t#S256` (mTLS, RFC 8705 §3).

use std::sync::Arc;

use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Json, Router};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use leaklab_jwks_fetch::{FetchConfig, JwksFetcher};
use leaklab_protocol::access_token::{AccessTokenClaims, Audience, Confirmation};
use leaklab_protocol::client_auth::{
    verify_client_assertion, AssertionPolicy, ClientAuthError, JwksCache, KeyLookupError,
    CLIENT_ASSERTION_TYPE,
};
use leaklab_protocol::introspection::{ActiveToken, Introspection};
use leaklab_protocol::jwk::Jwk;
use leaklab_protocol::oauth_error::OAuthError;
use leaklab_protocol::proof::ProofKind;
use leaklab_protocol::token_endpoint::{
    decide, AtBinding, ClientType, GrantType, ProofOutcome, RtBinding, RtOutcome, TokenDecision,
    TokenRequest,
};
use leaklab_protocol::uri::NormalizedUri;
use leaklab_protocol::verify::{self, NonceCheck, ProofError, ProofRequest, VerifyPolicy};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::clock::SharedClock;
use crate::http::{error_response, header_values, replay_refused, too_many, FormParams};
use crate::nonce::NonceIssuer;
use crate::quota::FailureQuota;
use crate::store::{
    AsStore, ClientAuthMethod, ClientRecord, ReplayRefusal, Rotation, RtLookup, SharedReplayStore,
    StoreError,
};
use crate::tls::PeerCertificate;

/// Authorization-server policy.
#[derive(Clone, Debug)]
pub struct AsConfig {
    /// `iss` of access tokens, and the base of the token endpoint URL.
    pub issuer: String,
    /// `aud` of access tokens (the resource server).
    pub audience: String,
    pub at_lifetime_secs: i64,
    /// DPoP / DPoP-RT proof `iat` window.
    pub proof_max_age_secs: i64,
    pub proof_max_future_skew_secs: i64,
    /// Server nonces (RFC 9449 §8) for DPoP and DPoP-RT proofs, valid this long; `None`: off.
    pub nonce_lifetime_secs: Option<i64>,
    /// How long a fetched client JWKS is used before it is fetched again.
    pub jwks_max_age_secs: i64,
    /// An assertion with an unknown `kid` makes the AS fetch the client's JWKS again (a key
    /// the client added since the last fetch), at most once per this many seconds per client,
    /// counted from the last attempt whether or not it succeeded.
    pub unknown_kid_refetch_secs: i64,
    /// Failed proofs or client authentications per client per minute before `429`.
    pub failures_per_minute: u32,
    /// Bearer secret for the admin and introspection endpoints.
    pub admin_token: String,
    /// Trust anchors (PEM) for fetching clients' JWKS over HTTPS.
    pub jwks_trust_pem: Vec<u8>,
    /// The CA's CRL for fetches that check the host's revocation (see [`AsState::set_jwks_crl`]);
    /// `None`: such fetches are refused until one is set (failing closed).
    pub jwks_crl: Option<rustls::pki_types::CertificateRevocationListDer<'static>>,
}

impl AsConfig {
    pub fn token_url(&self) -> String {
        format!("{}/token", self.issuer)
    }
}

/// Shared state of one authorization-server instance.
pub struct AsState {
    pub config: AsConfig,
    pub store: Arc<AsStore>,
    pub clock: SharedClock,
    replay: SharedReplayStore,
    signing: EncodingKey,
    kid: String,
    public_jwk: Jwk,
    token_htu: NormalizedUri,
    policy: VerifyPolicy,
    nonces: Option<NonceIssuer>,
    /// Held for lookups and stores only, never across a fetch.
    jwks: std::sync::Mutex<JwksCache>,
    fetchers: std::sync::RwLock<JwksFetchers>,
    /// Per client: the last unknown-`kid` refetch attempt.
    unknown_kid_fetches: std::sync::Mutex<std::collections::HashMap<String, i64>>,
    failures: FailureQuota,
}

/// The JWKS fetchers, on the AS's clock: one trusts a host certificate until it expires, the
/// other also checks it against the CA's published CRL (a client registration chooses).
struct JwksFetchers {
    plain: JwksFetcher,
    /// `None` until the AS has a CRL to check against.
    checking: Option<JwksFetcher>,
}

fn lock_jwks(m: &std::sync::Mutex<JwksCache>) -> std::sync::MutexGuard<'_, JwksCache> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// rustls reads the time of certificate checks from here: the AS's clock, so a drill's
/// compressed time decides when a host certificate has expired.
struct ClockTime(SharedClock);

impl std::fmt::Debug for ClockTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClockTime")
    }
}

impl rustls::time_provider::TimeProvider for ClockTime {
    fn current_time(&self) -> Option<rustls::pki_types::UnixTime> {
        let secs = u64::try_from(self.0.now()).ok()?;
        Some(rustls::pki_types::UnixTime::since_unix_epoch(
            std::time::Duration::from_secs(secs),
        ))
    }
}

/// A JWKS fetcher trusting `trust_pem`, checking host certificates against `crl` if given.
fn jwks_fetcher(
    trust_pem: &[u8],
    crl: Option<rustls::pki_types::CertificateRevocationListDer<'static>>,
    clock: &SharedClock,
) -> Result<JwksFetcher, AsError> {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    let err = |e: &dyn std::fmt::Display| AsError::Fetcher(e.to_string());
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(trust_pem) {
        roots.add(cert.map_err(|e| err(&e))?).map_err(|e| err(&e))?;
    }
    let mut verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    );
    if let Some(crl) = crl {
        verifier = verifier.with_crls([crl]).only_check_end_entity_revocation();
    }
    let verifier = verifier.build().map_err(|e| err(&e))?;
    let mut tls =
        rustls::ClientConfig::builder_with_details(provider, Arc::new(ClockTime(clock.clone())))
            .with_safe_default_protocol_versions()
            .map_err(|e| err(&e))?
            .with_webpki_verifier(verifier)
            .with_no_client_auth();
    // Every fetch checks the host's certificate afresh: a resumed session would skip the check
    // and keep trusting a certificate revoked or expired since the last fetch.
    tls.resumption = rustls::client::Resumption::disabled();
    JwksFetcher::with_tls(&FetchConfig::default(), tls).map_err(|e| err(&e))
}

#[derive(Debug, thiserror::Error)]
pub enum AsError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("token endpoint URL {0}: {1}")]
    Url(String, String),
    #[error("JWKS fetcher: {0}")]
    Fetcher(String),
    #[error("signing key: {0}")]
    Key(String),
}

/// The AS's ES256 key: created once and kept in the database, so tokens survive restarts.
fn signing_key(store: &AsStore) -> Result<(EncodingKey, Jwk), AsError> {
    use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
    let pkcs8 = store.meta_or_init("as_signing_key_pkcs8", || {
        EcdsaKeyPair::generate_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &aws_lc_rs::rand::SystemRandom::new(),
        )
        .map(|d| d.as_ref().to_vec())
        .unwrap_or_default()
    })?;
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8)
        .map_err(|e| AsError::Key(e.to_string()))?;
    let point = pair.public_key().as_ref();
    if point.len() != 65 {
        return Err(AsError::Key(
            "public key is not an uncompressed P-256 point".into(),
        ));
    }
    let (mut x, mut y) = ([0u8; 32], [0u8; 32]);
    x.copy_from_slice(&point[1..33]);
    y.copy_from_slice(&point[33..65]);
    Ok((EncodingKey::from_ec_der(&pkcs8), Jwk::p256(&x, &y)))
}

impl AsState {
    pub fn new(
        config: AsConfig,
        store: Arc<AsStore>,
        replay: SharedReplayStore,
        clock: SharedClock,
    ) -> Result<AsState, AsError> {
        let (signing, public_jwk) = signing_key(&store)?;
        let token_url = config.token_url();
        let token_htu = NormalizedUri::parse(&token_url)
            .map_err(|e| AsError::Url(token_url.clone(), e.to_string()))?;
        let policy = VerifyPolicy {
            max_age_secs: config.proof_max_age_secs,
            max_future_skew_secs: config.proof_max_future_skew_secs,
            es256: leaklab_signers::aws_lc::verify_es256,
            ..VerifyPolicy::default()
        };
        let nonces = match config.nonce_lifetime_secs {
            Some(life) => Some(NonceIssuer::new(
                store.meta_or_init("nonce_secret", crate::store::new_token_bytes)?,
                life,
            )),
            None => None,
        };
        let fetchers = JwksFetchers {
            plain: jwks_fetcher(&config.jwks_trust_pem, None, &clock)?,
            checking: match &config.jwks_crl {
                Some(crl) => Some(jwks_fetcher(
                    &config.jwks_trust_pem,
                    Some(crl.clone()),
                    &clock,
                )?),
                None => None,
            },
        };
        Ok(AsState {
            kid: public_jwk.thumbprint(),
            jwks: std::sync::Mutex::new(JwksCache::new(config.jwks_max_age_secs)),
            unknown_kid_fetches: Default::default(),
            failures: FailureQuota::new(config.failures_per_minute),
            config,
            store,
            clock,
            replay,
            signing,
            public_jwk,
            token_htu,
            policy,
            nonces,
            fetchers: std::sync::RwLock::new(fetchers),
        })
    }

    /// Host certificates of JWKS fetches that check revocation are checked against `crl` from
    /// now on (a CRL the CA published).
    pub fn set_jwks_crl(
        &self,
        crl: rustls::pki_types::CertificateRevocationListDer<'static>,
    ) -> Result<(), AsError> {
        let checking = jwks_fetcher(&self.config.jwks_trust_pem, Some(crl), &self.clock)?;
        self.fetchers
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .checking = Some(checking);
        Ok(())
    }

    /// The fetcher for a client, taken right before each fetch (so a fetch started after a CRL
    /// was set checks against it).
    fn jwks_fetcher(&self, check_host_revocation: bool) -> Option<JwksFetcher> {
        let f = self.fetchers.read().unwrap_or_else(|p| p.into_inner());
        if check_host_revocation {
            f.checking.clone()
        } else {
            Some(f.plain.clone())
        }
    }

    /// Fetches `client_id`'s JWKS into the cache.
    async fn fetch_jwks(
        &self,
        client_id: &str,
        jwks_uri: &str,
        check_host_revocation: bool,
        now: i64,
    ) -> Result<(), String> {
        let fetcher = self
            .jwks_fetcher(check_host_revocation)
            .ok_or("no CRL to check the JWKS host's certificate against")?;
        let fetched = fetcher.fetch(jwks_uri).await.map_err(|e| e.to_string())?;
        lock_jwks(&self.jwks)
            .store(client_id, &fetched.document, now)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// Whether an unknown `kid` may make the AS fetch `client_id`'s JWKS now (and records the
    /// attempt when it may).
    fn unknown_kid_refetch(&self, client_id: &str, now: i64) -> bool {
        let mut last = self
            .unknown_kid_fetches
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let allowed = last
            .get(client_id)
            .is_none_or(|at| now.saturating_sub(*at) >= self.config.unknown_kid_refetch_secs);
        if allowed {
            last.insert(client_id.to_owned(), now);
        }
        allowed
    }

    /// The public key resource servers verify access tokens with.
    pub fn public_jwk(&self) -> &Jwk {
        &self.public_jwk
    }
}

/// The AS routes.
pub fn router(state: Arc<AsState>) -> Router {
    Router::new()
        .route("/token", post(token))
        .route("/revoke", post(revoke))
        .route("/introspect", post(introspect))
        .route("/jwks", get(jwks))
        .route("/admin/clients", post(admin_register))
        .route("/admin/grants", post(admin_provision))
        .route("/admin/grants/{family}/revoke", post(admin_revoke_grant))
        .route(
            "/admin/clients/{client_id}/revoke-all",
            post(admin_revoke_all),
        )
        .route(
            "/admin/clients/{client_id}/jwks-cache/expire",
            post(admin_expire_jwks),
        )
        .with_state(state)
}

type Reply = Result<Response, Response>;

fn store_error(e: StoreError) -> Response {
    error_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        "server_error",
        &e.to_string(),
    )
}

fn oauth(error: OAuthError, description: &str) -> Response {
    let status = match error {
        OAuthError::InvalidClient => StatusCode::UNAUTHORIZED,
        _ => StatusCode::BAD_REQUEST,
    };
    error_response(status, error.as_str(), description)
}

fn form(f: Result<Form<Vec<(String, String)>>, FormRejection>) -> Result<FormParams, Response> {
    let Form(pairs) = f.map_err(|e| {
        // An oversized body keeps its 413; every other unreadable body is a 400.
        let status = if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            StatusCode::PAYLOAD_TOO_LARGE
        } else {
            StatusCode::BAD_REQUEST
        };
        error_response(status, OAuthError::InvalidRequest.as_str(), &e.body_text())
    })?;
    FormParams::new(pairs).map_err(|e| oauth(OAuthError::InvalidRequest, &e))
}

fn is_admin(state: &AsState, headers: &HeaderMap) -> bool {
    let expected = format!("Bearer {}", state.config.admin_token);
    headers
        .get(axum::http::header::AUTHORIZATION)
        .is_some_and(|v| {
            aws_lc_rs::constant_time::verify_slices_are_equal(v.as_bytes(), expected.as_bytes())
                .is_ok()
        })
}

fn admin_only(state: &AsState, headers: &HeaderMap) -> Result<(), Response> {
    if is_admin(state, headers) {
        Ok(())
    } else {
        Err(error_response(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "admin token required",
        ))
    }
}

/// Client authentication (RFC 6749 §2.3, RFC 7523, RFC 8705 §2). Returns the client.
async fn authenticate(
    state: &AsState,
    form: &FormParams,
    peer: &PeerCertificate,
    now: i64,
) -> Result<ClientRecord, Response> {
    let assertion = form.get("client_assertion");
    let client_id = match (form.get("client_id"), assertion) {
        (Some(id), _) => id.to_owned(),
        (None, Some(a)) => leaklab_protocol::jws::parse(a)
            .ok()
            .and_then(|j| {
                j.claims
                    .get("iss")
                    .and_then(|v| v.as_str())
                    .map(str::to_owned)
            })
            .ok_or_else(|| {
                oauth(
                    OAuthError::InvalidClient,
                    "client assertion has no readable iss",
                )
            })?,
        (None, None) => return Err(oauth(OAuthError::InvalidClient, "no client_id")),
    };
    if state.failures.exceeded(&client_id, now) {
        return Err(too_many(
            "too many failed proofs or authentications from this client; retry later",
        ));
    }
    let fail = |why: &str| {
        state.failures.record(&client_id, now);
        oauth(OAuthError::InvalidClient, why)
    };
    let client = state
        .store
        .client(&client_id)
        .map_err(store_error)?
        .ok_or_else(|| fail("unknown client"))?;
    if client.disabled_at.is_some() {
        return Err(fail("client disabled by the provider"));
    }
    match &client.config.auth {
        ClientAuthMethod::None => {
            if assertion.is_some() {
                return Err(fail("public client sent a client assertion"));
            }
        }
        ClientAuthMethod::TlsClientAuth { x5t_s256 } => {
            let ok = peer.0.as_deref().is_some_and(|der| {
                Confirmation::X5tS256(x5t_s256.clone()).matches_certificate(der)
            });
            if !ok {
                return Err(fail("client certificate missing or not the registered one"));
            }
        }
        ClientAuthMethod::PrivateKeyJwt {
            jwks_uri,
            check_host_revocation,
        } => {
            if form.get("client_assertion_type") != Some(CLIENT_ASSERTION_TYPE) {
                return Err(fail("client_assertion_type must be jwt-bearer"));
            }
            let Some(assertion) = assertion else {
                return Err(fail("client_assertion missing"));
            };
            let jwks = ClientJwks {
                client_id: &client_id,
                uri: jwks_uri,
                check_host_revocation: *check_host_revocation,
            };
            verify_assertion(state, &jwks, assertion, now, &fail).await?;
        }
    }
    Ok(client)
}

/// Where a `private_key_jwt` client publishes its keys.
struct ClientJwks<'a> {
    client_id: &'a str,
    uri: &'a str,
    check_host_revocation: bool,
}

/// Verifies a client assertion against the client's JWKS, fetched when the cache is due or
/// (rate-limited) when the assertion names a key the cache does not hold. `fail` counts a
/// failure against the client and words the refusal.
async fn verify_assertion(
    state: &AsState,
    jwks: &ClientJwks<'_>,
    assertion: &str,
    now: i64,
    fail: &impl Fn(&str) -> Response,
) -> Result<(), Response> {
    let client_id = jwks.client_id;
    let fetch = || async {
        state
            .fetch_jwks(client_id, jwks.uri, jwks.check_host_revocation, now)
            .await
            .map_err(|e| fail(&format!("client JWKS could not be fetched: {e}")))
    };
    // The cache is never held across a fetch: one slow host holds up no other client.
    if lock_jwks(&state.jwks).refetch_due(client_id, now) {
        fetch().await?;
    }
    let mut replay = state.replay.for_owner(client_id);
    let verify = |replay: &mut crate::store::OwnerReplay<'_>| {
        verify_client_assertion(
            assertion,
            client_id,
            &state.config.token_url(),
            &AssertionPolicy::default(),
            &lock_jwks(&state.jwks),
            replay,
            now,
        )
    };
    let mut verified = verify(&mut replay);
    // A key the client published since the last fetch: fetch again (rate-limited).
    if matches!(
        verified,
        Err(ClientAuthError::Key(KeyLookupError::UnknownKid(_)))
    ) && state.unknown_kid_refetch(client_id, now)
    {
        fetch().await?;
        verified = verify(&mut replay);
    }
    if let Err(e) = verified {
        if replay.refusal() != ReplayRefusal::None {
            return Err(replay_refused(replay.refusal()));
        }
        return Err(fail(&format!("client assertion: {e}")));
    }
    Ok(())
}

const DPOP: HeaderName = HeaderName::from_static("dpop");
const DPOP_RT: HeaderName = HeaderName::from_static("dpop-rt");

async fn token(
    State(state): State<Arc<AsState>>,
    peer: Option<Extension<PeerCertificate>>,
    headers: HeaderMap,
    body: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let peer = peer.map(|Extension(p)| p).unwrap_or_default();
    token_inner(&state, &peer, &headers, body)
        .await
        .unwrap_or_else(|e| e)
}

async fn token_inner(
    state: &AsState,
    peer: &PeerCertificate,
    headers: &HeaderMap,
    body: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Reply {
    let now = state.clock.now();
    let form = form(body)?;
    match form.require("grant_type").map_err(|e| oauth(OAuthError::InvalidRequest, &e))? {
        "refresh_token" => {}
        other => {
            return Err(oauth(
                OAuthError::UnsupportedGrantType,
                &format!("grant_type `{other}` (this server issues tokens by refresh only; grants are provisioned by the admin API)"),
            ))
        }
    }
    let rt = form
        .require("refresh_token")
        .map_err(|e| oauth(OAuthError::InvalidRequest, &e))?;
    let client = authenticate(state, &form, peer, now).await?;
    let grant = lookup_grant(state, &client, rt, now)?;
    let proofs = verify_proofs(state, headers, &client.config.client_id, rt, now)?;
    let decision = proofs.decide(state, &client, &grant.binding, now)?;
    let refresh_token = match &decision.refresh_token {
        RtOutcome::Rotated(binding) => {
            Some(rotate(state, &client, rt, grant.family, binding, now)?)
        }
        _ => None,
    };
    let response = issue_access_token(state, &client, peer, grant, &decision, refresh_token, now)?;
    let mut r = Json(response).into_response();
    r.headers_mut()
        .insert("cache-control", HeaderValue::from_static("no-store"));
    if let Some(n) = &state.nonces {
        if let Ok(v) = HeaderValue::from_str(&n.current(now)) {
            r.headers_mut().insert("dpop-nonce", v);
        }
    }
    Ok(r)
}

/// The grant a presented refresh token belongs to.
struct GrantRecord {
    family: i64,
    sub: String,
    binding: RtBinding,
}

/// The client's current refresh token's grant. A stale one (already rotated away) is a reuse:
/// under reuse detection its family is revoked.
fn lookup_grant(
    state: &AsState,
    client: &ClientRecord,
    rt: &str,
    now: i64,
) -> Result<GrantRecord, Response> {
    let client_id = client.config.client_id.as_str();
    match state.store.lookup_refresh(rt).map_err(store_error)? {
        RtLookup::Current {
            family,
            client_id: owner,
            sub,
            binding,
        } if owner == client_id => Ok(GrantRecord {
            family,
            sub,
            binding,
        }),
        RtLookup::Stale {
            family,
            client_id: owner,
        } if owner == client_id => Err(reuse_refused(
            state,
            client,
            family,
            "refresh token reuse detected",
            now,
        )),
        _ => Err(oauth(
            OAuthError::InvalidGrant,
            "refresh token is unknown, revoked or another client's",
        )),
    }
}

/// The answer to a refresh token used again: under reuse detection its family is revoked
/// (`why` is recorded).
fn reuse_refused(
    state: &AsState,
    client: &ClientRecord,
    family: i64,
    why: &str,
    now: i64,
) -> Response {
    if client.config.reuse_detection {
        if let Err(e) = state.store.revoke_family(family, why, now) {
            return store_error(e);
        }
    }
    oauth(OAuthError::InvalidGrant, "refresh token was already used")
}

type ProofResult = Option<Result<verify::VerifiedProof, verify::ProofRejection>>;

/// The token request's proofs, each absent, verified or rejected: the DPoP proof shows the key
/// of the new access token, the DPoP-RT proof the key the refresh token is bound to.
struct Proofs {
    dpop: ProofResult,
    dpop_rt: ProofResult,
}

/// Verifies the request's `DPoP` and `DPoP-RT` proofs. A full replay store or a missing or
/// stale server nonce is answered here; other rejections go to the core's decision.
fn verify_proofs(
    state: &AsState,
    headers: &HeaderMap,
    client_id: &str,
    rt: &str,
    now: i64,
) -> Result<Proofs, Response> {
    let dpop_values =
        header_values(headers, &DPOP).map_err(|e| oauth(OAuthError::InvalidDpopProof, &e))?;
    let rt_values =
        header_values(headers, &DPOP_RT).map_err(|e| oauth(OAuthError::InvalidDpopRtProof, &e))?;
    let nonce_set = state.nonces.as_ref().map(|n| n.accepted(now));
    let nonce_refs: Vec<Vec<&str>> = nonce_set
        .iter()
        .map(|pair| pair.iter().map(String::as_str).collect())
        .collect();
    let nonce = match nonce_refs.first() {
        Some(accepted) => NonceCheck::OneOf(accepted),
        None => NonceCheck::NotRequired,
    };
    let mut replay = state.replay.for_owner(client_id);
    let dpop = (!dpop_values.is_empty()).then(|| {
        let mut req = ProofRequest::new(ProofKind::Dpop, &dpop_values, "POST", &state.token_htu);
        req.nonce = nonce;
        verify::verify(&req, &state.policy, now, &mut replay)
    });
    let dpop_jti = dpop
        .as_ref()
        .and_then(|r| r.as_ref().ok())
        .map(|p| p.jti.clone());
    let dpop_rt = (!rt_values.is_empty()).then(|| {
        let mut req = ProofRequest::new(ProofKind::DpopRt, &rt_values, "POST", &state.token_htu);
        req.nonce = nonce;
        req.refresh_token = Some(rt);
        req.other_jti = dpop_jti.as_deref();
        verify::verify(&req, &state.policy, now, &mut replay)
    });
    for rejection in [&dpop, &dpop_rt]
        .into_iter()
        .flatten()
        .filter_map(|r| r.as_ref().err())
    {
        match rejection.error {
            ProofError::ReplayStoreFull => return Err(replay_refused(replay.refusal())),
            ProofError::NonceMissing | ProofError::NonceMismatch => {
                let mut r = oauth(rejection.oauth_error(), rejection.reason());
                if let Some(n) = &state.nonces {
                    if let Ok(v) = HeaderValue::from_str(&n.current(now)) {
                        r.headers_mut()
                            .insert(rejection.kind.nonce_header_name(), v);
                    }
                }
                return Err(r);
            }
            _ => {}
        }
    }
    Ok(Proofs { dpop, dpop_rt })
}

fn outcome(proof: &ProofResult) -> ProofOutcome<'_> {
    match proof {
        None => ProofOutcome::Absent,
        Some(Ok(p)) => ProofOutcome::Verified(p),
        Some(Err(e)) => ProofOutcome::Rejected(e),
    }
}

impl Proofs {
    /// The protocol core's decision on the refresh; a refused proof counts against the
    /// client's failure quota.
    fn decide(
        &self,
        state: &AsState,
        client: &ClientRecord,
        presented: &RtBinding,
        now: i64,
    ) -> Result<TokenDecision, Response> {
        let client_type = match client.config.auth {
            ClientAuthMethod::None => ClientType::Public,
            _ => ClientType::Confidential,
        };
        decide(&TokenRequest {
            grant_type: GrantType::RefreshToken,
            client_type,
            metadata: &client.config.metadata,
            dpop: outcome(&self.dpop),
            dpop_rt: outcome(&self.dpop_rt),
            presented_rt: Some(presented),
            issue_refresh_token: client.config.rotation,
        })
        .map_err(|e| {
            if matches!(
                e.error,
                OAuthError::InvalidDpopProof | OAuthError::InvalidDpopRtProof
            ) {
                state.failures.record(&client.config.client_id, now);
            }
            oauth(e.error, e.reason)
        })
    }
}

/// Rotates the refresh token; losing the race to a concurrent refresh is a reuse.
fn rotate(
    state: &AsState,
    client: &ClientRecord,
    rt: &str,
    family: i64,
    binding: &RtBinding,
    now: i64,
) -> Result<String, Response> {
    match state
        .store
        .rotate(rt, family, binding, now)
        .map_err(store_error)?
    {
        Rotation::Rotated { refresh_token } => Ok(refresh_token),
        Rotation::LostRace => Err(reuse_refused(
            state,
            client,
            family,
            "refresh token reuse detected (concurrent)",
            now,
        )),
    }
}

/// A successful token response (RFC 6749 §5.1), in this field order on the wire.
#[derive(Serialize)]
struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
}

/// Signs the new access token, bound as the decision says (DPoP key, or the client
/// certificate for certificate-bound tokens), and records it under the grant.
fn issue_access_token(
    state: &AsState,
    client: &ClientRecord,
    peer: &PeerCertificate,
    grant: GrantRecord,
    decision: &TokenDecision,
    refresh_token: Option<String>,
    now: i64,
) -> Result<TokenResponse, Response> {
    let cnf = match (
        &decision.access_token,
        client.config.certificate_bound_access_tokens,
        &peer.0,
    ) {
        (AtBinding::Jkt(j), _, _) => Some(Confirmation::Jkt(j.clone())),
        (_, true, Some(der)) => Some(Confirmation::X5tS256(
            leaklab_protocol::access_token::x5t_s256(der),
        )),
        _ => None,
    };
    let token_type = match &cnf {
        Some(Confirmation::Jkt(_)) => "DPoP",
        _ => "Bearer",
    };
    let claims = AccessTokenClaims {
        iss: state.config.issuer.clone(),
        exp: now + state.config.at_lifetime_secs,
        aud: Audience::One(state.config.audience.clone()),
        sub: grant.sub,
        client_id: client.config.client_id.clone(),
        iat: now,
        jti: crate::store::new_token(),
        scope: None,
        cnf,
    };
    let mut header = Header::new(Algorithm::ES256);
    header.typ = Some("at+jwt".into());
    header.kid = Some(state.kid.clone());
    let access_token = jsonwebtoken::encode(&header, &claims, &state.signing).map_err(|e| {
        error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            &e.to_string(),
        )
    })?;
    state
        .store
        .record_access_token(&claims.jti, grant.family, claims.exp)
        .map_err(store_error)?;
    Ok(TokenResponse {
        access_token,
        token_type,
        expires_in: state.config.at_lifetime_secs,
        refresh_token,
    })
}

/// RFC 7009: the client revokes a refresh token (its grant family) or an access token. Unknown
/// tokens are answered 200 as the RFC requires.
async fn revoke(
    State(state): State<Arc<AsState>>,
    peer: Option<Extension<PeerCertificate>>,
    body: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let peer = peer.map(|Extension(p)| p).unwrap_or_default();
    let run = async {
        let now = state.clock.now();
        let form = form(body)?;
        let token = form
            .require("token")
            .map_err(|e| oauth(OAuthError::InvalidRequest, &e))?;
        let client = authenticate(&state, &form, &peer, now).await?;
        match state.store.lookup_refresh(token).map_err(store_error)? {
            RtLookup::Current {
                family, client_id, ..
            }
            | RtLookup::Stale { family, client_id }
                if client_id == client.config.client_id =>
            {
                state
                    .store
                    .revoke_family(family, "revoked by the client (RFC 7009)", now)
                    .map_err(store_error)?;
            }
            _ => {
                if let Some(jti) = access_token_jti(token) {
                    state.store.revoke_access_token(&jti).map_err(store_error)?;
                }
            }
        }
        Ok::<_, Response>(StatusCode::OK.into_response())
    };
    run.await.unwrap_or_else(|e| e)
}

/// The `jti` of a JWT access token, read without verification (revocation only marks it).
fn access_token_jti(token: &str) -> Option<String> {
    let jws = leaklab_protocol::jws::parse(token).ok()?;
    jws.claims.get("jti")?.as_str().map(str::to_owned)
}

/// RFC 7662, for resource servers holding the admin (introspection) token.
async fn introspect(
    State(state): State<Arc<AsState>>,
    headers: HeaderMap,
    body: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let run = async {
        admin_only(&state, &headers)?;
        let form = form(body)?;
        let token = form
            .require("token")
            .map_err(|e| oauth(OAuthError::InvalidRequest, &e))?;
        let now = state.clock.now();
        let result = match crate::access::validate(token, &state.access_validator(), now) {
            Ok(claims)
                if state
                    .store
                    .access_token_active(&claims.jti)
                    .map_err(store_error)? =>
            {
                Introspection::Active(Box::new(ActiveToken::for_access_token(&claims)))
            }
            _ => Introspection::Inactive,
        };
        Ok::<_, Response>(Json(result).into_response())
    };
    run.await.unwrap_or_else(|e| e)
}

impl AsState {
    /// How this AS's own access tokens are validated (introspection, resource servers).
    pub fn access_validator(&self) -> crate::access::AccessValidator {
        crate::access::AccessValidator::new(
            &self.config.issuer,
            &self.config.audience,
            &self.public_jwk,
        )
    }
}

async fn jwks(State(state): State<Arc<AsState>>) -> Response {
    let mut key = state.public_jwk.to_json();
    key["kid"] = state.kid.clone().into();
    key["alg"] = "ES256".into();
    key["use"] = "sig".into();
    Json(json!({ "keys": [key] })).into_response()
}

async fn admin_register(
    State(state): State<Arc<AsState>>,
    headers: HeaderMap,
    body: Result<Json<crate::store::ClientConfig>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let run = async {
        admin_only(&state, &headers)?;
        let Json(config) = body.map_err(|e| oauth(OAuthError::InvalidRequest, &e.body_text()))?;
        state.store.register_client(&config).map_err(store_error)?;
        Ok::<_, Response>(StatusCode::CREATED.into_response())
    };
    run.await.unwrap_or_else(|e| e)
}

/// A grant to provision: what an authorization-code flow would have produced.
#[derive(Debug, Deserialize)]
pub struct ProvisionRequest {
    pub client_id: String,
    pub sub: String,
    #[serde(default = "unbound")]
    pub rt_binding: RtBinding,
}

fn unbound() -> RtBinding {
    RtBinding::None
}

async fn admin_provision(
    State(state): State<Arc<AsState>>,
    headers: HeaderMap,
    body: Result<Json<ProvisionRequest>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let run = async {
        admin_only(&state, &headers)?;
        let Json(req) = body.map_err(|e| oauth(OAuthError::InvalidRequest, &e.body_text()))?;
        let (family, rt) = state
            .store
            .provision_grant(&req.client_id, &req.sub, &req.rt_binding, state.clock.now())
            .map_err(|e| match e {
                StoreError::UnknownClient(_) => oauth(OAuthError::InvalidRequest, &e.to_string()),
                e => store_error(e),
            })?;
        Ok::<_, Response>(Json(json!({"family": family, "refresh_token": rt})).into_response())
    };
    run.await.unwrap_or_else(|e| e)
}

async fn admin_revoke_grant(
    State(state): State<Arc<AsState>>,
    headers: HeaderMap,
    Path(family): Path<i64>,
) -> Response {
    let run = async {
        admin_only(&state, &headers)?;
        let was_alive = state
            .store
            .revoke_family(family, "revoked by the customer", state.clock.now())
            .map_err(store_error)?;
        Ok::<_, Response>(Json(json!({"revoked": was_alive})).into_response())
    };
    run.await.unwrap_or_else(|e| e)
}

async fn admin_revoke_all(
    State(state): State<Arc<AsState>>,
    headers: HeaderMap,
    Path(client_id): Path<String>,
) -> Response {
    let run = async {
        admin_only(&state, &headers)?;
        let n = state
            .store
            .revoke_client(&client_id, state.clock.now())
            .map_err(|e| match e {
                StoreError::UnknownClient(_) => {
                    error_response(StatusCode::NOT_FOUND, "invalid_request", &e.to_string())
                }
                e => store_error(e),
            })?;
        Ok::<_, Response>(Json(json!({"grants_revoked": n})).into_response())
    };
    run.await.unwrap_or_else(|e| e)
}

async fn admin_expire_jwks(
    State(state): State<Arc<AsState>>,
    headers: HeaderMap,
    Path(client_id): Path<String>,
) -> Response {
    if let Err(r) = admin_only(&state, &headers) {
        return r;
    }
    lock_jwks(&state.jwks).forget(&client_id);
    StatusCode::NO_CONTENT.into_response()
}
