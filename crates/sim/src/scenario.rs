//! Typed scenario configuration, read from TOML files in `scenarios/`.
//!
//! Every key is documented in `scenarios/README.md`. Each table has its struct, and next to it
//! the struct's `Default` (the values `docs/model.md` §14 cites, with their sources) and its
//! `read`, which takes the defaults for absent keys. [`Scenario::from_toml`] refuses unknown
//! keys, out-of-range values and values outside an allowed set, naming the file, the key and what
//! is allowed.

use std::path::Path;

use leaklab_base::catalogue::{Binding, Signs, Traffic};
use leaklab_base::dist::Dist;
use leaklab_base::duration::{DAY, HOUR, MINUTE};
use leaklab_base::toml_reader::{Choice, ScenarioError, Table};

/// Where the agent's core keeps its keys (RT-binding keys, client credentials).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyStorage {
    /// A software key file: exfiltrated with the disk.
    Disk,
    /// A TPM 2.0: non-exportable; usable as a signing oracle only from the host.
    Tpm,
    /// An HSM: non-exportable; usable as a signing oracle only from the host.
    Hsm,
}

impl KeyStorage {
    pub fn is_device(self) -> bool {
        !matches!(self, KeyStorage::Disk)
    }
}

impl Choice for KeyStorage {
    const CHOICES: &'static [(&'static str, Self)] = &[
        ("disk", KeyStorage::Disk),
        ("tpm", KeyStorage::Tpm),
        ("hsm", KeyStorage::Hsm),
    ];
}

/// Whether revoking a grant also kills the access tokens already issued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AtRevocation {
    /// Self-contained JWT ATs stay valid until they expire.
    Expiry,
    /// Resource servers introspect (RFC 7662) or get revocation events: ATs die with the grant.
    Introspection,
}

impl Choice for AtRevocation {
    const CHOICES: &'static [(&'static str, Self)] = &[
        ("expiry", AtRevocation::Expiry),
        ("introspection", AtRevocation::Introspection),
    ];
}

/// When the attacker redeems a stolen refresh token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttackerRefresh {
    /// Right away when it starts, then whenever its access token expires.
    AtStart,
    /// Only once it holds no usable access token, then whenever its access token expires.
    OnExpiry,
    /// Never (uses stolen access tokens only).
    Never,
}

impl Choice for AttackerRefresh {
    const CHOICES: &'static [(&'static str, Self)] = &[
        ("at-start", AttackerRefresh::AtStart),
        ("on-expiry", AttackerRefresh::OnExpiry),
        ("never", AttackerRefresh::Never),
    ];
}

/// The grant every customer gave the agent, and how its authorization server treats it.
#[derive(Clone, Debug, PartialEq)]
pub struct Grant {
    pub edges: u32,
    pub at_lifetime: Dist,
    /// `None`: the client refreshes when its access token expires.
    pub refresh_interval: Option<Dist>,
    /// `None`: refresh tokens do not expire.
    pub rt_lifetime: Option<Dist>,
    pub rotation: bool,
    pub reuse_detection: bool,
    pub at_revocation: AtRevocation,
    pub calls_per_s_per_edge: f64,
    /// Seconds an edge keeps one connection to the resource server (mTLS signs per connection).
    pub connection_lifetime: f64,
    /// Share of legitimate refreshes that a retry (a lost response, a race between workers)
    /// turns into a false reuse detection, revoking the family (in strategies with reuse
    /// detection).
    pub false_reuse_per_refresh: f64,
    /// How long an edge workload lives before it is recycled (churn); `None`: for ever. An
    /// attacker holding an edge loses it when the edge is recycled.
    pub edge_lifetime: Option<Dist>,
}

impl Default for Grant {
    fn default() -> Self {
        Grant {
            edges: 4,
            at_lifetime: Dist::Fixed(HOUR),
            refresh_interval: None,
            rt_lifetime: None,
            rotation: false,
            reuse_detection: false,
            at_revocation: AtRevocation::Expiry,
            calls_per_s_per_edge: 1.0,
            connection_lifetime: HOUR,
            false_reuse_per_refresh: 0.0,
            edge_lifetime: None,
        }
    }
}

impl Grant {
    /// One customer's legitimate traffic when each edge refreshes every `refresh_interval`
    /// seconds (see `leaklab_base::catalogue`).
    pub fn traffic(&self, refresh_interval: f64) -> Traffic {
        Traffic {
            edges: f64::from(self.edges),
            calls_per_s_per_edge: self.calls_per_s_per_edge,
            refresh_interval_s: refresh_interval,
            connection_lifetime_s: self.connection_lifetime,
        }
    }

