//! One strategy × leak against live servers, in four steps: provision each customer as the
//! strategy binds it, schedule everyone's actions on one agenda, play the agenda in time order
//! (one method per [`Action`]), and judge each customer's measured TTD against the simulator's.

use std::path::Path;
use std::sync::Arc;

use leaklab_protocol::token_endpoint::{ClientMetadata, RtBinding};
use leaklab_sim::runner::CustomerPlan;
use leaklab_sim::scenario::{
    AtRevocation as SimAtRevocation, AttackerPolicy, KeyStorage, Leak, Scenario, SingleDpopKey,
    StrategyConfig, StrategyKind,
};
use leaklab_testbed::{
    Admin, AtRevocation, BedConfig, ClientAuthMethod, ClientConfig, ClientIdentity, Clock,
    HttpClient, ManualClock, Running, Testbed,
};

use crate::agenda::{Action, Agenda};
use crate::attacker::{trace_refusal, Endpoints, Thief, VictimKey};
use crate::keys::{self, SharedSigner};
use crate::live::{Edge, Live};
use crate::server::{AuthorizationServer, LeaklabAs};
use crate::{CustomerResult, DrillError, DrillOptions, Unsupported, T0, TOLERANCE_S};

/// What one cell replays.
pub(crate) struct Setting<'a> {
    pub(crate) scenario: &'a Scenario,
    pub(crate) strategy: &'a StrategyConfig,
    pub(crate) leak: &'a Leak,
    pub(crate) policy: AttackerPolicy,
    pub(crate) opts: &'a DrillOptions,
}

/// Plays one cell's customers (`plans`) with the servers' state under `dir`.
pub(crate) async fn run(
    setting: &Setting<'_>,
    plans: &[CustomerPlan],
    dir: &Path,
) -> Result<Vec<CustomerResult>, DrillError> {
    let cell = Cell::start(setting, common_at_lifetime(plans)?, dir).await?;
    let mut live = Vec::new();
    for plan in plans {
        live.push(cell.provision(plan).await?);
    }
    let mut agenda = cell.schedule(&live);
    cell.play(&mut agenda, &mut live).await?;
    for customer in &mut live {
        if let Some((_, host)) = customer.jwks_host.take() {
            host.stop().await;
        }
    }
    cell.bed.stop().await;
    Ok(live.iter().map(judge).collect())
}

/// The access-token lifetime, which the drill's one server applies to every customer.
fn common_at_lifetime(plans: &[CustomerPlan]) -> Result<i64, DrillError> {
    let at_lifetime = plans.first().map_or(3600.0, |p| p.customer.at_lifetime);
    if plans.iter().any(|p| p.customer.at_lifetime != at_lifetime) {
        return Err(Unsupported::MixedAtLifetimes.into());
    }
    Ok(at_lifetime.round() as i64)
}

/// Defender actions happen at the first whole second at or after the drawn time.
fn secs(t: f64) -> i64 {
    if t.is_finite() {
        t.ceil() as i64
    } else {
        i64::MAX
    }
}

/// How a strategy binds one customer's grant: its registration and the refresh token's binding.
struct Provisioned {
    auth: ClientAuthMethod,
    metadata: ClientMetadata,
    cert_bound: bool,
    rt_binding: RtBinding,
}

impl Provisioned {
    /// A public client with DPoP-bound access tokens (and refresh tokens, for DPoP-RT).
    fn dpop(rt_binding: RtBinding, bound_refresh_tokens: bool) -> Self {
        Provisioned {
            auth: ClientAuthMethod::None,
            metadata: ClientMetadata {
                dpop_bound_access_tokens: true,
                dpop_bound_refresh_tokens: bound_refresh_tokens,
            },
            cert_bound: false,
            rt_binding,
        }
    }
}

