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
//!
//! **Layout.** [`run`] walks the cells; a cell is started, its customers provisioned, their
//! actions scheduled on an agenda, played in time order and judged (`cell.rs`); the attacker's
//! turns are in `attacker.rs`. The authorization server is driven through the
//! [`AuthorizationServer`] trait ([`LeaklabAs`] is the testbed's); the rest of the customer's
//! world (CA, JWKS hosts, resource servers) is the testbed's.

mod agenda;
mod attacker;
mod cell;
mod keys;
mod live;
mod result;
mod scope;
mod server;

use std::path::PathBuf;

use leaklab_sim::runner::customer_plans;
use leaklab_sim::scenario::{AttackerPolicy, Scenario};

pub use keys::SharedSigner;
pub use result::{CellResult, CustomerResult, DrillRow, DrillSummary};
pub use server::{AuthorizationServer, Grant, LeaklabAs, ServerError};

/// Largest |measured − predicted| still counted as agreement, seconds.
pub const TOLERANCE_S: f64 = 3.0;

/// The drill's protocol epoch: the leak happens at this unix time.
const T0: i64 = 1_800_000_000;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DrillError {
    #[error("scenario: {0}")]
    Plan(#[from] leaklab_sim::runner::PlanError),
    #[error(transparent)]
    Bed(#[from] leaklab_testbed::BedError),
    #[error(transparent)]
    Client(#[from] leaklab_testbed::ClientError),
    #[error(transparent)]
    Pki(#[from] leaklab_testbed::PkiError),
    #[error("{0}")]
    Server(ServerError),
    #[error("signing: {0}")]
    Sign(String),
    #[error("the drill cannot replay this scenario: {0}")]
    Unsupported(Unsupported),
}

// By hand rather than `#[from]`, which would also make the case the error's source and print
// it twice in an error chain.
impl From<Unsupported> for DrillError {
    fn from(case: Unsupported) -> Self {
        DrillError::Unsupported(case)
    }
}

/// What the drill cannot replay in a whole scenario (cells it does not replay are named in the
/// results instead, see [`CellResult::skipped`]).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unsupported {
    #[error("server nonces ([dpop] nonce_lifetime) are not driven by the drill yet")]
    ServerNonces,
    #[error(
        "an absolute refresh-token lifetime ([grant] rt_lifetime) is not driven by the drill yet"
    )]
    RtLifetime,
    #[error(
        "false reuse detections ([grant] false_reuse_per_refresh) are not driven by the drill"
    )]
    FalseReuse,
    #[error("access-token lifetimes that differ between customers")]
    MixedAtLifetimes,
    /// The scenario keeps a core key on a device and the drill was given none.
    #[error("{0} needs a core HSM/TPM key (the drill was given no device)")]
    NoDevice(&'static str),
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

/// Runs the drill over every strategy × leak of `scenario`.
pub async fn run(scenario: &Scenario, opts: &DrillOptions) -> Result<Vec<CellResult>, DrillError> {
    scope::check_supported(scenario)?;
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
            match scope::skip_reason(scenario, strategy, leak, policy) {
                Some(reason) => cell.skipped = Some(reason),
                None => {
                    let plans =
                        customer_plans(scenario, s, l, policy, opts.replication, opts.customers)?;
                    let dir = opts
                        .state_dir
                        .join(format!("{}--{}", strategy.name, leak.name));
                    let _ = std::fs::remove_dir_all(&dir);
                    let setting = cell::Setting {
                        scenario,
                        strategy,
                        leak,
                        policy,
                        opts,
                    };
                    cell.customers = cell::run(&setting, &plans, &dir).await?;
                }
            }
            (opts.progress)(&format!("{} × {}", cell.strategy, cell.leak));
            cells.push(cell);
        }
    }
    Ok(cells)
}