    /// `[grant]`.
    fn read(t: Table<'_>) -> Result<Grant, ScenarioError> {
        let d = Grant::default();
        let grant = Grant {
            edges: t.integer("edges_per_customer", u64::from(d.edges), 1, 1_000)? as u32,
            at_lifetime: t.dist("at_lifetime", d.at_lifetime)?,
            refresh_interval: t.dist_or("refresh_interval", "at-expiry", d.refresh_interval)?,
            rt_lifetime: t.dist_or("rt_lifetime", "none", d.rt_lifetime)?,
            rotation: t.boolean("rotation", d.rotation)?,
            reuse_detection: t.boolean("reuse_detection", d.reuse_detection)?,
            at_revocation: t.choice_enum("at_revocation", d.at_revocation)?,
            calls_per_s_per_edge: t.number(
                "calls_per_s_per_edge",
                d.calls_per_s_per_edge,
                0.0,
                1e6,
            )?,
            connection_lifetime: t.duration("connection_lifetime", d.connection_lifetime)?,
            false_reuse_per_refresh: t
                .share("false_reuse_per_refresh", d.false_reuse_per_refresh)?,
            edge_lifetime: t.dist_or("edge_lifetime", "none", d.edge_lifetime)?,
        };
        if grant.connection_lifetime <= 0.0 {
            return Err(t.error("connection_lifetime", "must be greater than zero"));
        }
        if grant.reuse_detection && !grant.rotation {
            return Err(t.error(
                "reuse_detection",
                "needs `rotation = true` (reuse is only detectable when refresh tokens rotate)",
            ));
        }
        t.finish()?;
        Ok(grant)
    }
}

/// The per-customer response once notified: a mixture of immediate / eventual / never.
#[derive(Clone, Debug, PartialEq)]
pub struct Response {
    pub immediate_share: f64,
    pub immediate_delay: Dist,
    pub eventual_share: f64,
    pub eventual_delay: Dist,
    pub never_share: f64,
    /// How long a customer whose grant died takes to authorize the integration again (the
    /// legitimate client is locked out meanwhile).
    pub reconsent_delay: Dist,
}

impl Default for Response {
    fn default() -> Self {
        Response {
            immediate_share: 0.1,
            immediate_delay: Dist::Exponential { mean: 4.0 * HOUR },
            eventual_share: 0.3,
            eventual_delay: Dist::LogNormal {
                median: 7.0 * DAY,
                sigma: 1.0,
            },
            never_share: 0.6,
            reconsent_delay: Dist::LogNormal {
                median: DAY,
                sigma: 1.0,
            },
        }
    }
}

impl Response {
    /// `[response]`: a table per class, and the re-consent delay.
    fn read(t: Table<'_>) -> Result<Response, ScenarioError> {
        let d = Response::default();
        let class = |key: &'static str, share: f64, delay: Dist| {
            let c = t.table_or_empty(key)?;
            let out = (c.share("share", share)?, c.dist("delay", delay)?);
            c.finish()?;
            Ok::<_, ScenarioError>(out)
        };
        let (immediate_share, immediate_delay) =
            class("immediate", d.immediate_share, d.immediate_delay)?;
        let (eventual_share, eventual_delay) =
            class("eventual", d.eventual_share, d.eventual_delay)?;
        let never = t.table_or_empty("never")?;
        let never_share = never.share("share", d.never_share)?;
        never.finish()?;
        let total = immediate_share + eventual_share + never_share;
        if (total - 1.0).abs() > 1e-6 {
            return Err(t.error("never", format!("shares of immediate, eventual and never must add up to 1 (they add up to {total})")));
        }
        let reconsent_delay = t.dist("reconsent_delay", d.reconsent_delay)?;
        t.finish()?;
        Ok(Response {
            immediate_share,
            immediate_delay,
            eventual_share,
            eventual_delay,
            never_share,
            reconsent_delay,
        })
    }
}

/// Detection of the leak and the platform's actions, measured from the leak.
#[derive(Clone, Debug, PartialEq)]
pub struct Detection {
    pub delay: Dist,
    pub notify_delay: Dist,
    pub eviction_delay: Dist,
    pub credential_action_delay: Dist,
    /// `None`: the platform does not disable hardware keys.
    pub kill_switch_delay: Option<Dist>,
    /// The provider's refresh-token reuse detection reaches the vendor (its legitimate refresh
    /// fails, or the provider tells it).
    pub reuse_alert: Option<Alert>,
    /// Failed DPoP-RT / client-authentication attempts with a stolen refresh token reach the
    /// vendor.
    pub binding_alert: Option<Alert>,
    /// Detection hazard per attacker API call (anomalous volume): calls at rate c are detected
    /// after an exponential time with rate `volume_alert_per_call * c`.
    pub volume_alert_per_call: f64,
    /// A customer whose integration is locked out (its refresh fails) reports it.
    pub customer_report: Option<Alert>,
}

impl Default for Detection {
    fn default() -> Self {
        Detection {
            delay: Dist::LogNormal {
                median: 10.0 * DAY,
                sigma: 1.0,
            },
            notify_delay: Dist::Fixed(DAY),
            eviction_delay: Dist::Fixed(4.0 * HOUR),
            credential_action_delay: Dist::Fixed(HOUR),
            kill_switch_delay: None,
            reuse_alert: None,
            binding_alert: None,
            volume_alert_per_call: 0.0,
            customer_report: None,
        }
    }
}

impl Detection {
    /// Whether detection can come from what the attacker does (otherwise it is the exogenous
    /// delay alone, and customers do not interact).
    pub fn attack_driven(&self) -> bool {
        self.reuse_alert.is_some()
            || self.binding_alert.is_some()
            || self.volume_alert_per_call > 0.0
            || self.customer_report.is_some()
    }