/// The keys and credentials a customer's agent holds.
#[derive(Default)]
struct Credentials {
    core_key: Option<SharedSigner>,
    identity: Option<ClientIdentity>,
    jwks_host: Option<(u64, Running)>,
    /// One per edge (`None`: the edge holds no key).
    edge_keys: Vec<Option<SharedSigner>>,
}

/// One cell's servers and the rules every customer shares.
struct Cell<'a, S> {
    setting: &'a Setting<'a>,
    /// The CA, JWKS hosts and resource servers (and the testbed's AS).
    bed: Testbed,
    server: S,
    clock: ManualClock,
    ca: String,
    endpoints: Endpoints,
    /// The proofs' acceptance window, seconds.
    window: i64,
    horizon: i64,
    /// Whether the core's keys are on a device (the drill's `DrillOptions::device`).
    on_device: bool,
}

impl<'a> Cell<'a, LeaklabAs> {
    /// Starts a testbed configured as the scenario's provider.
    async fn start(
        setting: &'a Setting<'a>,
        at_lifetime: i64,
        dir: &Path,
    ) -> Result<Self, DrillError> {
        let scenario = setting.scenario;
        let window = scenario.dpop.proof_window.round() as i64;
        let mut config = BedConfig::new(dir);
        config.at_lifetime_secs = at_lifetime;
        config.proof_max_age_secs = window;
        config.proof_max_future_skew_secs = 0;
        config.jwks_max_age_secs = i64::MAX / 4;
        // The simulator lets an attacker's key served from a hijacked JWKS host work from the
        // leak on: the provider fetches on an unknown kid without a rate limit.
        config.unknown_kid_refetch_secs = 0;
        config.failures_per_minute = u32::MAX;
        config.at_revocation = match scenario.grant.at_revocation {
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
        let endpoints = Endpoints {
            plain: HttpClient::new(&ca, None, false)?,
            token_url: bed.token_url(),
            rs_url: format!("{}/api/records", bed.rs_urls()[0]),
        };
        let server = LeaklabAs::new(admin, bed.token_url(), clock.clone());
        Ok(Cell {
            setting,
            bed,
            server,
            clock,
            ca,
            endpoints,
            window,
            horizon: secs(scenario.horizon),
            on_device: scenario.core_key_storage != KeyStorage::Disk,
        })
    }
}

impl<'a, S: AuthorizationServer> Cell<'a, S> {
    fn device(&self, what: &'static str) -> Result<SharedSigner, DrillError> {
        self.setting
            .opts
            .device
            .clone()
            .ok_or_else(|| Unsupported::NoDevice(what).into())
    }

    /// The core's key: the device's, or a fresh software key when the core keeps keys on disk.
    fn core_key(&self, what: &'static str) -> Result<SharedSigner, DrillError> {
        if self.on_device {
            self.device(what)
        } else {
            Ok(keys::software())
        }
    }

    // ---- provision ----

