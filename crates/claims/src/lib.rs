//! The IETF 124 slide claims ("Separate DPoP for access and refresh tokens"), each judged from a
//! simulation run of `scenarios/ietf124.toml`. Nothing here decides a verdict from a constant:
//! every verdict compares simulated values (with their 95% intervals over replications) against
//! the claim's condition, and a claim the model does not support is reported as not reproduced.

use serde::Serialize;

pub mod findings;

use leaklab_base::duration::{format_duration, DAY, HOUR};
use leaklab_capacity::builtin_profiles;
use leaklab_capacity::queue::simulate as simulate_queue;
use leaklab_capacity::{CapacityError, DeviceProfile};
use leaklab_sim::runner::RunResults;
use leaklab_sim::stats::Interval;
use leaklab_sim::summary::{find, summarize, SummaryRow};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Reproduced,
    NotReproduced,
}

/// One measured value a verdict rests on: the mean over replications and its 95% interval.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Measurement {
    /// What was measured (strategy, leak, attacker policy, metric).
    pub name: String,
    pub value: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    pub unit: &'static str,
}

impl Measurement {
    fn of(name: impl Into<String>, i: &Interval, unit: &'static str) -> Measurement {
        Measurement {
            name: name.into(),
            value: i.mean,
            ci_low: i.low,
            ci_high: i.high,
            unit,
        }
    }
}

/// One claim, its condition, what the simulation says and the verdict.
#[derive(Clone, Debug, Serialize)]
pub struct Claim {
    pub id: &'static str,
    pub claim: &'static str,
    pub condition: String,
    /// The thresholds the measurements were judged against.
    pub threshold: String,
    pub measurements: Vec<Measurement>,
    pub simulated: String,
    pub verdict: Verdict,
}

/// The claims as text for a terminal: one block per claim, then the count reproduced.
pub fn render_text(claims: &[Claim]) -> String {
    let mut out = String::new();
    for c in claims {
        let verdict = match c.verdict {
            Verdict::Reproduced => "REPRODUCED",
            Verdict::NotReproduced => "NOT REPRODUCED",
        };
        out.push_str(&format!(
            "[{verdict}] {}\n  claim:     {}\n  condition: {}\n  threshold: {}\n  simulated: {}\n\n",
            c.id, c.claim, c.condition, c.threshold, c.simulated
        ));
    }
    let n = claims
        .iter()
        .filter(|c| c.verdict == Verdict::Reproduced)
        .count();
    out.push_str(&format!("{n} of {} claims reproduced.\n", claims.len()));
    out
}

/// The ietf124 scenario the claims are judged on, built in so `reproduce` works from any
/// directory.
pub const IETF124_SCENARIO: &str = include_str!("../data/ietf124.toml");

/// What `leaklab reproduce --json` prints: the scenario's name and every judged claim.
#[derive(Clone, Debug, Serialize)]
pub struct ClaimsReport {
    pub scenario: String,
    pub claims: Vec<Claim>,
    pub findings: Vec<findings::Finding>,
}

/// What `leaklab reproduce` prints: the claims, then the findings.
impl std::fmt::Display for ClaimsReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}\n{}",
            render_text(&self.claims),
            render_findings(&self.findings)
        )
    }
}

/// The findings as text for a terminal.
pub fn render_findings(findings: &[findings::Finding]) -> String {
    let mut out = String::from("Findings beyond the slides:\n\n");
    for f in findings {
        out.push_str(&format!(
            "[{}]\n  question: {}\n  setting:  {}\n  answer:   {}\n\n",
            f.id, f.question, f.setting, f.answer
        ));
    }
    out
}

/// What a claim needs that the scenario does not have.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
#[error("the scenario has no {what} `{name}`, which claim `{claim}` needs")]
pub struct MissingPart {
    pub claim: &'static str,
    pub what: &'static str,
    pub name: &'static str,
}

/// Why the claims could not be judged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClaimsError {
    #[error(transparent)]
    Missing(#[from] MissingPart),
    /// A `[[device]]` names a profile that is not in `scenarios/device-profiles.toml`.
    // Not a `#[from]` source: the message already carries it, and a source would print it
    // twice in an error chain.
    #[error("[[device]] profile: {0}")]
    Device(CapacityError),
}

fn ci(i: &Interval, fmt: impl Fn(f64) -> String) -> String {
    format!("{} [95% CI {} – {}]", fmt(i.mean), fmt(i.low), fmt(i.high))
}

fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

fn days(x: f64) -> String {
    if x.is_finite() {
        format!("{:.2} d", x / DAY)
    } else {
        "never".into()
    }
}

/// One run's summary, read by the claims: a metric's interval for a strategy and leak, its
/// values per replication, or the same metric for every strategy.
struct RunSummary<'a> {
    rows: Vec<SummaryRow>,
    results: &'a RunResults,
}

impl<'a> RunSummary<'a> {
    fn new(results: &'a RunResults) -> Self {
        RunSummary {
            rows: summarize(results),
            results,
        }
    }

    /// The metric's mean and 95% interval; the part of the scenario `claim` needs when missing.
    fn interval(
        &self,
        claim: &'static str,
        strategy: &'static str,
        leak: &'static str,
        metric: &str,
    ) -> Result<Interval, MissingPart> {
        if self.results.scenario.strategy(strategy).is_none() {
            return Err(MissingPart {
                claim,
                what: "strategy",
                name: strategy,
            });
        }
        if self.results.scenario.leak(leak).is_none() {
            return Err(MissingPart {
                claim,
                what: "leak",
                name: leak,
            });
        }
        find(&self.rows, strategy, leak, metric)
            .map(|r| r.interval)
            .ok_or(MissingPart {
                claim,
                what: "metric",
                name: "(unknown)",
            })
    }

    fn per_replication(&self, strategy: &str, leak: &str, metric: &str) -> Vec<f64> {
        self.results.metric(strategy, leak, metric)
    }

    /// The same metric for every strategy of the scenario on the same leak and draws (common
    /// random numbers): the comparison a claim about one strategy is read against.
    fn across_strategies(&self, leak: &str, metric: &str, unit: &'static str) -> Vec<Measurement> {
        self.results
            .scenario
            .strategies
            .iter()
            .filter_map(|s| {
                find(&self.rows, &s.name, leak, metric).map(|r| {
                    Measurement::of(format!("{} {leak} {metric}", s.name), &r.interval, unit)
                })
            })
            .collect()
    }
}

impl Verdict {
    fn of(reproduced: bool) -> Verdict {
        if reproduced {
            Verdict::Reproduced
        } else {
            Verdict::NotReproduced
        }
    }
}