    /// `[detection]`.
    fn read(t: Table<'_>) -> Result<Detection, ScenarioError> {
        let d = Detection::default();
        let detection = Detection {
            delay: t.dist("delay", d.delay)?,
            notify_delay: t.dist("notify_delay", d.notify_delay)?,
            eviction_delay: t.dist("eviction_delay", d.eviction_delay)?,
            credential_action_delay: t
                .dist("credential_action_delay", d.credential_action_delay)?,
            kill_switch_delay: t.dist_or("kill_switch_delay", "none", d.kill_switch_delay)?,
            reuse_alert: Alert::read(&t, "reuse_alert")?,
            binding_alert: Alert::read(&t, "binding_alert")?,
            volume_alert_per_call: t.number(
                "volume_alert_per_call",
                d.volume_alert_per_call,
                0.0,
                1.0,
            )?,
            customer_report: Alert::read(&t, "customer_report")?,
        };
        t.finish()?;
        Ok(detection)
    }
}

/// One detection source triggered by an attack event: it fires with `probability`, `delay`
/// after the event.
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    pub probability: f64,
    pub delay: Dist,
}

impl Default for Alert {
    /// The most favourable case for the defender: it fires for every customer, at once.
    fn default() -> Self {
        Alert {
            probability: 1.0,
            delay: Dist::Fixed(0.0),
        }
    }
}

impl Alert {
    /// An optional `{ probability, delay }` detection source at `key` of `t`.
    fn read(t: &Table<'_>, key: &'static str) -> Result<Option<Alert>, ScenarioError> {
        let Some(a) = t.table(key)? else {
            return Ok(None);
        };
        let d = Alert::default();
        let alert = Alert {
            probability: a.share("probability", d.probability)?,
            delay: a.dist("delay", d.delay)?,
        };
        a.finish()?;
        Ok(Some(alert))
    }
}

/// The vendor's response playbook after detection.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Vendor {
    /// Revoke every grant the vendor holds (RFC 7009), in random order at a finite rate.
    pub mass_revoke: Option<MassRevoke>,
}

impl Vendor {
    /// `[vendor]`.
    fn read(t: Table<'_>) -> Result<Vendor, ScenarioError> {
        let vendor = Vendor {
            mass_revoke: match t.table("mass_revoke")? {
                None => None,
                Some(m) => Some(MassRevoke::read(m)?),
            },
        };
        t.finish()?;
        Ok(vendor)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct MassRevoke {
    /// From detection to the first revocation.
    pub delay: Dist,
    /// Revocations per second (the provider's API rate limit for the vendor).
    pub rate_per_s: f64,
}

impl Default for MassRevoke {
    fn default() -> Self {
        MassRevoke {
            delay: Dist::Fixed(HOUR),
            rate_per_s: 20.0,
        }
    }
}

impl MassRevoke {
    /// `[vendor.mass_revoke]`.
    fn read(t: Table<'_>) -> Result<MassRevoke, ScenarioError> {
        let d = MassRevoke::default();
        let m = MassRevoke {
            delay: t.dist("delay", d.delay)?,
            rate_per_s: t.number("rate_per_s", d.rate_per_s, 1e-6, 1e9)?,
        };
        t.finish()?;
        Ok(m)
    }
}

/// The identity provider's own response.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Provider {
    /// From detection to the provider revoking every grant of the integration (and their
    /// access tokens); `None`: it does not.
    pub revoke_all_delay: Option<Dist>,
}

impl Provider {
    /// `[provider]`.
    fn read(t: Table<'_>) -> Result<Provider, ScenarioError> {
        let provider = Provider {
            revoke_all_delay: t.dist_or(
                "revoke_all_delay",
                "none",
                Provider::default().revoke_all_delay,
            )?,
        };
        t.finish()?;
        Ok(provider)
    }
}

/// Server-side DPoP settings that bound pre-signed proofs.
#[derive(Clone, Debug, PartialEq)]
pub struct Dpop {
    /// How long after its `iat` a proof is still accepted (the `iat` window, future skew
    /// included); infinite: unbounded.
    pub proof_window: f64,
    /// Validity of a server nonce; infinite: no nonces. A pre-signed proof must carry a nonce
    /// that is still valid when it is used.
    pub nonce_lifetime: f64,
}

impl Default for Dpop {
    fn default() -> Self {
        Dpop {
            proof_window: 5.0 * MINUTE,
            nonce_lifetime: f64::INFINITY,
        }
    }
}

impl Dpop {
    /// How long after losing a signing oracle an attacker can still use proofs signed ahead.
    pub fn presign_horizon(&self) -> f64 {
        self.proof_window.min(self.nonce_lifetime)
    }

