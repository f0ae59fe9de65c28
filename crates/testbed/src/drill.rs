//! The leak drill: a scenario's customers, with the simulator's draws for one replication, played
//! against a live testbed, and each customer's measured time to disable set beside the
//! simulator's prediction.
//!
//! **What is replayed.** For each strategy × leak the drill provisions one grant per affected
//! customer, bound as the strategy binds it (bearer, mTLS client certificate from the testbed
//! CA, `private_key_jwt` with a JWKS on the JWKS host, single DPoP with a shared software key or
//! the core device key, split DPoP with the DPoP-RT key on the core device and software edge
//! keys). The legitimate agent issues each edge its access token at the drawn phase and refreshes
//! it while an attacker reads that edge. At the leak the attacker receives exactly what the leak
//! class yields (refresh token, edge tokens and keys, use of the core device until eviction).
//! The defenders act at the drawn times through the real interfaces: grant revocation by the
//! customer or the vendor's mass revocation, the provider's revoke-all, a CRL that revokes the
//! customer's client certificate, removal of the key from the JWKS with the provider's cache
//! ageing out, eviction (the attacker loses the device and the edge).
//!
//! **The attacker** only learns what a real one would: whether each request succeeded and the
//! `exp` of its tokens. It acts one second before each defender action (the simulator's rule
//! "at equal times the attacker moves first", with the clock's one-second step), one second
//! before each token it holds expires, and, as the maximal attacker, signs proofs ahead one
//! second before it loses the device. The measured TTD is the time of its last successful
//! request; the attacker is still in at the horizon when a request one second before it succeeds.
//!
//! **Rotation.** Rotating grants get the simulator's client refresh: the first one after the leak
//! (after the eviction when the attacker holds the core host and re-reads the token), which makes
//! a stolen copy stale. Under reuse detection the maximal attacker refreshes only one second
//! before something would end its ability to (`Action::LastMoment`), as the simulator's does.
//!
//! **Quiet turns.** After a successful refresh and until a defender acts on the customer, every
//! turn of the maximal attacker would succeed, so its turns at token expiry are skipped; this
//! turns a 90-day horizon from thousands of requests per customer into a handful.
//!
//! **The clock** is a [`ManualClock`] stepped from one scheduled instant to the next: no wall
//! clock decides anything. `time_scale` only paces the steps for watching.
//!
//! **Agreement** per customer: both still exploitable at the horizon, or both disabled with
//! |measured − predicted| ≤ [`TOLERANCE_S`] (the attacker's one-second steps add up to three:
//! last refresh, pre-signing, last call). Cells the drill does not replay say why.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use leaklab_protocol::client_auth::create_client_assertion;
use leaklab_protocol::proof::{self, ProofKind, ProofParams};
use leaklab_protocol::signer::{Signer, SoftwareSigner};
use leaklab_protocol::token_endpoint::{ClientMetadata, RtBinding};
use leaklab_sim::runner::{customer_plans, CustomerPlan};
use leaklab_sim::scenario::{
    AtRevocation as SimAtRevocation, AttackerPolicy, KeyStorage, Scenario, SingleDpopKey,
    StrategyKind,
};
use rand::rngs::OsRng;

use crate::bed::{BedConfig, Testbed};
use crate::client::{Admin, ClientAuth, HttpClient, Tokens};
use crate::clock::ManualClock;
use crate::pki::ClientIdentity;
use crate::resource_server::AtRevocation;
use crate::store::{ClientAuthMethod, ClientConfig};

/// Largest |measured − predicted| still counted as agreement, seconds.
pub const TOLERANCE_S: f64 = 3.0;

/// The drill's protocol epoch: the leak happens at this unix time.
const T0: i64 = 1_800_000_000;

/// A signer shared by the agent's core and, while it holds the core host, the attacker.
pub type SharedSigner = Arc<Mutex<Box<dyn Signer>>>;