    /// Registers the customer's client, provisions its grant and builds its live parts.
    async fn provision(&self, plan: &'a CustomerPlan) -> Result<Live<'a>, DrillError> {
        let strategy = self.setting.strategy;
        let id = plan.customer.id;
        let client_id = format!("{}-c{id}", strategy.name);
        let mut credentials = Credentials {
            edge_keys: vec![None; self.setting.scenario.grant.edges as usize],
            ..Credentials::default()
        };
        let provisioned = match &strategy.kind {
            StrategyKind::Bearer => Provisioned {
                auth: ClientAuthMethod::None,
                metadata: ClientMetadata::default(),
                cert_bound: false,
                rt_binding: RtBinding::None,
            },
            StrategyKind::Mtls(_) => self.provision_mtls(&client_id, &mut credentials)?,
            StrategyKind::Jwks(_) => {
                self.provision_jwks(plan, &client_id, &mut credentials)
                    .await?
            }
            StrategyKind::SingleDpop { key } => {
                self.provision_single_dpop(*key, &mut credentials)?
            }
            StrategyKind::SplitDpop => self.provision_split_dpop(&mut credentials)?,
        };
        self.server
            .register(&ClientConfig {
                client_id: client_id.clone(),
                auth: provisioned.auth,
                metadata: provisioned.metadata,
                rotation: strategy.rotation,
                reuse_detection: strategy.reuse_detection,
                certificate_bound_access_tokens: provisioned.cert_bound,
            })
            .await
            .map_err(DrillError::Server)?;
        let grant = self
            .server
            .provision(
                &client_id,
                &format!("customer-{id}"),
                &provisioned.rt_binding,
            )
            .await
            .map_err(DrillError::Server)?;
        let certificate = credentials.identity.as_ref().map(|i| i.pem.as_str());
        Ok(Live {
            kind: &strategy.kind,
            plan,
            http: HttpClient::new(&self.ca, certificate, false)?,
            client_id,
            grant,
            core_key: credentials.core_key,
            identity: credentials.identity,
            jwks_host: credentials.jwks_host,
            edges: credentials
                .edge_keys
                .into_iter()
                .map(|key| Edge { key, token: None })
                .collect(),
            thief: Thief::default(),
        })
    }

    /// mTLS: a client certificate from the testbed CA, tokens bound to it.
    fn provision_mtls(
        &self,
        client_id: &str,
        credentials: &mut Credentials,
    ) -> Result<Provisioned, DrillError> {
        let identity = self.bed.pki.issue_client(client_id)?;
        let auth = ClientAuthMethod::TlsClientAuth {
            x5t_s256: identity.x5t_s256.clone(),
        };
        credentials.identity = Some(identity);
        Ok(Provisioned {
            auth,
            metadata: ClientMetadata::default(),
            cert_bound: true,
            rt_binding: RtBinding::ClientAuth,
        })
    }

    /// `private_key_jwt`: the core's key in a JWKS on the testbed's JWKS host, or, with a
    /// JWKS-host leak, on a host of the customer's own whose certificate the provider stops
    /// trusting at the drawn time: by the CRL, or (a fetcher that does not check revocation)
    /// by its expiry.
    async fn provision_jwks(
        &self,
        plan: &CustomerPlan,
        client_id: &str,
        credentials: &mut Credentials,
    ) -> Result<Provisioned, DrillError> {
        let key = self.core_key("private_key_jwt")?;
        self.bed
            .jwks_docs
            .set(client_id, keys::jwks_document(&[&key]));
        credentials.core_key = Some(key);
        let check_host_revocation = plan.jwks_host.is_some_and(|h| h.checks_revocation);
        let jwks_uri = match plan.jwks_host {
            Some(host_end) => {
                let expires = (!host_end.checks_revocation
                    && host_end.rejected_at.is_finite()
                    && host_end.rejected_at < self.setting.scenario.horizon)
                    .then(|| T0 + secs(host_end.rejected_at) - 1);
                let (serial, host) = self.bed.start_jwks_host(expires).await?;
                let uri = format!("{}/jwks/{client_id}", host.base_url());
                credentials.jwks_host = Some((serial, host));
                uri
            }
            None => self.bed.jwks_uri(client_id),
        };
        Ok(Provisioned {
            auth: ClientAuthMethod::PrivateKeyJwt {
                jwks_uri,
                check_host_revocation,
            },
            metadata: ClientMetadata::default(),
            cert_bound: false,
            rt_binding: RtBinding::ClientAuth,
        })
    }

    /// Single DPoP: one key (shared software, or the core device) for every edge and the RT.
    fn provision_single_dpop(
        &self,
        placement: SingleDpopKey,
        credentials: &mut Credentials,
    ) -> Result<Provisioned, DrillError> {
        let key = match placement {
            SingleDpopKey::SharedSoftware => keys::software(),
            SingleDpopKey::CoreDevice => {
                self.device("single DPoP with the key in the core device")?
            }
        };
        for edge_key in &mut credentials.edge_keys {
            *edge_key = Some(key.clone());
        }
        let rt_binding = RtBinding::DpopJkt(keys::thumbprint(&key));
        credentials.core_key = Some(key);
        Ok(Provisioned::dpop(rt_binding, false))
    }

    /// Split DPoP: the DPoP-RT key in the core, a software key per edge.
    fn provision_split_dpop(
        &self,
        credentials: &mut Credentials,
    ) -> Result<Provisioned, DrillError> {
        let key = self.core_key("split DPoP")?;
        for edge_key in &mut credentials.edge_keys {
            *edge_key = Some(keys::software());
        }
        let rt_binding = RtBinding::DpopRtJkt(keys::thumbprint(&key));
        credentials.core_key = Some(key);
        Ok(Provisioned::dpop(rt_binding, true))
    }

    // ---- schedule ----

    /// Every customer's actions: the agent's edge tokens, the leak, the defenders at the
    /// simulator's drawn times (with the attacker's last moments before them), the device and
    /// edge lost, the client's rotation, and the attacker's last turn before the horizon.
    fn schedule(&self, live: &[Live<'_>]) -> Agenda {
        let mut agenda = Agenda::default();
        for (index, customer) in live.iter().enumerate() {
            let start = secs(customer.plan.customer.attacker_start);
            let mut slots = CustomerSlots {
                agenda: &mut agenda,
                customer: index,
                start,
                horizon: self.setting.scenario.horizon,
                last_moment: self.setting.policy.last_moment(),
            };
            self.schedule_edges(&mut slots, customer.plan);
            slots.at(start, Action::Leak);
            slots.at(start, Action::Attack);
            self.schedule_defenders(&mut slots, customer.plan);
            slots.at(self.horizon - 1, Action::LastMoment);
        }
        agenda
    }

    /// Until when the attacker reads the customer's edges (`0`: it holds none).
    fn edge_end(&self, plan: &CustomerPlan) -> f64 {
        if self.setting.policy.foothold() && self.setting.leak.compromise.edge_host {
            plan.world.eviction.min(plan.customer.edge_recycled_at)
        } else {
            0.0
        }
    }

    /// The agent's edge tokens at the simulator's phases (customer/edge-at-phase, one stream
    /// per customer): issued before the leak, then refreshed while an attacker reads the edge.
    fn schedule_edges(&self, slots: &mut CustomerSlots<'_>, plan: &CustomerPlan) {
        let customer = &plan.customer;
        let at_lifetime = customer.at_lifetime;
        let mut phases = plan.world.customer_stream(
            leaklab_base::rng::stream_id("customer/edge-at-phase"),
            customer.id,
        );
        let edge_end = self.edge_end(plan).min(self.setting.scenario.horizon);
        for edge in 0..self.setting.scenario.grant.edges as usize {
            let issued = at_lifetime * phases.uniform_open0() - at_lifetime;
            let mut t = issued;
            while t < edge_end || t == issued {
                // At or before the drawn time, so an attacker reading the edge one second
                // before a defender action sees every token issued until then.
                let at = (t.floor() as i64).max(-(at_lifetime.round() as i64));
                slots.at(at, Action::LegitEdge(edge));
                t += customer.refresh_interval;
            }
        }
    }

    fn schedule_defenders(&self, slots: &mut CustomerSlots<'_>, plan: &CustomerPlan) {
        let (world, customer) = (&plan.world, &plan.customer);
        let compromise = self.setting.leak.compromise;
        slots.defend(
            customer
                .revokes_at(world)
                .min(world.vendor_revokes(customer.vendor_rank)),
            Action::RevokeGrant,
        );
        slots.defend(world.provider_revoke_all, Action::RevokeAll);
        match &self.setting.strategy.kind {
            StrategyKind::Mtls(_) => {
                slots.defend(plan.credential_disabled_at, Action::RevokeCertificate)
            }
            StrategyKind::Jwks(_) => match plan.jwks_host {
                // The hijacked host serves the attacker's JWKS whatever the vendor removes
                // from its own; what ends it is the provider refusing the host.
                Some(host_end) => {
                    if host_end.checks_revocation {
                        slots.defend(host_end.rejected_at, Action::RejectJwksHost);
                    }
                    slots.defend(host_end.cache_expires_at, Action::ExpireJwksCache);
                }
                None => slots.defend(plan.credential_disabled_at, Action::RemoveJwksKey),
            },
            _ => {}
        }
        let key_end = plan.victim_key_until;
        if key_end > 0.0 && key_end.is_finite() {
            slots.defend(key_end, Action::LoseDevice);
            if self.setting.policy.presigns() {
                slots.at(secs(key_end).max(slots.start + 1) - 1, Action::Presign);
            }
        }
        let edge_end = self.edge_end(plan);
        if edge_end > 0.0 {
            slots.defend(edge_end, Action::LoseEdge);
        }
        if self.setting.strategy.rotation && (compromise.core_disk || compromise.core_host) {
            slots.defend(self.legit_rotation(plan), Action::LegitRotate);
        }
    }

    /// The simulator's client refreshes at its drawn phase, every refresh interval; the first
    /// of those after the leak makes the stolen copy stale. With a foothold on the core host
    /// the attacker re-reads the current token until the eviction, so only the first refresh
    /// after the eviction counts, and the drill's client does not rotate before it.
    fn legit_rotation(&self, plan: &CustomerPlan) -> f64 {
        let from = if self.setting.policy.foothold() && self.setting.leak.compromise.core_host {
            plan.world.eviction
        } else {
            0.0
        };
        let (phase, period) = (
            plan.customer.legit_refresh_at,
            plan.customer.refresh_interval,
        );
        if from <= phase {
            phase
        } else {
            phase + ((from - phase) / period).ceil() * period
        }
    }

    // ---- act ----

    /// Plays the agenda up to the horizon, the clock stepped to each entry's time.
    async fn play(&self, agenda: &mut Agenda, live: &mut [Live<'_>]) -> Result<(), DrillError> {
        // LEAKLAB_DRILL_TRACE=1 prints every step and every refused attacker request to stderr.
        let trace = std::env::var_os("LEAKLAB_DRILL_TRACE").is_some();
        while let Some((t, action, index)) = agenda.next() {
            if t >= self.horizon {
                break;
            }
            self.pace(t).await;
            self.server.set_clock(T0 + t);
            let customer = &mut live[index];
            if action.disturbs() {
                customer.thief.quiet = false;
            }
            if trace {
                eprintln!(
                    "drill {}×{} t={t} customer={} {action:?}",
                    self.setting.strategy.name, self.setting.leak.name, customer.plan.customer.id
                );
            }
            self.apply(customer, action, t, index, agenda).await?;
        }
        Ok(())
    }

    /// With a time scale, sleeps (at most a second) until `t` is due.
    async fn pace(&self, t: i64) {
        if let Some(scale) = self.setting.opts.time_scale {
            let now = self.clock.now() - T0;
            if t > now && scale > 0.0 {
                tokio::time::sleep(std::time::Duration::from_secs_f64(
                    ((t - now) as f64 / scale).min(1.0),
                ))
                .await;
            }
        }
    }

    async fn apply(
        &self,
        customer: &mut Live<'_>,
        action: Action,
        t: i64,
        index: usize,
        agenda: &mut Agenda,
    ) -> Result<(), DrillError> {
        let server = &self.server;
        match action {
            Action::LegitEdge(edge) => self.legit_edge(customer, edge, t).await?,
            Action::LegitRotate => self.legit_rotate(customer, t).await?,
            Action::Leak => {
                for at in self.leak(customer, t) {
                    agenda.at(at, Action::Attack, index);
                }
            }
            Action::Attack if self.setting.policy.last_moment() && customer.thief.quiet => {}
            Action::Attack | Action::LastMoment => {
                for at in self.attack(customer, action, t).await? {
                    agenda.at(at, Action::Attack, index);
                }
            }
            Action::Presign => {
                customer.presign(&self.endpoints, T0 + t, self.window)?;
                agenda.at(t + self.window, Action::Attack, index);
            }
            Action::RevokeGrant => server
                .revoke_grant(&customer.grant)
                .await
                .map_err(DrillError::Server)?,
            Action::RevokeAll => server
                .revoke_all(&customer.client_id)
                .await
                .map_err(DrillError::Server)?,
            Action::RevokeCertificate => {
                if let Some(identity) = &customer.identity {
                    self.revoke_certificate(identity.serial)?;
                }
            }
            Action::RemoveJwksKey => self.remove_jwks_key(customer).await?,
            Action::RejectJwksHost => {
                if let Some((serial, _)) = &customer.jwks_host {
                    self.revoke_certificate(*serial)?;
                }
            }
            Action::ExpireJwksCache => server
                .expire_jwks(&customer.client_id)
                .await
                .map_err(DrillError::Server)?,
            Action::LoseDevice => {
                if matches!(customer.thief.victim, Some(VictimKey::Device(_))) {
                    customer.thief.victim = Some(VictimKey::None);
                }
            }
            Action::LoseEdge => customer.thief.edge_foothold_until = 0.0,
        }
        Ok(())
    }

    async fn legit_edge(
        &self,
        customer: &mut Live<'_>,
        edge: usize,
        t: i64,
    ) -> Result<(), DrillError> {
        match customer
            .legit_refresh(edge, self.server.token_url(), T0 + t)
            .await?
        {
            Ok(tokens) => {
                customer.edges[edge].token =
                    Some((tokens.access_token, T0 + t + tokens.expires_in));
            }
            Err(refusal) => trace_refusal("legitimate refresh", &refusal),
        }
        Ok(())
    }

    async fn legit_rotate(&self, customer: &mut Live<'_>, t: i64) -> Result<(), DrillError> {
        if let Err(refusal) = customer
            .legit_refresh(0, self.server.token_url(), T0 + t)
            .await?
        {
            trace_refusal("legitimate rotating refresh", &refusal);
        }
        Ok(())
    }

    /// The attacker takes what the leak class yields. Returns when its next turns are due (one
    /// second before each stolen edge token expires).
    fn leak(&self, customer: &mut Live<'_>, t: i64) -> Vec<i64> {
        let compromise = self.setting.leak.compromise;
        let core = compromise.core_disk || compromise.core_host;
        let key_end = customer.plan.victim_key_until;
        if core {
            customer.thief.refresh_token = Some(customer.refresh_token().to_owned());
        }
        let shared_software = matches!(
            customer.kind,
            StrategyKind::SingleDpop {
                key: SingleDpopKey::SharedSoftware
            }
        );
        customer.thief.victim = Some(match &customer.core_key {
            Some(key) if !self.on_device && core => VictimKey::Copy(key.clone()),
            Some(key) if shared_software && (core || compromise.edge_host) => {
                VictimKey::Copy(key.clone())
            }
            Some(key) if self.on_device && key_end > 0.0 => VictimKey::Device(key.clone()),
            _ => VictimKey::None,
        });
        // mTLS: the certificate's key sits in the core device; a stand-in signer marks that the
        // attacker can have it sign TLS handshakes until it loses the device.
        if customer.identity.is_some() && key_end > 0.0 {
            customer.thief.victim = Some(VictimKey::Device(keys::software()));
        }
        let own = keys::software();
        customer.thief.own_key = Some(own.clone());
        // With the JWKS host's TLS key the attacker serves a JWKS with its own key under the
        // host's name (the legitimate key stays, so the agent goes on working).
        if customer.jwks_host.is_some() {
            if let Some(legit) = &customer.core_key {
                self.bed
                    .jwks_docs
                    .set(&customer.client_id, keys::jwks_document(&[legit, &own]));
                customer.thief.victim = Some(VictimKey::Copy(own));
            }
        }
        let mut turns = Vec::new();
        if compromise.edge_host {
            customer.thief.edge_foothold_until = if self.setting.policy.foothold() {
                f64::INFINITY
            } else {
                0.0
            };
            turns = customer
                .steal_edges(T0 + t)
                .into_iter()
                .map(|exp| exp - T0 - 1)
                .collect();
        }
        turns
    }

    /// An attacker turn (or its last moment before something ends its refreshes). Returns
    /// when its next turns are due.
    async fn attack(
        &self,
        customer: &mut Live<'_>,
        action: Action,
        t: i64,
    ) -> Result<Vec<i64>, DrillError> {
        let strategy = self.setting.strategy;
        // The simulator's rule: a maximal attacker does not fork a rotating family under reuse
        // detection before it must.
        let defers =
            self.setting.policy.last_moment() && strategy.rotation && strategy.reuse_detection;
        let mut new_exps = Vec::new();
        if customer.thief.edge_foothold_until > t as f64 {
            new_exps = customer.steal_edges(T0 + t);
        }
        let may_refresh = action == Action::LastMoment || !defers;
        let last = t == self.horizon - 1;
        new_exps.extend(
            customer
                .attack(&self.endpoints, T0 + t, last, may_refresh)
                .await?,
        );
        Ok(new_exps
            .into_iter()
            .map(|exp| exp - T0 - 1)
            .filter(|at| *at > t)
            .collect())
    }

    /// The CA revokes a certificate and every server gets the new CRL.
    fn revoke_certificate(&self, serial: u64) -> Result<(), DrillError> {
        self.bed.pki.revoke(serial);
        self.bed.publish_crl()?;
        Ok(())
    }

    /// The vendor rotates: the compromised key leaves the JWKS, a new one (software here) takes
    /// its place for the legitimate agent; the provider's cached copy ages out now.
    async fn remove_jwks_key(&self, customer: &mut Live<'_>) -> Result<(), DrillError> {
        let key = keys::software();
        self.bed
            .jwks_docs
            .set(&customer.client_id, keys::jwks_document(&[&key]));
        customer.core_key = Some(key);
        self.server
            .expire_jwks(&customer.client_id)
            .await
            .map_err(DrillError::Server)
    }
}

/// One customer's entries on the agenda.
struct CustomerSlots<'x> {
    agenda: &'x mut Agenda,
    customer: usize,
    /// The attacker's start (the leak), seconds.
    start: i64,
    horizon: f64,
    /// The attacker takes its last moment before each defender action.
    last_moment: bool,
}

impl CustomerSlots<'_> {
    fn at(&mut self, t: i64, action: Action) {
        self.agenda.at(t, action, self.customer);
    }

    /// A defender action at the drawn time `t` (if within the horizon), never before the
    /// attacker has started.
    fn defend(&mut self, t: f64, action: Action) {
        if t.is_finite() && t < self.horizon {
            let at = secs(t).max(self.start + 1);
            self.at(at, action);
            if self.last_moment {
                self.at(at - 1, Action::LastMoment);
            }
        }
    }
}

// ---- judge ----

/// The customer's measured TTD (the attacker's last success; infinite when it still succeeded
/// one second before the horizon) against the simulator's.
fn judge(customer: &Live<'_>) -> CustomerResult {
    let predicted = customer.plan.outcome.ttd;
    let measured = if customer.thief.at_horizon {
        f64::INFINITY
    } else {
        customer.thief.last_success.unwrap_or(0.0)
    };
    let agrees = if predicted.is_finite() != measured.is_finite() {
        false
    } else if !predicted.is_finite() {
        true
    } else {
        (predicted - measured).abs() <= TOLERANCE_S
    };
    CustomerResult {
        customer: customer.plan.customer.id,
        predicted_ttd_s: predicted,
        measured_ttd_s: measured,
        requests: customer.thief.requests,
        agrees,
    }
}