    /// `[dpop]`; `"none"` is unbounded (infinite).
    fn read(t: Table<'_>) -> Result<Dpop, ScenarioError> {
        let d = Dpop::default();
        let bound = |v: f64| v.is_finite().then_some(v);
        let dpop = Dpop {
            proof_window: t
                .duration_or_none("proof_window", bound(d.proof_window))?
                .unwrap_or(f64::INFINITY),
            nonce_lifetime: t
                .duration_or_none("nonce_lifetime", bound(d.nonce_lifetime))?
                .unwrap_or(f64::INFINITY),
        };
        if dpop.nonce_lifetime <= 0.0 {
            return Err(t.error(
                "nonce_lifetime",
                "must be greater than zero, or \"none\" for no server nonces",
            ));
        }
        t.finish()?;
        Ok(dpop)
    }
}

/// How the attacker uses what it stole (docs/model.md §6, "Attacker policies").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AttackerPolicy {
    /// Uses every window: refreshes at the last possible moment, pre-signs where the binding
    /// allows it, keeps its foothold until eviction. TTD "what the attacker could do" is its.
    Maximal,
    /// Refreshes when its access token expires; one-time theft (the first model's attacker).
    AtExpiry,
    /// High call volume, keeps its foothold, tries stolen refresh tokens even when it cannot
    /// satisfy their binding: fast and detectable.
    Greedy,
    /// Low call volume, keeps its foothold, never tries what would fail.
    Stealthy,
}

impl Choice for AttackerPolicy {
    const CHOICES: &'static [(&'static str, Self)] = &[
        ("maximal", AttackerPolicy::Maximal),
        ("at-expiry", AttackerPolicy::AtExpiry),
        ("greedy", AttackerPolicy::Greedy),
        ("stealthy", AttackerPolicy::Stealthy),
    ];
}

impl AttackerPolicy {
    /// The name a scenario and the outputs use.
    pub fn name(self) -> &'static str {
        Choice::name(self)
    }

    /// Refreshes at the instant before any event that would end its ability to refresh.
    pub fn last_moment(self) -> bool {
        self == AttackerPolicy::Maximal
    }

    /// Keeps reading the stolen hosts (token store, edge memory) until eviction.
    pub fn foothold(self) -> bool {
        self != AttackerPolicy::AtExpiry
    }

    /// Signs DPoP proofs ahead while it has a signing oracle.
    pub fn presigns(self) -> bool {
        self == AttackerPolicy::Maximal
    }

    /// Tries a stolen refresh token even when it cannot satisfy its binding or the token is
    /// stale (failed attempts are visible to the provider).
    pub fn probes(self) -> bool {
        matches!(self, AttackerPolicy::Greedy | AttackerPolicy::AtExpiry)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Attacker {
    /// Simulated in this order; the first is the headline (TTD "what the attacker could do"
    /// when it is `maximal`).
    pub policies: Vec<AttackerPolicy>,
    pub start_delay: Dist,
    /// API calls per hour of the `maximal` and `at-expiry` attackers.
    pub calls_per_hour: f64,
    pub greedy_calls_per_hour: f64,
    pub stealthy_calls_per_hour: f64,
    /// First refresh of the `at-expiry`, `greedy` and `stealthy` attackers.
    pub refresh: AttackerRefresh,
}

impl Default for Attacker {
    fn default() -> Self {
        Attacker {
            policies: vec![AttackerPolicy::Maximal],
            start_delay: Dist::Fixed(0.0),
            calls_per_hour: 60.0,
            greedy_calls_per_hour: 3600.0,
            stealthy_calls_per_hour: 2.0,
            refresh: AttackerRefresh::AtStart,
        }
    }
}

impl Attacker {
    /// API calls per hour of one policy.
    pub fn calls_per_hour(&self, policy: AttackerPolicy) -> f64 {
        match policy {
            AttackerPolicy::Maximal | AttackerPolicy::AtExpiry => self.calls_per_hour,
            AttackerPolicy::Greedy => self.greedy_calls_per_hour,
            AttackerPolicy::Stealthy => self.stealthy_calls_per_hour,
        }
    }

    /// `[attacker]`.
    fn read(t: Table<'_>) -> Result<Attacker, ScenarioError> {
        let d = Attacker::default();
        let policies = t.choice_enums("policies")?.unwrap_or(d.policies);
        if policies.is_empty() {
            return Err(t.error(
                "policies",
                format!(
                    "must name at least one policy (allowed: {})",
                    AttackerPolicy::names().join(", ")
                ),
            ));
        }
        let mut seen = policies.clone();
        seen.sort();
        seen.dedup();
        if seen.len() != policies.len() {
            return Err(t.error("policies", "names a policy twice"));
        }
        let attacker = Attacker {
            policies,
            greedy_calls_per_hour: t.number(
                "greedy_calls_per_hour",
                d.greedy_calls_per_hour,
                0.0,
                1e9,
            )?,
            stealthy_calls_per_hour: t.number(
                "stealthy_calls_per_hour",
                d.stealthy_calls_per_hour,
                0.0,
                1e9,
            )?,
            start_delay: t.dist("start_delay", d.start_delay)?,
            calls_per_hour: t.number("calls_per_hour", d.calls_per_hour, 0.0, 1e9)?,
            refresh: t.choice_enum("refresh", d.refresh)?,
        };
        t.finish()?;
        Ok(attacker)
    }
}

/// Where a single-DPoP key lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SingleDpopKey {
    /// One software key shared by the core (on disk, with the RT) and the edges (in memory).
    SharedSoftware,
    /// The key stays in the core's key storage and signs every proof, API calls included.
    CoreDevice,
}