#[derive(Debug, thiserror::Error)]
pub enum DrillError {
    #[error("scenario: {0}")]
    Plan(#[from] leaklab_sim::runner::PlanError),
    #[error(transparent)]
    Bed(#[from] crate::bed::BedError),
    #[error(transparent)]
    Client(#[from] crate::client::ClientError),
    #[error(transparent)]
    Pki(#[from] crate::pki::PkiError),
    #[error("signing: {0}")]
    Sign(String),
    #[error("the drill cannot replay this scenario: {0}")]
    Unsupported(String),
}

/// How to run a drill.
pub struct DrillOptions {
    pub customers: u64,
    pub replication: u32,
    /// `None`: the scenario's first attacker policy.
    pub policy: Option<AttackerPolicy>,
    /// Simulated seconds per wall second for pacing (`None`: as fast as the servers answer).
    pub time_scale: Option<f64>,
    /// Where the testbeds keep their databases (one subdirectory per cell).
    pub state_dir: PathBuf,
    /// The core's HSM/TPM key (used when the scenario keeps core keys on a device).
    pub device: Option<SharedSigner>,
    /// Called after each cell with its name.
    pub progress: Box<dyn Fn(&str) + Send + Sync>,
}

/// One customer of one cell.
#[derive(Clone, Debug, PartialEq)]
pub struct CustomerResult {
    pub customer: u64,
    pub predicted_ttd_s: f64,
    /// `INFINITY`: the attacker still succeeded one second before the horizon.
    pub measured_ttd_s: f64,
    pub requests: u64,
    pub agrees: bool,
}

/// One strategy × leak.
#[derive(Clone, Debug, PartialEq)]
pub struct CellResult {
    pub strategy: String,
    pub leak: String,
    pub policy: String,
    /// `Some(reason)` when the cell was not replayed.
    pub skipped: Option<String>,
    pub customers: Vec<CustomerResult>,
}

impl CellResult {
    pub fn agreeing(&self) -> usize {
        self.customers.iter().filter(|c| c.agrees).count()
    }
}

/// Runs the drill over every strategy × leak of `scenario`.
pub async fn run(scenario: &Scenario, opts: &DrillOptions) -> Result<Vec<CellResult>, DrillError> {
    check_supported(scenario)?;
    let policy = opts.policy.unwrap_or_else(|| {
        scenario
            .attacker
            .policies
            .first()
            .copied()
            .unwrap_or(AttackerPolicy::Maximal)
    });
    let mut cells = Vec::new();
    for (s, strategy) in scenario.strategies.iter().enumerate() {
        for (l, leak) in scenario.leaks.iter().enumerate() {
            let mut cell = CellResult {
                strategy: strategy.name.clone(),
                leak: leak.name.clone(),
                policy: policy.name().to_owned(),
                skipped: None,
                customers: Vec::new(),
            };
            match skip_reason(scenario, s, l, policy) {
                Some(reason) => cell.skipped = Some(reason),
                None => {
                    let plans =
                        customer_plans(scenario, s, l, policy, opts.replication, opts.customers)?;
                    let dir = opts
                        .state_dir
                        .join(format!("{}--{}", strategy.name, leak.name));
                    let _ = std::fs::remove_dir_all(&dir);
                    cell.customers = run_cell(scenario, s, l, policy, &plans, opts, dir).await?;
                }
            }
            (opts.progress)(&format!("{} × {}", cell.strategy, cell.leak));
            cells.push(cell);
        }
    }
    Ok(cells)
}

fn check_supported(sc: &Scenario) -> Result<(), DrillError> {
    let unsupported = |what: &str| Err(DrillError::Unsupported(what.to_owned()));
    if sc.dpop.nonce_lifetime.is_finite() {
        return unsupported(
            "server nonces ([dpop] nonce_lifetime) are not driven by the drill yet",
        );
    }
    if sc.grant.rt_lifetime.is_some() {
        return unsupported("an absolute refresh-token lifetime ([grant] rt_lifetime) is not driven by the drill yet");
    }
    if sc.grant.false_reuse_per_refresh > 0.0 {
        return unsupported(
            "false reuse detections ([grant] false_reuse_per_refresh) are not driven by the drill",
        );
    }
    Ok(())
}

/// Why a cell is outside what the drill replays (named in the results, never silently dropped).
fn skip_reason(sc: &Scenario, s: usize, l: usize, policy: AttackerPolicy) -> Option<String> {
    let st = &sc.strategies[s];
    let c = sc.leaks[l].compromise;
    if st.rotation && (c.core_disk || c.core_host) && sc.attacker.start_delay.upper_bound() > 0.0 {
        return Some("refresh-token rotation with an attacker start delay: the simulator's client may rotate the token between the leak and the attacker's start, while the drill's thief copies it when it starts".into());
    }
    if st.rotation && (c.core_disk || c.core_host) && c.edge_host {
        return Some("refresh-token rotation with both the refresh token and an edge stolen: the simulator draws the client's refresh phase apart from the edges' phases, while the drill's edges refresh through the same rotating token".into());
    }
    // The JWKS host's TLS key matters to `private_key_jwt` only. Replayed when it is the
    // attacker's only way in; with the signing key usable too, the simulator ages the provider's
    // one JWKS cache independently for the two ways, which no live cache can do.
    let key_usable = c.client_credential
        || c.core_host
        || (c.core_disk && sc.core_key_storage == KeyStorage::Disk);
    if c.jwks_host && matches!(st.kind, StrategyKind::Jwks(_)) && key_usable {
        return Some("a JWKS-host leak together with the JWKS signing key: the simulator draws the provider's cache age apart for the two ways in, while the testbed's provider has one cache".into());
    }
    if matches!(policy, AttackerPolicy::Greedy | AttackerPolicy::Stealthy) {
        return Some(format!(
            "attacker policy {} is not replayed (maximal and at-expiry are)",
            policy.name()
        ));
    }
    None
}

/// What the attacker may use a victim key through: a copy, or the device while it holds it.
#[derive(Clone)]
enum VictimKey {
    None,
    Copy(SharedSigner),
    Device(SharedSigner),
}

/// One customer's live parts.
struct Live {
    kind: Kind,
    plan: CustomerPlan,
    client_id: String,
    family: i64,
    rt: String,
    /// The key the RT (or client authentication) is bound to, if any.
    core_key: Option<SharedSigner>,
    identity: Option<ClientIdentity>,
    /// This customer's HTTP client (with its certificate under mTLS), built once. Connections
    /// are not pooled, so every request makes a new TLS connection; it may resume an earlier
    /// session, but publishing a CRL installs a new server configuration whose session cache is
    /// empty, so the next connection is a full handshake that checks the certificate.
    http: HttpClient,
    /// [`victim_key_end`] for this customer.
    key_end: f64,
    /// With a JWKS-host leak: the customer's JWKS host (its certificate's serial, the server).
    jwks_host: Option<(u64, crate::tls::Running)>,
    /// Edge keys (split DPoP: one per edge; single DPoP shared software: the shared key).
    edges: Vec<Edge>,
    thief: Thief,
}

struct Edge {
    key: Option<SharedSigner>,
    token: Option<(String, i64)>,
}

#[derive(Default)]
struct Thief {
    rt: Option<String>,
    victim: Option<VictimKey>,
    own_key: Option<SharedSigner>,
    /// Access tokens held: token, exp (unix), the key it is bound to (if DPoP), cert-bound.
    tokens: Vec<Held>,
    /// Proofs signed ahead: (for refresh, or for the token at this index), the proof.
    /// (proof or assertion, its last usable second).
    presigned_refresh: Vec<(String, i64)>,
    /// (token, proof, proof's last usable second).
    presigned_calls: Vec<(String, String, i64)>,
    edge_foothold_until: f64,
    /// The last refresh succeeded and no defender has acted on this customer since: until
    /// something is done to it, every turn of a maximal attacker would succeed, so its turns at
    /// token expiry are skipped (its next turn is one second before the next defender action or
    /// the horizon, where it refreshes). Without this, a customer who never revokes costs two
    /// requests per token lifetime up to the horizon.
    quiet: bool,
    last_success: Option<f64>,
    at_horizon: bool,
    requests: u64,
}

#[derive(Clone)]
struct Held {
    token: String,
    exp: i64,
    key: Option<SharedSigner>,
    victim_bound: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Action {
    /// The legitimate agent (re)issues an edge's access token.
    LegitEdge(usize),
    /// The attacker starts (takes the loot) — at the leak.
    Leak,
    /// The attacker tries everything it has, refreshing unless it defers (below).
    Attack,
    /// The instant before something ends the attacker's ability to refresh (a defender action,
    /// the client's rotating refresh, the horizon): a maximal attacker that defers refreshing
    /// a rotating family under reuse detection refreshes only at such instants.
    LastMoment,
    /// The attacker signs ahead (one second before losing the device).
    Presign,
    /// The legitimate client refreshes a rotating refresh token (the simulator's refresh
    /// phase), which makes a stolen copy stale.
    LegitRotate,
    /// Defenders.
    RevokeGrant,
    RevokeAll,
    RevokeCertificate,
    RemoveJwksKey,
    /// The CA revokes the JWKS host's certificate and the provider's fetcher has the CRL.
    RejectJwksHost,
    /// The provider's cached JWKS (from the hijacked host) ages out.
    ExpireJwksCache,
    LoseDevice,
    LoseEdge,
}

fn sign_err(e: impl std::fmt::Display) -> DrillError {
    DrillError::Sign(e.to_string())
}

fn lock(s: &SharedSigner) -> std::sync::MutexGuard<'_, Box<dyn Signer>> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

fn software() -> SharedSigner {
    Arc::new(Mutex::new(
        Box::new(SoftwareSigner::generate(&mut OsRng)) as Box<dyn Signer>
    ))
}

fn jkt(s: &SharedSigner) -> String {
    lock(s).public_jwk().thumbprint()
}

fn proof_with(
    key: &SharedSigner,
    kind: ProofKind,
    htm: &str,
    htu: &str,
    iat: i64,
    access_token: Option<&str>,
    refresh_token: Option<&str>,
) -> Result<String, DrillError> {
    let mut p = ProofParams::new(kind, htm, htu, iat);
    p.access_token = access_token;
    p.refresh_token = refresh_token;
    let mut g = lock(key);
    proof::create(&p, g.as_mut(), &mut OsRng).map_err(sign_err)
}

/// A JWKS document with `keys`, each with its thumbprint as `kid`.
fn jwks_document(keys: &[&SharedSigner]) -> String {
    let keys: Vec<serde_json::Value> = keys
        .iter()
        .map(|k| {
            let mut jwk = lock(k).public_jwk().to_json();
            jwk["kid"] = jkt(k).into();
            jwk
        })
        .collect();
    serde_json::json!({ "keys": keys }).to_string()
}

fn secs(t: f64) -> i64 {
    // Defender actions happen at the first whole second at or after the drawn time.
    if t.is_finite() {
        t.ceil() as i64
    } else {
        i64::MAX
    }
}

async fn run_cell(
    sc: &Scenario,
    s: usize,
    l: usize,
    policy: AttackerPolicy,
    plans: &[CustomerPlan],
    opts: &DrillOptions,
    dir: PathBuf,
) -> Result<Vec<CustomerResult>, DrillError> {
    let strategy = &sc.strategies[s];
    let compromise = sc.leaks[l].compromise;
    let at_lifetime = plans.first().map_or(3600.0, |p| p.customer.at_lifetime);
    if plans.iter().any(|p| p.customer.at_lifetime != at_lifetime) {
        return Err(DrillError::Unsupported(
            "access-token lifetimes that differ between customers".into(),
        ));
    }
    let at_lifetime = at_lifetime.round() as i64;
    let window = sc.dpop.proof_window.round() as i64;
    let horizon = secs(sc.horizon);
    let mut config = BedConfig::new(&dir);
    config.at_lifetime_secs = at_lifetime;
    config.proof_max_age_secs = window;
    config.proof_max_future_skew_secs = 0;
    config.jwks_max_age_secs = i64::MAX / 4;
    // The simulator lets an attacker's key served from a hijacked JWKS host work from the
    // leak on: the provider fetches on an unknown kid without a rate limit.
    config.unknown_kid_refetch_secs = 0;
    config.failures_per_minute = u32::MAX;
    config.at_revocation = match sc.grant.at_revocation {
        SimAtRevocation::Introspection => AtRevocation::Introspection,
        _ => AtRevocation::Expiry,
    };
    let clock = ManualClock::new(T0 - at_lifetime - 1);
    let bed = Testbed::start(&config, Arc::new(clock.clone())).await?;
    let ca = bed.pki.ca_pem();
    let admin = Admin {
        http: HttpClient::new(&ca, None, false)?,
        as_url: bed.as_url(),
        token: bed.admin_token.clone(),
    };
    let token_url = bed.token_url();
    let rs_url = format!("{}/api/records", bed.rs_urls()[0]);
    let device = |what: &str| -> Result<SharedSigner, DrillError> {
        opts.device.clone().ok_or_else(|| {
            DrillError::Unsupported(format!(
                "{what} needs a core HSM/TPM key (the drill was given no device)"
            ))
        })
    };
    let on_device = sc.core_key_storage != KeyStorage::Disk;
    let edges_n = sc.grant.edges as usize;

    // Provision every customer.
    let kind = strategy_kind(sc, s);
    let mut live = Vec::new();
    for plan in plans {
        let id = plan.customer.id;
        let client_id = format!("{}-c{id}", strategy.name);
        let mut core_key = None;
        let mut identity = None;
        let mut jwks_host = None;
        let mut edges: Vec<Edge> = (0..edges_n)
            .map(|_| Edge {
                key: None,
                token: None,
            })
            .collect();
        let (auth, metadata, cert_bound, binding) = match &strategy.kind {
            StrategyKind::Bearer => (
                ClientAuthMethod::None,
                ClientMetadata::default(),
                false,
                RtBinding::None,
            ),
            StrategyKind::Mtls(_) => {
                let idt = bed.pki.issue_client(&client_id)?;
                let auth = ClientAuthMethod::TlsClientAuth {
                    x5t_s256: idt.x5t_s256.clone(),
                };
                identity = Some(idt);
                (auth, ClientMetadata::default(), true, RtBinding::ClientAuth)
            }
            StrategyKind::Jwks(_) => {
                let key = if on_device {
                    device("private_key_jwt")?
                } else {
                    software()
                };
                bed.jwks_docs.set(&client_id, jwks_document(&[&key]));
                core_key = Some(key);
                // A JWKS-host leak: the customer's JWKS comes from a host of its own whose
                // certificate the provider stops trusting at the drawn time: by the CRL, or
                // (a fetcher that does not check revocation) by its expiry.
                let check_host_revocation = plan.jwks_host.is_some_and(|h| h.checks_revocation);
                let jwks_uri = match plan.jwks_host {
                    Some(h) => {
                        let expires = (!h.checks_revocation
                            && h.rejected_at.is_finite()
                            && h.rejected_at < sc.horizon)
                            .then(|| T0 + secs(h.rejected_at) - 1);
                        let (serial, host) = bed.start_jwks_host(expires).await?;
                        let uri = format!("{}/jwks/{client_id}", host.base_url());
                        jwks_host = Some((serial, host));
                        uri
                    }
                    None => bed.jwks_uri(&client_id),
                };
                (
                    ClientAuthMethod::PrivateKeyJwt {
                        jwks_uri,
                        check_host_revocation,
                    },
                    ClientMetadata::default(),
                    false,
                    RtBinding::ClientAuth,
                )
            }
            StrategyKind::SingleDpop { key } => {
                let k = match key {
                    SingleDpopKey::SharedSoftware => software(),
                    SingleDpopKey::CoreDevice => {
                        device("single DPoP with the key in the core device")?
                    }
                };
                for e in &mut edges {
                    e.key = Some(k.clone());
                }
                let b = RtBinding::DpopJkt(jkt(&k));
                core_key = Some(k);
                (
                    ClientAuthMethod::None,
                    ClientMetadata {
                        dpop_bound_access_tokens: true,
                        dpop_bound_refresh_tokens: false,
                    },
                    false,
                    b,
                )
            }
            StrategyKind::SplitDpop => {
                let k = if on_device {
                    device("split DPoP")?
                } else {
                    software()
                };
                for e in &mut edges {
                    e.key = Some(software());
                }
                let b = RtBinding::DpopRtJkt(jkt(&k));
                core_key = Some(k);
                (
                    ClientAuthMethod::None,
                    ClientMetadata {
                        dpop_bound_access_tokens: true,
                        dpop_bound_refresh_tokens: true,
                    },
                    false,
                    b,
                )
            }
        };
        admin
            .register(&ClientConfig {
                client_id: client_id.clone(),
                auth,
                metadata,
                rotation: strategy.rotation,
                reuse_detection: strategy.reuse_detection,
                certificate_bound_access_tokens: cert_bound,
            })
            .await?;
        let (family, rt) = admin
            .provision(&client_id, &format!("customer-{id}"), &binding)
            .await?;
        let http = HttpClient::new(&ca, identity.as_ref().map(|i| i.pem.as_str()), false)?;
        live.push(Live {
            kind,
            plan: plan.clone(),
            http,
            client_id,
            family,
            rt,
            core_key,
            identity,
            key_end: victim_key_end(sc, s, compromise, plan, policy),
            jwks_host,
            edges,
            thief: Thief::default(),
        });
    }

    // The schedule: (second after the leak, action order, customer) → action.
    let mut agenda: BTreeMap<(i64, Action, usize), ()> = BTreeMap::new();
    let foothold = policy.foothold();
    for (i, c) in live.iter().enumerate() {
        let p = &c.plan;
        let w = &p.world;
        let cu = &p.customer;
        // Edge phases: the simulator's draws (customer/edge-at-phase), one stream per customer.
        let mut phases = w.customer_stream(
            leaklab_base::rng::stream_id("customer/edge-at-phase"),
            cu.id,
        );
        let edge_end = if foothold && compromise.edge_host {
            w.eviction.min(cu.edge_recycled_at)
        } else {
            0.0
        };
        for e in 0..edges_n {
            let issued = cu.at_lifetime * phases.uniform_open0() - cu.at_lifetime;
            let mut t = issued;
            // Issued before the leak, then refreshed while an attacker reads the edge.
            while t < edge_end.min(sc.horizon) || t == issued {
                // At or before the drawn time, so an attacker reading the edge one second
                // before a defender action sees every token issued until then.
                let at = (t.floor() as i64).max(-at_lifetime);
                agenda.insert((at, Action::LegitEdge(e), i), ());
                t += cu.refresh_interval;
            }
        }
        let start = secs(cu.attacker_start);
        agenda.insert((start, Action::Leak, i), ());
        agenda.insert((start, Action::Attack, i), ());
        let defend = |agenda: &mut BTreeMap<(i64, Action, usize), ()>, t: f64, a: Action| {
            if t.is_finite() && t < sc.horizon {
                let at = secs(t).max(start + 1);
                agenda.insert((at, a, i), ());
                if policy.last_moment() {
                    agenda.insert((at - 1, Action::LastMoment, i), ());
                }
            }
        };
        defend(
            &mut agenda,
            cu.revokes_at(w).min(w.vendor_revokes(cu.vendor_rank)),
            Action::RevokeGrant,
        );
        defend(&mut agenda, w.provider_revoke_all, Action::RevokeAll);
        let key_end = c.key_end;
        match &strategy.kind {
            StrategyKind::Mtls(_) => defend(
                &mut agenda,
                p.credential_disabled_at,
                Action::RevokeCertificate,
            ),
            StrategyKind::Jwks(_) => match p.jwks_host {
                // The hijacked host serves the attacker's JWKS whatever the vendor removes
                // from its own; what ends it is the provider refusing the host.
                Some(h) => {
                    if h.checks_revocation {
                        defend(&mut agenda, h.rejected_at, Action::RejectJwksHost);
                    }
                    defend(&mut agenda, h.cache_expires_at, Action::ExpireJwksCache);
                }
                None => defend(&mut agenda, p.credential_disabled_at, Action::RemoveJwksKey),
            },
            _ => {}
        }
        if key_end > 0.0 && key_end.is_finite() {
            defend(&mut agenda, key_end, Action::LoseDevice);
            if policy.presigns() {
                agenda.insert((secs(key_end).max(start + 1) - 1, Action::Presign, i), ());
            }
        }
        if edge_end > 0.0 {
            defend(&mut agenda, edge_end, Action::LoseEdge);
        }
        if strategy.rotation && (compromise.core_disk || compromise.core_host) {
            // The simulator's client refreshes at its drawn phase, every refresh interval;
            // the first of those after the leak makes the stolen copy stale. With a foothold
            // on the core host the attacker re-reads the current token until the eviction, so
            // only the first refresh after the eviction counts, and the drill's client does
            // not rotate before it.
            let from = if foothold && compromise.core_host {
                w.eviction
            } else {
                0.0
            };
            let (phase, period) = (cu.legit_refresh_at, cu.refresh_interval);
            let next = if from <= phase {
                phase
            } else {
                phase + ((from - phase) / period).ceil() * period
            };
            defend(&mut agenda, next, Action::LegitRotate);
        }
        agenda.insert((horizon - 1, Action::LastMoment, i), ());
    }

    // The simulator's rule: a maximal attacker does not fork a rotating family under reuse
    // detection before it must.
    let defers = policy.last_moment() && strategy.rotation && strategy.reuse_detection;
    let endpoints = Endpoints {
        plain: HttpClient::new(&ca, None, false)?,
        token_url: token_url.clone(),
        rs_url: rs_url.clone(),
    };
    // LEAKLAB_DRILL_TRACE=1 prints every step and every refused attacker request to stderr.
    let trace = std::env::var_os("LEAKLAB_DRILL_TRACE").is_some();
    while let Some(((t, action, i), ())) = agenda.pop_first() {
        if t >= horizon {
            break;
        }
        if let Some(scale) = opts.time_scale {
            let now = clock_secs(&clock);
            if t > now && scale > 0.0 {
                tokio::time::sleep(std::time::Duration::from_secs_f64(
                    ((t - now) as f64 / scale).min(1.0),
                ))
                .await;
            }
        }
        clock.set(T0 + t);
        let c = &mut live[i];
        if !matches!(
            action,
            Action::LegitEdge(_)
                | Action::Leak
                | Action::Attack
                | Action::LastMoment
                | Action::Presign
        ) {
            c.thief.quiet = false;
        }
        if trace {
            eprintln!(
                "drill {}×{} t={t} customer={} {action:?}",
                strategy.name, sc.leaks[l].name, c.plan.customer.id
            );
        }
        match action {
            Action::LegitEdge(e) => match legit_refresh(c, e, &token_url, T0 + t).await? {
                Ok(tk) => {
                    if let Some(rt) = tk.refresh_token {
                        c.rt = rt;
                    }
                    c.edges[e].token = Some((tk.access_token, T0 + t + tk.expires_in));
                }
                Err(r) => trace_refusal("legitimate refresh", &r),
            },
            Action::LegitRotate => match legit_refresh(c, 0, &token_url, T0 + t).await? {
                Ok(tk) => {
                    if let Some(rt) = tk.refresh_token {
                        c.rt = rt;
                    }
                }
                Err(r) => trace_refusal("legitimate rotating refresh", &r),
            },
            Action::Leak => {
                let th = &mut c.thief;
                if compromise.core_disk || compromise.core_host {
                    th.rt = Some(c.rt.clone());
                }
                let key_end = c.key_end;
                th.victim = Some(match (&c.core_key, on_device, &strategy.kind) {
                    (Some(k), false, _) if compromise.core_disk || compromise.core_host => {
                        VictimKey::Copy(k.clone())
                    }
                    (
                        Some(k),
                        _,
                        StrategyKind::SingleDpop {
                            key: SingleDpopKey::SharedSoftware,
                        },
                    ) if compromise.core_disk || compromise.core_host || compromise.edge_host => {
                        VictimKey::Copy(k.clone())
                    }
                    (Some(k), true, _) if key_end > 0.0 => VictimKey::Device(k.clone()),
                    _ => VictimKey::None,
                });
                // mTLS: the certificate's key sits in the core device; a stand-in signer marks
                // that the attacker can have it sign TLS handshakes until it loses the device.
                if c.identity.is_some() && key_end > 0.0 {
                    th.victim = Some(VictimKey::Device(software()));
                }
                th.own_key = Some(software());
                // With the JWKS host's TLS key the attacker serves a JWKS with its own key under
                // the host's name (the legitimate key stays, so the agent goes on working).
                if c.jwks_host.is_some() {
                    if let (Some(own), Some(legit)) = (&th.own_key, &c.core_key) {
                        bed.jwks_docs
                            .set(&c.client_id, jwks_document(&[legit, own]));
                        th.victim = Some(VictimKey::Copy(own.clone()));
                    }
                }
                if compromise.edge_host {
                    th.edge_foothold_until = if foothold { f64::INFINITY } else { 0.0 };
                    for exp in steal_edges(c, T0 + t) {
                        agenda.insert((exp - T0 - 1, Action::Attack, i), ());
                    }
                }
            }
            Action::Attack if policy.last_moment() && c.thief.quiet => {}
            Action::Attack | Action::LastMoment => {
                let mut new_exps = Vec::new();
                if c.thief.edge_foothold_until > t as f64 {
                    new_exps = steal_edges(c, T0 + t);
                }
                let may_refresh = action == Action::LastMoment || !defers;
                new_exps.extend(
                    attack(c, kind, &endpoints, T0 + t, t == horizon - 1, may_refresh).await?,
                );
                for exp in new_exps {
                    let at = exp - T0 - 1;
                    if at > t {
                        agenda.insert((at, Action::Attack, i), ());
                    }
                }
            }
            Action::Presign => {
                presign(c, kind, &token_url, &rs_url, T0 + t, window)?;
                agenda.insert((t + window, Action::Attack, i), ());
            }
            Action::RevokeGrant => admin.revoke_grant(c.family).await?,
            Action::RevokeAll => admin.revoke_all(&c.client_id).await?,
            Action::RevokeCertificate => {
                if let Some(idt) = &c.identity {
                    bed.pki.revoke(idt.serial);
                    bed.publish_crl()?;
                }
            }
            Action::RemoveJwksKey => {
                // The vendor rotates: the compromised key leaves the JWKS, a new one (software
                // here) takes its place for the legitimate agent; the provider's cached copy
                // ages out now.
                let key = software();
                bed.jwks_docs.set(&c.client_id, jwks_document(&[&key]));
                c.core_key = Some(key);
                admin.expire_jwks(&c.client_id).await?;
            }
            Action::RejectJwksHost => {
                if let Some((serial, _)) = &c.jwks_host {
                    bed.pki.revoke(*serial);
                    bed.publish_crl()?;
                }
            }
            Action::ExpireJwksCache => admin.expire_jwks(&c.client_id).await?,
            Action::LoseDevice => {
                if matches!(c.thief.victim, Some(VictimKey::Device(_))) {
                    c.thief.victim = Some(VictimKey::None);
                }
            }
            Action::LoseEdge => c.thief.edge_foothold_until = 0.0,
        }
    }
    for c in &mut live {
        if let Some((_, host)) = c.jwks_host.take() {
            host.stop().await;
        }
    }
    bed.stop().await;

    Ok(live
        .into_iter()
        .map(|c| {
            let predicted = c.plan.outcome.ttd;
            let measured = if c.thief.at_horizon {
                f64::INFINITY
            } else {
                c.thief.last_success.unwrap_or(0.0)
            };
            let agrees = if predicted.is_finite() != measured.is_finite() {
                false
            } else if !predicted.is_finite() {
                true
            } else {
                (predicted - measured).abs() <= TOLERANCE_S
            };
            CustomerResult {
                customer: c.plan.customer.id,
                predicted_ttd_s: predicted,
                measured_ttd_s: measured,
                requests: c.thief.requests,
                agrees,
            }
        })
        .collect())
}

fn clock_secs(clock: &ManualClock) -> i64 {
    use crate::clock::Clock;
    clock.now() - T0
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bearer,
    Mtls,
    Jwks,
    SingleDpop,
    SplitDpop,
}

fn strategy_kind(sc: &Scenario, s: usize) -> Kind {
    match sc.strategies[s].kind {
        StrategyKind::Bearer => Kind::Bearer,
        StrategyKind::Mtls(_) => Kind::Mtls,
        StrategyKind::Jwks(_) => Kind::Jwks,
        StrategyKind::SingleDpop { .. } => Kind::SingleDpop,
        StrategyKind::SplitDpop => Kind::SplitDpop,
    }
}

/// Until when (seconds after the leak) the attacker can have the victim's device key sign for
/// it, without signing ahead: the simulator's oracle rules (core host until eviction or kill
/// switch; an edge foothold until eviction or recycling in designs where edges ask the core to
/// sign). Software keys it copied never end (`INFINITY`); `0`: no use at all.
fn victim_key_end(
    sc: &Scenario,
    s: usize,
    c: leaklab_sim::scenario::Compromise,
    p: &CustomerPlan,
    policy: AttackerPolicy,
) -> f64 {
    let device = sc.core_key_storage != KeyStorage::Disk;
    let kind = &sc.strategies[s].kind;
    let shared_soft = matches!(
        kind,
        StrategyKind::SingleDpop {
            key: SingleDpopKey::SharedSoftware
        }
    );
    if matches!(kind, StrategyKind::Bearer) {
        return 0.0;
    }
    // A leaked client credential (certificate key, private_key_jwt key) is a copy: it works
    // until the provider rejects it.
    if c.client_credential && matches!(kind, StrategyKind::Mtls(_) | StrategyKind::Jwks(_)) {
        return f64::INFINITY;
    }
    if shared_soft {
        return if c.core_disk || c.core_host || c.edge_host {
            f64::INFINITY
        } else {
            0.0
        };
    }
    if !device {
        return if c.core_disk || c.core_host {
            f64::INFINITY
        } else {
            0.0
        };
    }
    if c.core_host {
        return p.world.oracle_end();
    }
    let edge_asks_core = matches!(
        kind,
        StrategyKind::Mtls(_)
            | StrategyKind::SingleDpop {
                key: SingleDpopKey::CoreDevice
            }
    );
    if c.edge_host && edge_asks_core && policy.foothold() {
        return p.world.oracle_end().min(p.customer.edge_recycled_at);
    }
    0.0
}

/// The legitimate agent refreshes edge `e`'s access token (the core's RT, the edge's key).
async fn legit_refresh(
    c: &Live,
    e: usize,
    token_url: &str,
    now: i64,
) -> Result<Result<Tokens, crate::client::Refusal>, DrillError> {
    let at_key = if c.kind == Kind::SingleDpop {
        c.core_key.as_ref()
    } else {
        c.edges[e].key.as_ref()
    };
    let (auth, dpop, dpop_rt, client) =
        request_parts(c, at_key, c.core_key.as_ref(), &c.rt, token_url, now)?;
    Ok(client
        .refresh(token_url, &c.rt, &auth, dpop.as_deref(), dpop_rt.as_deref())
        .await?)
}

/// Builds the client authentication and proofs of a refresh: `at_key` gets the new access token
/// (DPoP), `rt_key` shows the refresh-token binding (DPoP-RT, the single DPoP key, or the
/// client assertion's key). mTLS clients authenticate with their certificate.
#[allow(clippy::type_complexity)]
fn request_parts(
    c: &Live,
    at_key: Option<&SharedSigner>,
    rt_key: Option<&SharedSigner>,
    rt: &str,
    token_url: &str,
    now: i64,
) -> Result<(ClientAuth, Option<String>, Option<String>, HttpClient), DrillError> {
    let mut auth = ClientAuth::ClientId(c.client_id.clone());
    let mut dpop = None;
    let mut dpop_rt = None;
    let client = c.http.clone();
    if matches!(c.kind, Kind::SingleDpop | Kind::SplitDpop) {
        if let Some(k) = at_key {
            dpop = Some(token_proof(k, token_url, now)?);
        }
    }
    match (c.kind, rt_key) {
        (Kind::SplitDpop, Some(k)) => {
            dpop_rt = Some(proof_with(
                k,
                ProofKind::DpopRt,
                "POST",
                token_url,
                now,
                None,
                Some(rt),
            )?);
        }
        (Kind::Jwks, Some(k)) => {
            auth = ClientAuth::Assertion(assertion(k, &c.client_id, token_url, now)?);
        }
        _ => {}
    }
    Ok((auth, dpop, dpop_rt, client))
}

/// A DPoP proof for the token endpoint (the key the new access token is bound to).
fn token_proof(k: &SharedSigner, token_url: &str, now: i64) -> Result<String, DrillError> {
    proof_with(k, ProofKind::Dpop, "POST", token_url, now, None, None)
}

/// A `private_key_jwt` assertion, valid five minutes.
fn assertion(
    k: &SharedSigner,
    client_id: &str,
    token_url: &str,
    now: i64,
) -> Result<String, DrillError> {
    let mut g = lock(k);
    let kid = g.public_jwk().thumbprint();
    create_client_assertion(
        g.as_mut(),
        Some(&kid),
        client_id,
        token_url,
        now,
        300,
        &mut OsRng,
    )
    .map_err(sign_err)
}

/// The attacker copies what the edges hold now (tokens and, where edges hold keys, the keys).
/// Returns the `exp` of tokens it did not have.
fn steal_edges(c: &mut Live, now: i64) -> Vec<i64> {
    let mut new = Vec::new();
    for e in &c.edges {
        if let Some((token, exp)) = &e.token {
            if *exp > now && !c.thief.tokens.iter().any(|h| &h.token == token) {
                let victim_bound = e
                    .key
                    .as_ref()
                    .zip(c.core_key.as_ref())
                    .is_some_and(|(a, b)| Arc::ptr_eq(a, b));
                c.thief.tokens.push(Held {
                    token: token.clone(),
                    exp: *exp,
                    key: e.key.clone(),
                    victim_bound,
                });
                new.push(*exp);
            }
        }
    }
    new
}

/// The victim key the attacker can sign with right now.
fn victim_signer(th: &Thief) -> Option<SharedSigner> {
    match &th.victim {
        Some(VictimKey::Copy(k)) | Some(VictimKey::Device(k)) => Some(k.clone()),
        _ => None,
    }
}

/// One attacker turn: refresh if it can, then every token it holds. Returns the `exp` of new
/// tokens (the caller schedules a turn one second before each).
/// Where the attacker sends its requests, and its client without a certificate.
struct Endpoints {
    plain: HttpClient,
    token_url: String,
    rs_url: String,
}

async fn attack(
    c: &mut Live,
    kind: Kind,
    at: &Endpoints,
    now: i64,
    last: bool,
    may_refresh: bool,
) -> Result<Vec<i64>, DrillError> {
    let (http, token_url, rs_url) = (&at.plain, at.token_url.as_str(), at.rs_url.as_str());
    let mut new_exps = Vec::new();
    let mut success = false;
    if let Some(rt) = c.thief.rt.clone().filter(|_| may_refresh) {
        let victim = victim_signer(&c.thief);
        // Spent at the last second it is usable: the later the refresh, the later the new
        // token expires.
        let presigned = match c.thief.presigned_refresh.last() {
            Some((_, last)) if victim.is_none() && now >= *last => {
                c.thief.presigned_refresh.pop().map(|p| p.0)
            }
            _ => None,
        };
        let can = match kind {
            Kind::Bearer => true,
            _ => victim.is_some() || presigned.is_some(),
        };
        if can {
            let own = c.thief.own_key.clone();
            let (mut auth, mut dpop, mut dpop_rt, client) = match (&victim, kind) {
                (Some(v), Kind::SplitDpop) => {
                    request_parts(c, own.as_ref(), Some(v), &rt, token_url, now)?
                }
                (Some(v), Kind::SingleDpop) => {
                    request_parts(c, Some(v), Some(v), &rt, token_url, now)?
                }
                (Some(v), _) => request_parts(c, None, Some(v), &rt, token_url, now)?,
                (None, _) => request_parts(c, None, None, &rt, token_url, now)?,
            };
            // A proof signed ahead is the attacker's last refresh: no quiet turns after it.
            let can_sign_again = victim.is_some() || presigned.is_none();
            if victim.is_none() {
                if let Some(p) = presigned {
                    match kind {
                        Kind::SplitDpop => {
                            dpop_rt = Some(p);
                            dpop = match &own {
                                Some(k) => Some(token_proof(k, token_url, now)?),
                                None => None,
                            };
                        }
                        Kind::SingleDpop => dpop = Some(p),
                        Kind::Jwks => auth = ClientAuth::Assertion(p),
                        _ => {}
                    }
                }
            }
            c.thief.requests += 1;
            let answer = client
                .refresh(token_url, &rt, &auth, dpop.as_deref(), dpop_rt.as_deref())
                .await?;
            if let Err(r) = &answer {
                trace_refusal("refresh", r);
            }
            c.thief.quiet = answer.is_ok() && can_sign_again;
            if let Ok(tk) = answer {
                success = true;
                if let Some(new_rt) = tk.refresh_token.clone() {
                    c.thief.rt = Some(new_rt);
                }
                let exp = now + tk.expires_in;
                let key = match kind {
                    Kind::SplitDpop => own.clone(),
                    Kind::SingleDpop => victim.clone(),
                    _ => None,
                };
                c.thief.tokens.push(Held {
                    token: tk.access_token,
                    exp,
                    key,
                    victim_bound: kind == Kind::SingleDpop,
                });
                new_exps.push(exp);
            }
        }
    }
    let victim = victim_signer(&c.thief);
    let held: Vec<Held> = c
        .thief
        .tokens
        .iter()
        .filter(|h| h.exp > now)
        .cloned()
        .collect();
    for h in held {
        let client = match (&c.identity, kind) {
            (Some(_), Kind::Mtls) => {
                if victim.is_none() {
                    continue;
                }
                c.http.clone()
            }
            _ => http.clone(),
        };
        let proof =
            match (&h.key, h.victim_bound) {
                (Some(k), false) => Some(proof_with(
                    k,
                    ProofKind::Dpop,
                    "GET",
                    rs_url,
                    now,
                    Some(&h.token),
                    None,
                )?),
                (Some(_), true) => match &victim {
                    Some(v) => Some(proof_with(
                        v,
                        ProofKind::Dpop,
                        "GET",
                        rs_url,
                        now,
                        Some(&h.token),
                        None,
                    )?),
                    // A proof signed ahead is single-use: spend it at the last second it or the
                    // token is usable, as a maximal attacker would.
                    None => match c.thief.presigned_calls.iter().position(|(t, _, last)| {
                        t == &h.token && (now >= *last || now >= h.exp - 1)
                    }) {
                        Some(i) => Some(c.thief.presigned_calls.remove(i).1),
                        None => continue,
                    },
                },
                (None, _) => None,
            };
        c.thief.requests += 1;
        match client.call(rs_url, &h.token, proof.as_deref()).await? {
            Ok(_) => success = true,
            Err(r) => trace_refusal("call", &r),
        }
    }
    if success {
        c.thief.last_success = Some((now - T0) as f64);
        if last {
            c.thief.at_horizon = true;
        }
    }
    Ok(new_exps)
}

fn trace_refusal(what: &str, r: &crate::client::Refusal) {
    if std::env::var_os("LEAKLAB_DRILL_TRACE").is_some() {
        eprintln!(
            "drill   attacker {what} refused: {} {} {}",
            r.status, r.error, r.description
        );
    }
}

/// The maximal attacker signs ahead with the device, one second before losing it: a refresh
/// proof (or client assertion) and one call proof per victim-bound token it holds.
fn presign(
    c: &mut Live,
    kind: Kind,
    token_url: &str,
    rs_url: &str,
    now: i64,
    window: i64,
) -> Result<(), DrillError> {
    let Some(v) = victim_signer(&c.thief) else {
        return Ok(());
    };
    if let Some(rt) = c.thief.rt.clone() {
        let p = match kind {
            Kind::SplitDpop => Some(proof_with(
                &v,
                ProofKind::DpopRt,
                "POST",
                token_url,
                now,
                None,
                Some(&rt),
            )?),
            Kind::SingleDpop => Some(token_proof(&v, token_url, now)?),
            Kind::Jwks => Some(assertion(&v, &c.client_id, token_url, now)?),
            _ => None,
        };
        c.thief
            .presigned_refresh
            .extend(p.map(|p| (p, now + window)));
    }
    let held: Vec<Held> = c
        .thief
        .tokens
        .iter()
        .filter(|h| h.victim_bound && h.exp > now)
        .cloned()
        .collect();
    for h in held {
        let p = proof_with(
            &v,
            ProofKind::Dpop,
            "GET",
            rs_url,
            now,
            Some(&h.token),
            None,
        )?;
        c.thief.presigned_calls.push((h.token, p, now + window));
    }
    Ok(())
}
