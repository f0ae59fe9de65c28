//! One testbed: the PKI, the authorization server, two resource-server instances sharing one
//! replay store, and a JWKS host (the vendor's `jwks_uri` for `private_key_jwt`), all on
//! 127.0.0.1 with TLS from the testbed CA, all reading one injected clock.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::auth_server::{self, AsConfig, AsState};
use crate::clock::SharedClock;
use crate::pki::{Pki, PkiError};
use crate::resource_server::{self, AtRevocation, RsConfig, RsState};
use crate::store::{AsStore, ReplayBackend, ReplayLimits, SharedReplayStore, StoreError};
use crate::tls::{self, Limits, Running, TlsSwitch};

/// What a testbed is started with.
#[derive(Clone, Debug)]
pub struct BedConfig {
    /// Directory for the databases (`as.sqlite`, `replay.sqlite`); kept across restarts.
    pub state_dir: PathBuf,
    pub at_lifetime_secs: i64,
    pub proof_max_age_secs: i64,
    pub proof_max_future_skew_secs: i64,
    pub nonce_lifetime_secs: Option<i64>,
    pub at_revocation: AtRevocation,
    pub jwks_max_age_secs: i64,
    /// See [`AsConfig::unknown_kid_refetch_secs`].
    pub unknown_kid_refetch_secs: i64,
    pub failures_per_minute: u32,
    pub replay: ReplayLimits,
    /// Where the resource servers' shared replay store lives (the AS's is always SQLite).
    pub rs_replay: ReplayBackend,
    pub limits: Limits,
    /// Fixed AS port (0: any free port).
    pub as_port: u16,
}