impl Choice for SingleDpopKey {
    const CHOICES: &'static [(&'static str, Self)] = &[
        ("shared-software", SingleDpopKey::SharedSoftware),
        ("core-device", SingleDpopKey::CoreDevice),
    ];
}

/// Who operates the CA that issued the agent's mTLS client certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaOperator {
    /// The agent's vendor: it revokes centrally once it detects the leak.
    Vendor,
    /// Each customer's own PKI: revocation waits for that customer's response.
    Customer,
}

impl Choice for CaOperator {
    const CHOICES: &'static [(&'static str, Self)] = &[
        ("vendor", CaOperator::Vendor),
        ("customer", CaOperator::Customer),
    ];
}

/// mTLS parameters (see `strategy::mtls`).
#[derive(Clone, Debug, PartialEq)]
pub struct MtlsParams {
    pub ca: CaOperator,
    pub ca_publish_delay: Dist,
    pub crl_reachable_share: f64,
    pub crl_pickup: Dist,
    pub cert_lifetime: Dist,
}

impl Default for MtlsParams {
    fn default() -> Self {
        MtlsParams {
            ca: CaOperator::Customer,
            ca_publish_delay: Dist::Fixed(30.0 * MINUTE),
            crl_reachable_share: 0.5,
            crl_pickup: Dist::Uniform {
                min: 0.0,
                max: 72.0 * HOUR,
            },
            cert_lifetime: Dist::Fixed(365.0 * DAY),
        }
    }
}

impl MtlsParams {
    /// The `kind = "mtls"` keys of a `[[strategy]]`.
    fn read(t: &Table<'_>) -> Result<MtlsParams, ScenarioError> {
        let d = MtlsParams::default();
        Ok(MtlsParams {
            ca: t.choice_enum("ca", d.ca)?,
            ca_publish_delay: t.dist("ca_publish_delay", d.ca_publish_delay)?,
            crl_reachable_share: t.share("crl_reachable_share", d.crl_reachable_share)?,
            crl_pickup: t.dist("crl_pickup", d.crl_pickup)?,
            cert_lifetime: t.dist("cert_lifetime", d.cert_lifetime)?,
        })
    }
}

/// JWKS / private_key_jwt parameters (see `strategy::jwks`).
#[derive(Clone, Debug, PartialEq)]
pub struct JwksParams {
    pub cache_ttl: Dist,
    pub ca_revocation_delay: Dist,
    pub crl_validity: Dist,
    pub revocation_checking_share: f64,
    pub tls_cert_lifetime: Dist,
}

impl Default for JwksParams {
    fn default() -> Self {
        JwksParams {
            cache_ttl: Dist::Fixed(HOUR),
            ca_revocation_delay: Dist::Uniform { min: 0.0, max: DAY },
            crl_validity: Dist::Fixed(7.0 * DAY),
            revocation_checking_share: 1.0,
            tls_cert_lifetime: Dist::Fixed(200.0 * DAY),
        }
    }
}

impl JwksParams {
    /// The `kind = "jwks"` keys of a `[[strategy]]`.
    fn read(t: &Table<'_>) -> Result<JwksParams, ScenarioError> {
        let d = JwksParams::default();
        Ok(JwksParams {
            cache_ttl: t.dist("cache_ttl", d.cache_ttl)?,
            ca_revocation_delay: t.dist("ca_revocation_delay", d.ca_revocation_delay)?,
            crl_validity: t.dist("crl_validity", d.crl_validity)?,
            revocation_checking_share: t
                .share("revocation_checking_share", d.revocation_checking_share)?,
            tls_cert_lifetime: t.dist("tls_cert_lifetime", d.tls_cert_lifetime)?,
        })
    }
}

/// Strategy-specific parameters.
#[derive(Clone, Debug, PartialEq)]
pub enum StrategyKind {
    Bearer,
    Mtls(MtlsParams),
    Jwks(JwksParams),
    SingleDpop { key: SingleDpopKey },
    SplitDpop,
}

