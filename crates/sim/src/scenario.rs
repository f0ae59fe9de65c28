//! Typed scenario configuration, read from TOML files in `scenarios/`.
//!
//! Every key is documented in `scenarios/README.md`; defaults come from
//! `docs/model.md` (which cites the sources). [`Scenario::from_toml`] refuses unknown keys,
//! out-of-range values and values outside an allowed set, naming the file, the key and what
//! is allowed.

use std::path::Path;

use leaklab_base::catalogue::{Binding, Signs, Traffic};
use leaklab_base::dist::Dist;
use leaklab_base::duration::{DAY, HOUR, MINUTE};
use leaklab_base::toml_reader::{ScenarioError, Table};

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

/// Whether revoking a grant also kills the access tokens already issued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AtRevocation {
    /// Self-contained JWT ATs stay valid until they expire.
    Expiry,
    /// Resource servers introspect (RFC 7662) or get revocation events: ATs die with the grant.
    Introspection,
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

impl Detection {
    /// Whether detection can come from what the attacker does (otherwise it is the exogenous
    /// delay alone, and customers do not interact).
    pub fn attack_driven(&self) -> bool {
        self.reuse_alert.is_some()
            || self.binding_alert.is_some()
            || self.volume_alert_per_call > 0.0
            || self.customer_report.is_some()
    }
}

/// One detection source triggered by an attack event: it fires with `probability`, `delay`
/// after the event.
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    pub probability: f64,
    pub delay: Dist,
}

/// The vendor's response playbook after detection.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Vendor {
    /// Revoke every grant the vendor holds (RFC 7009), in random order at a finite rate.
    pub mass_revoke: Option<MassRevoke>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MassRevoke {
    /// From detection to the first revocation.
    pub delay: Dist,
    /// Revocations per second (the provider's API rate limit for the vendor).
    pub rate_per_s: f64,
}

/// The identity provider's own response.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Provider {
    /// From detection to the provider revoking every grant of the integration (and their
    /// access tokens); `None`: it does not.
    pub revoke_all_delay: Option<Dist>,
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