impl BedConfig {
    pub fn new(state_dir: &Path) -> Self {
        Self {
            state_dir: state_dir.to_owned(),
            at_lifetime_secs: 3600,
            proof_max_age_secs: 300,
            proof_max_future_skew_secs: 10,
            nonce_lifetime_secs: None,
            at_revocation: AtRevocation::Expiry,
            jwks_max_age_secs: 300,
            unknown_kid_refetch_secs: 60,
            failures_per_minute: 100,
            replay: ReplayLimits::default(),
            rs_replay: ReplayBackend::default(),
            limits: Limits::default(),
            as_port: 0,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BedError {
    #[error(transparent)]
    Pki(#[from] PkiError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    As(#[from] auth_server::AsError),
    #[error("binding a port on 127.0.0.1: {0}")]
    Io(#[from] std::io::Error),
}

/// JWKS documents the JWKS host serves, per client.
#[derive(Clone, Debug, Default)]
pub struct JwksDocs(Arc<RwLock<HashMap<String, String>>>);

impl JwksDocs {
    pub fn set(&self, client_id: &str, document: String) {
        self.0
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(client_id.to_owned(), document);
    }
}

async fn serve_jwks(State(docs): State<JwksDocs>, UrlPath(client): UrlPath<String>) -> Response {
    let doc = docs
        .0
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .get(&client)
        .cloned();
    match doc {
        Some(d) => {
            let mut r = d.into_response();
            r.headers_mut().insert(
                "content-type",
                HeaderValue::from_static("application/jwk-set+json"),
            );
            r
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

fn jwks_router(docs: JwksDocs) -> Router {
    Router::new()
        .route("/jwks/{client}", get(serve_jwks))
        .with_state(docs)
}

/// A running testbed.
pub struct Testbed {
    pub pki: Arc<Pki>,
    pub(crate) as_state: Arc<AsState>,
    pub jwks_docs: JwksDocs,
    pub admin_token: String,
    tls: TlsSwitch,
    crl_lock: std::sync::Mutex<()>,
    auth: Running,
    resources: Vec<Running>,
    jwks_host: Running,
}

/// Two resource-server instances sharing one replay store, behind one public URL (the first
/// one's), as behind a load balancer: proofs name that URL whichever instance serves them.
async fn start_resource_servers(
    config: &BedConfig,
    tls: &TlsSwitch,
    as_state: &AsState,
    replay_limits: ReplayLimits,
    clock: SharedClock,
) -> Result<Vec<Running>, BedError> {
    let store = &as_state.store;
    let replay = Arc::new(SharedReplayStore::open(
        config.rs_replay,
        &config.state_dir.join("rs-replay.sqlite"),
        replay_limits,
    )?);
    let nonce_secret = store.meta_or_init("rs_nonce_secret", crate::store::new_token_bytes)?;
    let mut resources = Vec::new();
    let listeners = [tls::bind(0).await?, tls::bind(0).await?];
    let public_url = format!("https://{}", listeners[0].local_addr()?);
    for listener in listeners {
        let state = Arc::new(RsState::new(
            RsConfig {
                base_url: public_url.clone(),
                issuer: as_state.config.issuer.clone(),
                audience: as_state.config.audience.clone(),
                proof_max_age_secs: config.proof_max_age_secs,
                proof_max_future_skew_secs: config.proof_max_future_skew_secs,
                nonce_lifetime_secs: config.nonce_lifetime_secs,
                at_revocation: config.at_revocation,
                failures_per_minute: config.failures_per_minute,
            },
            as_state.public_jwk(),
            store.clone(),
            replay.clone(),
            nonce_secret.clone(),
            clock.clone(),
        ));
        resources.push(tls::serve(
            listener,
            tls.clone(),
            resource_server::router(state),
            config.limits,
        )?);
    }
    Ok(resources)
}

impl Testbed {
    pub async fn start(config: &BedConfig, clock: SharedClock) -> Result<Testbed, BedError> {
        std::fs::create_dir_all(&config.state_dir)?;
        let pki = Arc::new(Pki::new()?);
        let tls = TlsSwitch::new(pki.server_config()?);
        let store = Arc::new(AsStore::open(&config.state_dir.join("as.sqlite"))?);
        // Capacity counts the entries admitted in the last two windows, a bound on the live ones
        // only when no entry outlives a window: a proof's entry lives max age + skew + 1 s.
        let replay_limits = ReplayLimits {
            owner_window_secs: config
                .replay
                .owner_window_secs
                .max(config.proof_max_age_secs + config.proof_max_future_skew_secs + 1),
            ..config.replay
        };
        let admin_token = crate::store::new_token();

        let as_listener = tls::bind(config.as_port).await?;
        let issuer = format!("https://{}", as_listener.local_addr()?);
        let as_state = Arc::new(AsState::new(
            AsConfig {
                issuer,
                audience: "leaklab-rs".to_owned(),
                at_lifetime_secs: config.at_lifetime_secs,
                proof_max_age_secs: config.proof_max_age_secs,
                proof_max_future_skew_secs: config.proof_max_future_skew_secs,
                nonce_lifetime_secs: config.nonce_lifetime_secs,
                jwks_max_age_secs: config.jwks_max_age_secs,
                unknown_kid_refetch_secs: config.unknown_kid_refetch_secs,
                failures_per_minute: config.failures_per_minute,
                admin_token: admin_token.clone(),
                jwks_trust_pem: pki.ca_pem().into_bytes(),
                jwks_crl: Some(pki.published_crl()),
            },
            store.clone(),
            SharedReplayStore::open(
                ReplayBackend::Sqlite,
                &config.state_dir.join("as-replay.sqlite"),
                replay_limits,
            )?,
            clock.clone(),
        )?);
        let auth = tls::serve(
            as_listener,
            tls.clone(),
            auth_server::router(as_state.clone()),
            config.limits,
        )?;

        let resources =
            start_resource_servers(config, &tls, &as_state, replay_limits, clock).await?;
        let jwks_docs = JwksDocs::default();
        let jwks_host = tls::serve(
            tls::bind(0).await?,
            tls.clone(),
            jwks_router(jwks_docs.clone()),
            config.limits,
        )?;
        Ok(Testbed {
            pki,
            as_state,
            jwks_docs,
            admin_token,
            tls,
            crl_lock: Default::default(),
            auth,
            resources,
            jwks_host,
        })
    }

    pub fn as_url(&self) -> String {
        self.auth.base_url()
    }

    pub fn token_url(&self) -> String {
        format!("{}/token", self.auth.base_url())
    }

    /// The resource servers' base URLs (two instances, one replay store). Proofs name the first
    /// one, the public URL of both.
    pub fn rs_urls(&self) -> Vec<String> {
        self.resources.iter().map(Running::base_url).collect()
    }

    pub fn jwks_uri(&self, client_id: &str) -> String {
        format!("{}/jwks/{client_id}", self.jwks_host.base_url())
    }

    /// Publishes the CA's CRL and has every server use it for new connections, and the AS for
    /// JWKS fetches that check the host's revocation.
    pub fn publish_crl(&self) -> Result<(), BedError> {
        // One publication at a time, so a slower one cannot install an older CRL last.
        let _one = self.crl_lock.lock().unwrap_or_else(|p| p.into_inner());
        self.pki.publish_crl()?;
        self.tls.replace(self.pki.server_config()?);
        self.as_state.set_jwks_crl(self.pki.published_crl())?;
        Ok(())
    }

    /// A JWKS host of its own (its own certificate, valid until `not_after`, see
    /// [`Pki::issue_server`]) serving the same documents as the testbed's: for a drill in
    /// which that host's TLS key leaks. Returns the certificate's serial and the server; the
    /// caller stops it.
    pub async fn start_jwks_host(
        &self,
        not_after: Option<i64>,
    ) -> Result<(u64, Running), BedError> {
        let (serial, config) = self.pki.issue_server(not_after)?;
        let host = tls::serve(
            tls::bind(0).await?,
            TlsSwitch::new(config),
            jwks_router(self.jwks_docs.clone()),
            Limits::default(),
        )?;
        Ok((serial, host))
    }

    pub async fn stop(self) {
        self.auth.stop().await;
        for r in self.resources {
            r.stop().await;
        }
        self.jwks_host.stop().await;
    }
}