impl StrategyKind {
    /// The catalogue family of this strategy.
    pub fn binding(&self) -> Binding {
        match self {
            StrategyKind::Bearer => Binding::Bearer,
            StrategyKind::Mtls(_) => Binding::Mtls,
            StrategyKind::Jwks(_) => Binding::Jwks,
            StrategyKind::SingleDpop { .. } => Binding::SingleDpop,
            StrategyKind::SplitDpop => Binding::SplitDpop,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct StrategyConfig {
    pub name: String,
    pub kind: StrategyKind,
    pub rotation: bool,
    pub reuse_detection: bool,
}

impl StrategyConfig {
    /// What the legitimate agent makes the core's HSM/TPM sign (the catalogue's answer), or
    /// nothing when the core keeps its keys on disk or the key is a shared software key.
    pub fn device_signs(&self, storage: KeyStorage) -> Signs {
        let software_key = matches!(
            self.kind,
            StrategyKind::SingleDpop {
                key: SingleDpopKey::SharedSoftware
            }
        );
        if storage.is_device() && !software_key {
            self.kind.binding().device_signs()
        } else {
            Signs::NONE
        }
    }

    /// One `[[strategy]]`; `rotation` and `reuse_detection` default to the grant's.
    fn read(t: Table<'_>, grant: &Grant) -> Result<StrategyConfig, ScenarioError> {
        let kind_name = t.choice("kind", &STRATEGY_KINDS, "")?;
        if kind_name.is_empty() {
            return Err(t.error(
                "kind",
                format!("required (allowed: {})", STRATEGY_KINDS.join(", ")),
            ));
        }
        let name = t.string("name")?.unwrap_or_else(|| kind_name.to_string());
        let kind = match kind_name {
            "bearer" => StrategyKind::Bearer,
            "mtls" => StrategyKind::Mtls(MtlsParams::read(&t)?),
            "jwks" => StrategyKind::Jwks(JwksParams::read(&t)?),
            "single-dpop" => StrategyKind::SingleDpop {
                key: t.choice_enum("key", SingleDpopKey::SharedSoftware)?,
            },
            _ => StrategyKind::SplitDpop,
        };
        let rotation = t.boolean("rotation", grant.rotation)?;
        let reuse_detection = t.boolean("reuse_detection", grant.reuse_detection && rotation)?;
        if reuse_detection && !rotation {
            return Err(t.error("reuse_detection", "needs `rotation = true`"));
        }
        t.finish()?;
        Ok(StrategyConfig {
            name,
            kind,
            rotation,
            reuse_detection,
        })
    }
}

/// What a leak event compromised.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Compromise {
    /// The core's disk or backups: refresh tokens and any key stored on disk.
    pub core_disk: bool,
    /// The core host: disk, memory, and the HSM/TPM as a signing oracle until eviction.
    pub core_host: bool,
    /// An edge workload's memory: access tokens and the keys held at the edge.
    pub edge_host: bool,
    /// The binding credential's private key (mTLS client key, JWKS signing key).
    pub client_credential: bool,
    /// The TLS key of the host serving the agent's JWKS (web PKI).
    pub jwks_host: bool,
}

pub const COMPROMISE_NAMES: [&str; 5] = [
    "core-disk",
    "core-host",
    "edge-host",
    "client-credential",
    "jwks-host",
];

#[derive(Clone, Debug, PartialEq)]
pub struct Leak {
    pub name: String,
    pub compromise: Compromise,
    pub affected_share: f64,
}

impl Leak {
    /// Share of customers a leak hits when the file does not say.
    pub const DEFAULT_AFFECTED_SHARE: f64 = 1.0;

    /// One `[[leak]]`.
    fn read(t: Table<'_>) -> Result<Leak, ScenarioError> {
        let name = t
            .string("name")?
            .ok_or_else(|| t.error("name", "required"))?;
        let mut compromise = Compromise::default();
        let items = t
            .choices("compromises", &COMPROMISE_NAMES)?
            .ok_or_else(|| {
                t.error(
                    "compromises",
                    format!("required: a list of {}", COMPROMISE_NAMES.join(", ")),
                )
            })?;
        for item in items {
            match item {
                "core-disk" => compromise.core_disk = true,
                "core-host" => compromise.core_host = true,
                "edge-host" => compromise.edge_host = true,
                "client-credential" => compromise.client_credential = true,
                _ => compromise.jwks_host = true,
            }
        }
        if compromise == Compromise::default() {
            return Err(t.error("compromises", "must name at least one compromised part"));
        }
        let affected_share = t.share("affected_share", Leak::DEFAULT_AFFECTED_SHARE)?;
        t.finish()?;
        Ok(Leak {
            name,
            compromise,
            affected_share,
        })
    }
}

/// A signing device for the load claims: a device profile by name (the figures live in one
/// place, `scenarios/device-profiles.toml`, resolved by the claims) and a latency objective.
#[derive(Clone, Debug, PartialEq)]
pub struct Device {
    pub profile: String,
    /// Latency objective for one signature (seconds): p99 sojourn in the device queue.
    pub slo_p99: f64,
}

impl Device {
    /// The latency objective when the file does not say (seconds).
    pub const DEFAULT_SLO_P99: f64 = 0.1;

    /// One `[[device]]`.
    fn read(t: Table<'_>) -> Result<Device, ScenarioError> {
        let device = Device {
            profile: t
                .string("profile")?
                .ok_or_else(|| t.error("profile", "required (a name from scenarios/device-profiles.toml, e.g. \"tpm-infineon-slb9672\")"))?,
            slo_p99: t.duration("slo_p99", Device::DEFAULT_SLO_P99)?,
        };
        t.finish()?;
        Ok(device)
    }
}

/// Command-line overrides of a scenario's seed and run size.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Overrides {
    pub seed: Option<u64>,
    pub replications: Option<u32>,
    pub customers: Option<u64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    pub seed: u64,
    pub replications: u32,
    pub customers: u64,
    pub horizon: f64,
    pub core_key_storage: KeyStorage,
    pub grant: Grant,
    pub response: Response,
    pub detection: Detection,
    pub vendor: Vendor,
    pub provider: Provider,
    pub dpop: Dpop,
    pub attacker: Attacker,
    pub strategies: Vec<StrategyConfig>,
    pub leaks: Vec<Leak>,
    /// Signing devices the load claims are judged against (`[[device]]`).
    pub devices: Vec<Device>,
    pub grid_points: usize,
}

const STRATEGY_KINDS: [&str; 5] = ["bearer", "mtls", "jwks", "single-dpop", "split-dpop"];

/// `[scenario]`: what the run is called and how large it is.
struct Header {
    name: String,
    description: String,
    seed: u64,
    replications: u32,
    customers: u64,
    horizon: f64,
    grid_points: usize,
}

impl Header {
    fn read(t: Table<'_>) -> Result<Header, ScenarioError> {
        let name = t
            .string("name")?
            .ok_or_else(|| t.error("name", "required"))?;
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(t.error("name", "must be non-empty and use only letters, digits, '-' and '_' (it names the results directory)"));
        }
        let description = t.string("description")?.unwrap_or_default();
        let seed = t.integer("seed", 1, 0, i64::MAX as u64)?;
        let replications = t.integer("replications", 20, 2, 10_000)? as u32;
        let customers = t.integer("customers", 10_000, 1, 100_000_000)?;
        let horizon = t.duration("horizon", 90.0 * DAY)?;
        if horizon <= 0.0 {
            return Err(t.error("horizon", "must be greater than zero"));
        }
        let header = Header {
            name,
            description,
            seed,
            replications,
            customers,
            horizon,
            grid_points: t.integer("grid_points", 200, 10, 10_000)? as usize,
        };
        t.finish()?;
        Ok(header)
    }
}