impl Dpop {
    /// How long after losing a signing oracle an attacker can still use proofs signed ahead.
    pub fn presign_horizon(&self) -> f64 {
        self.proof_window.min(self.nonce_lifetime)
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

pub const ATTACKER_POLICY_NAMES: [&str; 4] = ["maximal", "at-expiry", "greedy", "stealthy"];

impl AttackerPolicy {
    pub fn name(self) -> &'static str {
        match self {
            AttackerPolicy::Maximal => "maximal",
            AttackerPolicy::AtExpiry => "at-expiry",
            AttackerPolicy::Greedy => "greedy",
            AttackerPolicy::Stealthy => "stealthy",
        }
    }

    fn from_name(name: &str) -> AttackerPolicy {
        match name {
            "at-expiry" => AttackerPolicy::AtExpiry,
            "greedy" => AttackerPolicy::Greedy,
            "stealthy" => AttackerPolicy::Stealthy,
            _ => AttackerPolicy::Maximal,
        }
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

impl Attacker {
    /// API calls per hour of one policy.
    pub fn calls_per_hour(&self, policy: AttackerPolicy) -> f64 {
        match policy {
            AttackerPolicy::Maximal | AttackerPolicy::AtExpiry => self.calls_per_hour,
            AttackerPolicy::Greedy => self.greedy_calls_per_hour,
            AttackerPolicy::Stealthy => self.stealthy_calls_per_hour,
        }
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

/// Who operates the CA that issued the agent's mTLS client certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaOperator {
    /// The agent's vendor: it revokes centrally once it detects the leak.
    Vendor,
    /// Each customer's own PKI: revocation waits for that customer's response.
    Customer,
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

/// JWKS / private_key_jwt parameters (see `strategy::jwks`).
#[derive(Clone, Debug, PartialEq)]
pub struct JwksParams {
    pub cache_ttl: Dist,
    pub ca_revocation_delay: Dist,
    pub crl_validity: Dist,
    pub revocation_checking_share: f64,
    pub tls_cert_lifetime: Dist,
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

/// A signing device for the load claims: a device profile by name (the figures live in one
/// place, `scenarios/device-profiles.toml`, resolved by the claims) and a latency objective.
#[derive(Clone, Debug, PartialEq)]
pub struct Device {
    pub profile: String,
    /// Latency objective for one signature (seconds): p99 sojourn in the device queue.
    pub slo_p99: f64,
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
        let s = root
            .table("scenario")?
            .ok_or_else(|| root.error("scenario", "required table [scenario] is missing"))?;
        let name = s
            .string("name")?
            .ok_or_else(|| s.error("name", "required"))?;
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(s.error("name", "must be non-empty and use only letters, digits, '-' and '_' (it names the results directory)"));
        }
        let description = s.string("description")?.unwrap_or_default();
        let seed = s.integer("seed", 1, 0, i64::MAX as u64)?;
        let replications = s.integer("replications", 20, 2, 10_000)? as u32;
        let customers = s.integer("customers", 10_000, 1, 100_000_000)?;
        let horizon = s.duration("horizon", 90.0 * DAY)?;
        if horizon <= 0.0 {
            return Err(s.error("horizon", "must be greater than zero"));
        }
        let grid_points = s.integer("grid_points", 200, 10, 10_000)? as usize;
        s.finish()?;

        let a = root.table_or_empty("agent")?;
        let core_key_storage = match a.choice("core_key_storage", &["disk", "tpm", "hsm"], "hsm")? {
            "disk" => KeyStorage::Disk,
            "tpm" => KeyStorage::Tpm,
            _ => KeyStorage::Hsm,
        };
        a.finish()?;

        let g = root.table_or_empty("grant")?;
        let grant = Grant {
            edges: g.integer("edges_per_customer", 4, 1, 1_000)? as u32,
            at_lifetime: g.dist("at_lifetime", Dist::Fixed(HOUR))?,
            refresh_interval: g.dist_or("refresh_interval", "at-expiry", None)?,
            rt_lifetime: g.dist_or("rt_lifetime", "none", None)?,
            rotation: g.boolean("rotation", false)?,
            reuse_detection: g.boolean("reuse_detection", false)?,
            at_revocation: match g.choice(
                "at_revocation",
                &["expiry", "introspection"],
                "expiry",
            )? {
                "introspection" => AtRevocation::Introspection,
                _ => AtRevocation::Expiry,
            },
            calls_per_s_per_edge: g.number("calls_per_s_per_edge", 1.0, 0.0, 1e6)?,
            connection_lifetime: g.duration("connection_lifetime", HOUR)?,
            false_reuse_per_refresh: g.share("false_reuse_per_refresh", 0.0)?,
            edge_lifetime: g.dist_or("edge_lifetime", "none", None)?,
        };

        if grant.connection_lifetime <= 0.0 {
            return Err(g.error("connection_lifetime", "must be greater than zero"));
        }
        if grant.reuse_detection && !grant.rotation {
            return Err(g.error(
                "reuse_detection",
                "needs `rotation = true` (reuse is only detectable when refresh tokens rotate)",
            ));
        }
        g.finish()?;

        let r = root.table_or_empty("response")?;
        let part =
            |key: &'static str, share: f64, delay: Dist| -> Result<(f64, Dist), ScenarioError> {
                let t = r.table_or_empty(key)?;
                let out = (t.share("share", share)?, t.dist("delay", delay)?);
                t.finish()?;
                Ok(out)
            };
        let (immediate_share, immediate_delay) =
            part("immediate", 0.1, Dist::Exponential { mean: 4.0 * HOUR })?;
        let (eventual_share, eventual_delay) = part(
            "eventual",
            0.3,
            Dist::LogNormal {
                median: 7.0 * DAY,
                sigma: 1.0,
            },
        )?;
        let never = r.table_or_empty("never")?;
        let never_share = never.share("share", 0.6)?;
        never.finish()?;
        let total = immediate_share + eventual_share + never_share;
        if (total - 1.0).abs() > 1e-6 {
            return Err(r.error("never", format!("shares of immediate, eventual and never must add up to 1 (they add up to {total})")));
        }
        let reconsent_delay = r.dist(
            "reconsent_delay",
            Dist::LogNormal {
                median: DAY,
                sigma: 1.0,
            },
        )?;
        r.finish()?;
        let response = Response {
            immediate_share,
            immediate_delay,
            eventual_share,
            eventual_delay,
            never_share,
            reconsent_delay,
        };

        let d = root.table_or_empty("detection")?;
        let detection = Detection {
            delay: d.dist(
                "delay",
                Dist::LogNormal {
                    median: 10.0 * DAY,
                    sigma: 1.0,
                },
            )?,
            notify_delay: d.dist("notify_delay", Dist::Fixed(DAY))?,
            eviction_delay: d.dist("eviction_delay", Dist::Fixed(4.0 * HOUR))?,
            credential_action_delay: d.dist("credential_action_delay", Dist::Fixed(HOUR))?,
            kill_switch_delay: d.dist_or("kill_switch_delay", "none", None)?,
            reuse_alert: alert(&d, "reuse_alert")?,
            binding_alert: alert(&d, "binding_alert")?,
            volume_alert_per_call: d.number("volume_alert_per_call", 0.0, 0.0, 1.0)?,
            customer_report: alert(&d, "customer_report")?,
        };
        d.finish()?;

        let v = root.table_or_empty("vendor")?;
        let vendor = Vendor {
            mass_revoke: match v.table("mass_revoke")? {
                None => None,
                Some(m) => {
                    let out = MassRevoke {
                        delay: m.dist("delay", Dist::Fixed(HOUR))?,
                        rate_per_s: m.number("rate_per_s", 20.0, 1e-6, 1e9)?,
                    };
                    m.finish()?;
                    Some(out)
                }
            },
        };
        v.finish()?;

        let p = root.table_or_empty("provider")?;
        let provider = Provider {
            revoke_all_delay: p.dist_or("revoke_all_delay", "none", None)?,
        };
        p.finish()?;

        let dp = root.table_or_empty("dpop")?;
        let dpop = Dpop {
            proof_window: dp
                .duration_or_none("proof_window", Some(5.0 * 60.0))?
                .unwrap_or(f64::INFINITY),
            nonce_lifetime: dp
                .duration_or_none("nonce_lifetime", None)?
                .unwrap_or(f64::INFINITY),
        };
        if dpop.nonce_lifetime <= 0.0 {
            return Err(dp.error(
                "nonce_lifetime",
                "must be greater than zero, or \"none\" for no server nonces",
            ));
        }
        dp.finish()?;

        let t = root.table_or_empty("attacker")?;
        let policies: Vec<AttackerPolicy> = t
            .choices("policies", &ATTACKER_POLICY_NAMES)?
            .unwrap_or(vec!["maximal"])
            .into_iter()
            .map(AttackerPolicy::from_name)
            .collect();
        if policies.is_empty() {
            return Err(t.error(
                "policies",
                format!(
                    "must name at least one policy (allowed: {})",
                    ATTACKER_POLICY_NAMES.join(", ")
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
            greedy_calls_per_hour: t.number("greedy_calls_per_hour", 3600.0, 0.0, 1e9)?,
            stealthy_calls_per_hour: t.number("stealthy_calls_per_hour", 2.0, 0.0, 1e9)?,
            start_delay: t.dist("start_delay", Dist::Fixed(0.0))?,
            calls_per_hour: t.number("calls_per_hour", 60.0, 0.0, 1e9)?,
            refresh: match t.choice("refresh", &["at-start", "on-expiry", "never"], "at-start")? {
                "on-expiry" => AttackerRefresh::OnExpiry,
                "never" => AttackerRefresh::Never,
                _ => AttackerRefresh::AtStart,
            },
        };
        t.finish()?;

        let mut devices = Vec::new();
        for t in root.tables("device")? {
            let d = Device {
                profile: t
                    .string("profile")?
                    .ok_or_else(|| t.error("profile", "required (a name from scenarios/device-profiles.toml, e.g. \"tpm-infineon-slb9672\")"))?,
                slo_p99: t.duration("slo_p99", 0.1)?,
            };
            t.finish()?;
            devices.push(d);
        }

        let mut strategies = Vec::new();
        for t in root.tables("strategy")? {
            strategies.push(read_strategy(&t, &grant)?);
            t.finish()?;
        }
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

        let mut leaks = Vec::new();
        for t in root.tables("leak")? {
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
            let affected_share = t.share("affected_share", 1.0)?;
            t.finish()?;
            leaks.push(Leak {
                name,
                compromise,
                affected_share,
            });
        }
        if leaks.is_empty() {
            return Err(root.error("leak", "at least one [[leak]] is required"));
        }
        check_unique(root, "leak", leaks.iter().map(|l| l.name.as_str()))?;

        Ok(Scenario {
            name,
            description,
            seed,
            replications,
            customers,
            horizon,
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
            grid_points,
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

/// An optional `{ probability, delay }` detection source.
fn alert(t: &Table<'_>, key: &'static str) -> Result<Option<Alert>, ScenarioError> {
    let Some(a) = t.table(key)? else {
        return Ok(None);
    };
    let out = Alert {
        probability: a.share("probability", 1.0)?,
        delay: a.dist("delay", Dist::Fixed(0.0))?,
    };
    a.finish()?;
    Ok(Some(out))
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

fn read_strategy(t: &Table<'_>, grant: &Grant) -> Result<StrategyConfig, ScenarioError> {
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
        "mtls" => StrategyKind::Mtls(MtlsParams {
            ca: match t.choice("ca", &["vendor", "customer"], "customer")? {
                "vendor" => CaOperator::Vendor,
                _ => CaOperator::Customer,
            },
            ca_publish_delay: t.dist("ca_publish_delay", Dist::Fixed(30.0 * MINUTE))?,
            crl_reachable_share: t.share("crl_reachable_share", 0.5)?,
            crl_pickup: t.dist(
                "crl_pickup",
                Dist::Uniform {
                    min: 0.0,
                    max: 72.0 * HOUR,
                },
            )?,
            cert_lifetime: t.dist("cert_lifetime", Dist::Fixed(365.0 * DAY))?,
        }),
        "jwks" => StrategyKind::Jwks(JwksParams {
            cache_ttl: t.dist("cache_ttl", Dist::Fixed(HOUR))?,
            ca_revocation_delay: t
                .dist("ca_revocation_delay", Dist::Uniform { min: 0.0, max: DAY })?,
            crl_validity: t.dist("crl_validity", Dist::Fixed(7.0 * DAY))?,
            revocation_checking_share: t.share("revocation_checking_share", 1.0)?,
            tls_cert_lifetime: t.dist("tls_cert_lifetime", Dist::Fixed(200.0 * DAY))?,
        }),
        "single-dpop" => StrategyKind::SingleDpop {
            key: match t.choice(
                "key",
                &["shared-software", "core-device"],
                "shared-software",
            )? {
                "core-device" => SingleDpopKey::CoreDevice,
                _ => SingleDpopKey::SharedSoftware,
            },
        },
        _ => StrategyKind::SplitDpop,
    };
    let rotation = t.boolean("rotation", grant.rotation)?;
    let reuse_detection = t.boolean("reuse_detection", grant.reuse_detection && rotation)?;
    if reuse_detection && !rotation {
        return Err(t.error("reuse_detection", "needs `rotation = true`"));
    }
    Ok(StrategyConfig {
        name,
        kind,
        rotation,
        reuse_detection,
    })
}