/// A claim's judge: one claim, or one per `[[device]]`.
type Judge = fn(&RunSummary<'_>) -> Result<Vec<Claim>, ClaimsError>;

/// The slides' claims, in the slides' order.
const CLAIMS: [Judge; 5] = [
    revocation_tail,
    mtls_days,
    jwks_crl,
    device_bottleneck,
    split_containment,
];

/// Judges every claim from a run of the ietf124 scenario.
pub fn evaluate(results: &RunResults) -> Result<Vec<Claim>, ClaimsError> {
    let run = RunSummary::new(results);
    let mut claims = Vec::new();
    for judge in CLAIMS {
        claims.extend(judge(&run)?);
    }
    Ok(claims)
}

/// Simple revocation: immediate / eventual / never, and binding removes the tail.
fn revocation_tail(run: &RunSummary<'_>) -> Result<Vec<Claim>, ClaimsError> {
    let id = "simple-revocation-tail";
    let immediate = run.interval(id, "bearer", "rt-store", "share_disabled_within_1d")?;
    let never = run.interval(id, "bearer", "rt-store", "share_never")?;
    let split_never = run.interval(id, "split-dpop", "rt-store", "share_never")?;
    let eventual: Vec<f64> = run
        .per_replication("bearer", "rt-store", "share_disabled_within_1d")
        .iter()
        .zip(run.per_replication("bearer", "rt-store", "share_never"))
        .map(|(d, n)| 1.0 - d - n)
        .collect();
    let eventual = Interval::of(&eventual);
    const MIN_SHARE: f64 = 0.01;
    let ok = immediate.low > MIN_SHARE
        && eventual.low > MIN_SHARE
        && never.low > MIN_SHARE
        && never.low > split_never.high;
    Ok(vec![Claim {
        id,
        claim: "With plain revocation across many customers, some respond immediately, some eventually, some never",
        condition: "bearer tokens, refresh-token store leaked: shares of affected customers disabled within 1 day / later / never, against split DPoP on the same customers".into(),
        threshold: format!("each bearer share's 95% CI above {:.0}%, and bearer's never-disabled share above split DPoP's (CIs apart)", 100.0 * MIN_SHARE),
        measurements: vec![
            Measurement::of("bearer rt-store share disabled within 1 d", &immediate, "share"),
            Measurement::of("bearer rt-store share disabled later", &eventual, "share"),
            Measurement::of("bearer rt-store share never disabled", &never, "share"),
            Measurement::of("split-dpop rt-store share never disabled", &split_never, "share"),
        ],
        simulated: format!("within 1 d {}; later {}; never {}; split DPoP never {}", ci(&immediate, pct), ci(&eventual, pct), ci(&never, pct), ci(&split_never, pct)),
        verdict: Verdict::of(ok),
    }])
}

/// mTLS: days up to never.
fn mtls_days(run: &RunSummary<'_>) -> Result<Vec<Claim>, ClaimsError> {
    let id = "mtls-days-to-never";
    let p50 = run.interval(id, "mtls", "client-credential", "ttd_p50_s")?;
    let never = run.interval(id, "mtls", "client-credential", "share_never")?;
    let ok = p50.low >= DAY && never.low > 0.0;
    Ok(vec![Claim {
        id,
        claim: "mTLS (private-CA client certificate, CRL): time to disable is days up to never",
        condition: "client key and refresh tokens leaked".into(),
        threshold:
            "median TTD's 95% CI at or above 1 day and the never-disabled share's CI above 0".into(),
        measurements: vec![
            Measurement::of("mtls client-credential median TTD", &p50, "s"),
            Measurement::of(
                "mtls client-credential share never disabled",
                &never,
                "share",
            ),
        ]
        .into_iter()
        .chain(run.across_strategies("client-credential", "ttd_p50_s", "s"))
        .collect(),
        simulated: format!("median TTD {}; never {}", ci(&p50, days), ci(&never, pct)),
        verdict: Verdict::of(ok),
    }])
}

/// JWKS: about 3.5 days with a 7-day CRL.
fn jwks_crl(run: &RunSummary<'_>) -> Result<Vec<Claim>, ClaimsError> {
    let id = "jwks-3.5-days";
    let mean = run.interval(id, "jwks", "jwks-host", "ttd_mean_censored_nonresponders_s")?;
    let never = run.interval(id, "jwks", "jwks-host", "share_never_nonresponders")?;
    let ok = mean.low >= 3.0 * DAY && mean.high <= 4.0 * DAY;
    Ok(vec![Claim {
        id,
        claim: "JWKS / private_key_jwt behind web PKI: time to disable around 3.5 days assuming 7-day CRL validity",
        condition: "JWKS host TLS key and refresh tokens leaked; customers who do not act themselves".into(),
        threshold: "mean TTD's 95% CI within [3.0, 4.0] days".into(),
        measurements: vec![
            Measurement::of("jwks jwks-host mean TTD (non-responders, censored at the horizon)", &mean, "s"),
            Measurement::of("jwks jwks-host share never disabled (non-responders)", &never, "share"),
        ].into_iter().chain(run.across_strategies("jwks-host", "ttd_mean_censored_nonresponders_s", "s")).collect(),
        simulated: format!("mean TTD {}; never disabled {}", ci(&mean, days), ci(&never, pct)),
        verdict: Verdict::of(ok),
    }])
}

/// The legitimate fleet's device load (signatures/s) under single and split DPoP.
struct DeviceLoads {
    /// Single DPoP with the key in the device: every call and every refresh.
    single: f64,
    /// The same at a low call rate of one call per hour per edge.
    single_low: f64,
    /// Split DPoP: refreshes only.
    split: f64,
}

impl DeviceLoads {
    fn of(results: &RunResults, id: &'static str) -> Result<DeviceLoads, ClaimsError> {
        let leak = results
            .scenario
            .leaks
            .first()
            .map(|l| l.name.as_str())
            .unwrap_or_default();
        let calls = results.metric("single-dpop-hsm", leak, "device_call_signs_per_s");
        let refresh = results.metric("single-dpop-hsm", leak, "device_refresh_signs_per_s");
        let split = results.metric("split-dpop", leak, "device_signs_per_s");
        for (values, name) in [(&calls, "single-dpop-hsm"), (&split, "split-dpop")] {
            if values.is_empty() {
                return Err(MissingPart {
                    claim: id,
                    what: "strategy",
                    name,
                }
                .into());
            }
        }
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let rate = results.scenario.grant.calls_per_s_per_edge;
        let low_rate = 1.0 / HOUR;
        Ok(DeviceLoads {
            single: mean(&calls) + mean(&refresh),
            single_low: mean(&calls) * if rate > 0.0 { low_rate / rate } else { 0.0 }
                + mean(&refresh),
            split: mean(&split),
        })
    }
}

/// Signing load: per-call signing makes the HSM/TPM the bottleneck, refresh-only does not.
fn device_bottleneck(run: &RunSummary<'_>) -> Result<Vec<Claim>, ClaimsError> {
    let id = "single-dpop-device-bottleneck";
    let results = run.results;
    let loads = DeviceLoads::of(results, id)?;
    if results.scenario.devices.is_empty() {
        return Err(MissingPart {
            claim: id,
            what: "[[device]]",
            name: "profile",
        }
        .into());
    }
    let profiles = builtin_profiles().map_err(ClaimsError::Device)?;
    results
        .scenario
        .devices
        .iter()
        .map(|device| {
            let dev = profiles.get(&device.profile).map_err(ClaimsError::Device)?;
            Ok(device_claim(id, results, &loads, dev, device.slo_p99))
        })
        .collect()
}

/// The bottleneck claim judged for one device and latency objective `slo` (seconds).
fn device_claim(
    id: &'static str,
    results: &RunResults,
    loads: &DeviceLoads,
    dev: &DeviceProfile,
    slo: f64,
) -> Claim {
    let seed = results.scenario.seed;
    let rate = results.scenario.grant.calls_per_s_per_edge;
    let capacity = dev.capacity_per_s();
    let p99 = |load: f64| queue_p99(load, dev, seed);
    let (single_p99, single_low_p99, split_p99) =
        (p99(loads.single), p99(loads.single_low), p99(loads.split));
    let meets = |p: Option<f64>| p.is_some_and(|p| p <= slo);
    // The claim's condition as a boundary: the largest fleet one device serves within its
    // objective (the load of the scenario's fleet scales with the number of customers).
    let customers = results.scenario.customers as f64;
    let fleet = |load: f64| largest_fleet(load / customers, dev, slo, seed);
    let ok = !meets(single_p99) && meets(single_low_p99) && meets(split_p99);
    let show = |load: f64, p: Option<f64>| {
        format!(
            "{load:.1} signs/s, utilisation {:.2}, p99 {}",
            load / capacity,
            p.map_or("unbounded (queue unstable)".into(), |p| format!(
                "{:.1} ms",
                p * 1e3
            ))
        )
    };
    let point = |name: &str, v: f64, unit| Measurement {
        name: name.to_string(),
        value: v,
        ci_low: v,
        ci_high: v,
        unit,
    };
    let p99_or_inf = |p: Option<f64>| p.unwrap_or(f64::INFINITY);
    Claim {
        id,
        threshold: format!(
            "single DPoP misses the p99 objective ({:.0} ms) at the scenario's call rate; meets it at 1 call/hour per edge; split DPoP meets it",
            slo * 1e3
        ),
        measurements: vec![
            point("single-dpop-hsm device signs per second", loads.single, "1/s"),
            point("single-dpop-hsm p99 signing latency", p99_or_inf(single_p99), "s"),
            point("single-dpop-hsm device signs per second at 1 call/hour", loads.single_low, "1/s"),
            point("single-dpop-hsm p99 signing latency at 1 call/hour", p99_or_inf(single_low_p99), "s"),
            point("split-dpop device signs per second", loads.split, "1/s"),
            point("split-dpop p99 signing latency", p99_or_inf(split_p99), "s"),
            point("largest fleet within the p99 objective: single DPoP", fleet(loads.single), "customers"),
            point("largest fleet within the p99 objective: single DPoP at 1 call/hour", fleet(loads.single_low), "customers"),
            point("largest fleet within the p99 objective: split DPoP", fleet(loads.split), "customers"),
        ],
        claim: "Single DPoP is fine at a low signing rate, but an HSM/TPM that signs every access-token use becomes the bottleneck; refresh-only signing (split DPoP) does not",
        condition: format!(
            "one {} ({:.1} signs/s, {}) for the agent's {} customers, p99 signing latency objective {:.0} ms; {} calls/s per edge vs a low rate of 1 call/hour per edge",
            dev.description,
            capacity,
            dev.source,
            results.scenario.customers,
            slo * 1e3,
            rate
        ),
        simulated: format!(
            "single DPoP (device signs every call): {}; same at 1 call/hour: {}; split DPoP (refresh only): {}. The objective holds up to {} customers per device for single DPoP, {} at 1 call/hour, {} for split DPoP",
            show(loads.single, single_p99),
            show(loads.single_low, single_low_p99),
            show(loads.split, split_p99),
            fleet(loads.single),
            fleet(loads.single_low),
            fleet(loads.split)
        ),
        verdict: Verdict::of(ok),
    }
}

/// Split DPoP: a leaked RT is unusable; an edge compromise is bounded by the AT lifetime.
fn split_containment(run: &RunSummary<'_>) -> Result<Vec<Claim>, ClaimsError> {
    let id = "split-dpop-containment";
    let scenario = &run.results.scenario;
    let refreshes = run.interval(id, "split-dpop", "rt-store", "attacker_refresh_ok")?;
    let rt_ttd = run.interval(id, "split-dpop", "rt-store", "ttd_max_s")?;
    let edge_max = run.per_replication("split-dpop", "edge", "ttd_max_s");
    if scenario.leak("edge").is_none() {
        return Err(MissingPart {
            claim: id,
            what: "leak",
            name: "edge",
        }
        .into());
    }
    let worst_edge = edge_max.iter().copied().fold(0.0, f64::max);
    let at_max = scenario.grant.at_lifetime.upper_bound();
    let ok = refreshes.high == 0.0 && rt_ttd.high == 0.0 && worst_edge <= at_max;
    let edge = Interval::of(&edge_max);
    let headline = scenario.attacker.policies.first().map_or("", |p| p.name());
    Ok(vec![Claim {
        id,
        threshold: format!(
            "{headline} attacker: successful refreshes with the leaked store 0 in every replication, its TTD 0, and the largest edge-compromise TTD at most the AT lifetime ({})",
            format_duration(at_max)
        ),
        measurements: vec![
            Measurement::of("split-dpop rt-store attacker refreshes", &refreshes, "count"),
            Measurement::of("split-dpop rt-store largest TTD", &rt_ttd, "s"),
            Measurement::of("split-dpop edge largest TTD", &edge, "s"),
        ].into_iter().chain(run.across_strategies("edge", "ttd_max_s", "s")).collect(),
        claim: "Split DPoP / DPoP-RT keeps a leaked refresh token unusable and bounds an edge compromise by the access-token lifetime",
        condition: format!(
            "refresh-token store leaked: zero successful attacker refreshes and TTD 0; edge compromised: largest TTD over all customers and replications at most the AT lifetime ({})",
            format_duration(at_max)
        ),
        simulated: format!(
            "attacker refreshes with leaked RTs: {:.0} (max over replications {:.0}); largest edge-compromise TTD {}",
            refreshes.mean,
            refreshes.high,
            format_duration(worst_edge)
        ),
        verdict: Verdict::of(ok),
    }])
}

/// The largest whole number of customers, each adding `per_customer` signatures/s, whose load
/// one device serves within the p99 objective `slo` (the p99 grows with the load); infinite when
/// customers add no load.
fn largest_fleet(per_customer: f64, device: &DeviceProfile, slo: f64, seed: u64) -> f64 {
    if per_customer <= 0.0 {
        return f64::INFINITY;
    }
    let meets = |n: f64| queue_p99(n * per_customer, device, seed).is_some_and(|p| p <= slo);
    // Below capacity the queue is stable; bisect on the number of customers.
    let (mut low, mut high) = (0.0_f64, (device.capacity_per_s() / per_customer).ceil());
    if !meets(1.0) {
        return 0.0;
    }
    while high - low > 1.0 {
        let mid = ((low + high) / 2.0).floor();
        if meets(mid) {
            low = mid;
        } else {
            high = mid;
        }
    }
    low
}

/// p99 sojourn (seconds) of one device serving `load` signatures/s with a fixed service time of
/// 1/`ops_per_s`; `None` when the queue is unstable (utilisation ≥ 1).
fn queue_p99(load: f64, device: &DeviceProfile, seed: u64) -> Option<f64> {
    if load <= 0.0 {
        return Some(0.0);
    }
    if load >= device.capacity_per_s() {
        return None;
    }
    simulate_queue(&device.queue(load, 200_000, 20_000, seed))
        .ok()
        .map(|s| s.sojourn.p99)
}