impl Scenario {
    /// One line on what a run of this scenario simulates, for terminals.
    pub fn describe(&self) -> String {
        format!(
            "scenario \"{}\": {} customers × {} strategies × {} leaks × {} replications, horizon {}",
            self.name,
            self.customers,
            self.strategies.len(),
            self.leaks.len(),
            self.replications,
            leaklab_base::duration::format_duration(self.horizon)
        )
    }

    /// Applies command-line overrides of seed and run size. Returns the line that records them
    /// next to the scenario text (what was simulated is the file plus these), or `None`.
    pub fn apply(&mut self, o: Overrides) -> Option<String> {
        if let Some(seed) = o.seed {
            self.seed = seed;
        }
        if let Some(r) = o.replications {
            self.replications = r;
        }
        if let Some(n) = o.customers {
            self.customers = n;
        }
        (o.seed.is_some() || o.replications.is_some() || o.customers.is_some()).then(|| {
            format!(
                "\n# leaklab run overrides: seed = {}, replications = {}, customers = {}\n",
                self.seed, self.replications, self.customers
            )
        })
    }

    /// Reads and validates a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
            file: file.clone(),
            key: String::new(),
            value: None,
            message: format!("cannot read: {e}"),
        })?;
        Self::from_toml(&file, &text)
    }

    /// Parses and validates scenario TOML; `file` names the source in errors.
    pub fn from_toml(file: &str, text: &str) -> Result<Scenario, ScenarioError> {
        let raw: toml::Table = text.parse().map_err(|e: toml::de::Error| ScenarioError {
            file: file.to_string(),
            key: String::new(),
            value: None,
            message: leaklab_base::toml_reader::toml_error_line(text, &e),
        })?;
        let root = Table::root(file, &raw);
        let scenario = Self::read(&root)?;
        // `[capacity]` belongs to `leaklab capacity`; it is validated there.
        let _ = root.table("capacity")?;
        root.finish()?;
        Ok(scenario)
    }

    fn read(root: &Table<'_>) -> Result<Scenario, ScenarioError> {
        let header = Header::read(
            root.table("scenario")?
                .ok_or_else(|| root.error("scenario", "required table [scenario] is missing"))?,
        )?;
        let agent = root.table_or_empty("agent")?;
        let core_key_storage = agent.choice_enum("core_key_storage", KeyStorage::Hsm)?;
        agent.finish()?;
        let grant = Grant::read(root.table_or_empty("grant")?)?;
        let response = Response::read(root.table_or_empty("response")?)?;
        let detection = Detection::read(root.table_or_empty("detection")?)?;
        let vendor = Vendor::read(root.table_or_empty("vendor")?)?;
        let provider = Provider::read(root.table_or_empty("provider")?)?;
        let dpop = Dpop::read(root.table_or_empty("dpop")?)?;
        let attacker = Attacker::read(root.table_or_empty("attacker")?)?;
        let devices = root
            .tables("device")?
            .into_iter()
            .map(Device::read)
            .collect::<Result<Vec<_>, _>>()?;
        let strategies = root
            .tables("strategy")?
            .into_iter()
            .map(|t| StrategyConfig::read(t, &grant))
            .collect::<Result<Vec<_>, _>>()?;
        if strategies.is_empty() {
            return Err(root.error(
                "strategy",
                format!(
                    "at least one [[strategy]] is required (kinds: {})",
                    STRATEGY_KINDS.join(", ")
                ),
            ));
        }
        check_unique(root, "strategy", strategies.iter().map(|s| s.name.as_str()))?;
        let leaks = root
            .tables("leak")?
            .into_iter()
            .map(Leak::read)
            .collect::<Result<Vec<_>, _>>()?;
        if leaks.is_empty() {
            return Err(root.error("leak", "at least one [[leak]] is required"));
        }
        check_unique(root, "leak", leaks.iter().map(|l| l.name.as_str()))?;
        Ok(Scenario {
            name: header.name,
            description: header.description,
            seed: header.seed,
            replications: header.replications,
            customers: header.customers,
            horizon: header.horizon,
            core_key_storage,
            grant,
            response,
            detection,
            vendor,
            provider,
            dpop,
            attacker,
            strategies,
            leaks,
            devices,
            grid_points: header.grid_points,
        })
    }

    /// A strategy by name.
    pub fn strategy(&self, name: &str) -> Option<&StrategyConfig> {
        self.strategies.iter().find(|s| s.name == name)
    }

    /// A leak by name.
    pub fn leak(&self, name: &str) -> Option<&Leak> {
        self.leaks.iter().find(|l| l.name == name)
    }
}

fn check_unique<'a>(
    root: &Table<'_>,
    key: &'static str,
    names: impl Iterator<Item = &'a str>,
) -> Result<(), ScenarioError> {
    let mut seen = std::collections::BTreeSet::new();
    for n in names {
        if !seen.insert(n) {
            return Err(root.error(key, format!("name \"{n}\" is used twice")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[scenario]
name = "minimal"

[[strategy]]
kind = "mtls"

[[strategy]]
kind = "jwks"

[[leak]]
name = "rt-store"
compromises = ["core-disk"]
"#;

    /// A file that leaves every table out gets each struct's `Default`: the values
    /// docs/model.md §14 cites.
    #[test]
    fn absent_tables_take_the_cited_defaults() {
        let s = Scenario::from_toml("minimal.toml", MINIMAL).unwrap();
        assert_eq!(s.grant, Grant::default());
        assert_eq!(s.response, Response::default());
        assert_eq!(s.detection, Detection::default());
        assert_eq!(s.vendor, Vendor::default());
        assert_eq!(s.provider, Provider::default());
        assert_eq!(s.dpop, Dpop::default());
        assert_eq!(s.attacker, Attacker::default());
        assert_eq!(
            s.strategies[0].kind,
            StrategyKind::Mtls(MtlsParams::default())
        );
        assert_eq!(
            s.strategies[1].kind,
            StrategyKind::Jwks(JwksParams::default())
        );
        assert_eq!(s.leaks[0].affected_share, Leak::DEFAULT_AFFECTED_SHARE);
        assert_eq!(s.core_key_storage, KeyStorage::Hsm);
        assert_eq!((s.seed, s.replications, s.customers), (1, 20, 10_000));
        assert_eq!((s.horizon, s.grid_points), (90.0 * DAY, 200));
        // Spot checks against the table in docs/model.md §14.
        assert_eq!(s.grant.at_lifetime, Dist::Fixed(HOUR));
        assert_eq!(s.dpop.proof_window, 5.0 * MINUTE);
        assert_eq!(s.attacker.greedy_calls_per_hour, 3600.0);
    }

    #[test]
    fn present_but_empty_sub_tables_take_their_defaults_too() {
        let text = format!(
            "{MINIMAL}\n[vendor]\nmass_revoke = {{}}\n[detection]\nreuse_alert = {{}}\n\
             [[device]]\nprofile = \"azure-managed-hsm\"\n"
        );
        let s = Scenario::from_toml("s.toml", &text).unwrap();
        assert_eq!(s.vendor.mass_revoke, Some(MassRevoke::default()));
        assert_eq!(s.detection.reuse_alert, Some(Alert::default()));
        assert_eq!(s.devices[0].slo_p99, Device::DEFAULT_SLO_P99);
    }

    #[test]
    fn enum_keys_name_their_allowed_values() {
        for (table, key, allowed) in [
            ("agent", "core_key_storage", "disk, tpm, hsm"),
            ("grant", "at_revocation", "expiry, introspection"),
            ("attacker", "refresh", "at-start, on-expiry, never"),
        ] {
            let text = format!("{MINIMAL}\n[{table}]\n{key} = \"nope\"\n");
            let e = Scenario::from_toml("x.toml", &text)
                .unwrap_err()
                .to_string();
            assert_eq!(
                e,
                format!(
                    "x.toml: key `{table}.{key}`: value \"nope\": not allowed (allowed: {allowed})"
                )
            );
        }
        let text = MINIMAL.replace("kind = \"mtls\"", "kind = \"mtls\"\nca = \"nope\"");
        let e = Scenario::from_toml("x.toml", &text)
            .unwrap_err()
            .to_string();
        assert!(
            e.ends_with("not allowed (allowed: vendor, customer)"),
            "{e}"
        );
        let text = format!("{MINIMAL}\n[attacker]\npolicies = [\"greedy\", \"sneaky\"]\n");
        let e = Scenario::from_toml("x.toml", &text)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("\"sneaky\" is not allowed (allowed: maximal, at-expiry, greedy, stealthy)"),
            "{e}"
        );
        let text = format!("{MINIMAL}\n[attacker]\npolicies = [\"stealthy\", \"greedy\"]\n");
        let s = Scenario::from_toml("x.toml", &text).unwrap();
        assert_eq!(
            s.attacker.policies,
            [AttackerPolicy::Stealthy, AttackerPolicy::Greedy]
        );
        assert_eq!(AttackerPolicy::AtExpiry.name(), "at-expiry");
    }
}
