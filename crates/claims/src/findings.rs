//! Findings beyond the slides: questions the slides do not ask, answered by variants of the
//! claims scenario on common random numbers and judged like the claims (95% intervals over
//! replications; "indistinguishable" when they overlap). Whatever the numbers say is the answer.

use serde::Serialize;

use super::{Measurement, MissingPart};
use leaklab_base::dist::Dist;
use leaklab_base::duration::{format_duration, DAY, HOUR, MINUTE};
use leaklab_sim::runner::{run, Progress, RunResults};
use leaklab_sim::scenario::{AttackerPolicy, MassRevoke, Scenario};
use leaklab_sim::stats::Interval;

/// One finding: the question, the measured rows, and the answer read off them.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    pub id: &'static str,
    pub question: &'static str,
    pub setting: String,
    pub rows: Vec<Measurement>,
    pub answer: String,
}

/// Customers and replications of each variant run (small: the findings compare strategies on
/// the same draws, which keeps their intervals narrow).
const CUSTOMERS: u64 = 2_000;
const REPLICATIONS: u32 = 10;

/// How two intervals compare.
fn compare(a: &Interval, b: &Interval) -> &'static str {
    if a.high < b.low {
        "lower"
    } else if a.low > b.high {
        "higher"
    } else {
        "indistinguishable"
    }
}

fn hours(i: &Interval) -> String {
    if i.mean.is_finite() {
        format!(
            "{:.2} h [{:.2}, {:.2}]",
            i.mean / HOUR,
            i.low / HOUR,
            i.high / HOUR
        )
    } else {
        "never".into()
    }
}

fn need(
    base: &Scenario,
    finding: &'static str,
    strategies: &[&'static str],
    leaks: &[&'static str],
) -> Result<(), MissingPart> {
    for s in strategies {
        if base.strategy(s).is_none() {
            return Err(MissingPart {
                claim: finding,
                what: "strategy",
                name: s,
            });
        }
    }
    for l in leaks {
        if base.leak(l).is_none() {
            return Err(MissingPart {
                claim: finding,
                what: "leak",
                name: l,
            });
        }
    }
    Ok(())
}

/// A small variant of `base` with only the named strategies and leaks.
fn variant(
    base: &Scenario,
    strategies: &[&str],
    leaks: &[&str],
    policies: &[AttackerPolicy],
) -> Scenario {
    let mut s = base.clone();
    s.customers = s.customers.min(CUSTOMERS);
    s.replications = REPLICATIONS;
    s.strategies
        .retain(|x| strategies.contains(&x.name.as_str()));
    s.leaks.retain(|x| leaks.contains(&x.name.as_str()));
    s.attacker.policies = policies.to_vec();
    s
}

fn mean_ttd(r: &RunResults, strategy: &str, leak: &str, policy: &str) -> Interval {
    Interval::of(&r.metric_of(strategy, leak, policy, "ttd_mean_censored_s"))
}

/// Judges every finding. `results` is the claims run of `base` (reused where it suffices).
pub fn evaluate(
    base: &Scenario,
    results: &RunResults,
    progress: &dyn Progress,
) -> Result<Vec<Finding>, MissingPart> {
    Ok(vec![
        playbook_vs_binding(base, progress)?,
        rotation_with_reuse_detection(base, results)?,
        split_against_footholds_and_presigning(base, progress)?,
    ])
}

/// (a) The vendor's mass revocation against the choice of binding, as detection delay grows.
fn playbook_vs_binding(base: &Scenario, progress: &dyn Progress) -> Result<Finding, MissingPart> {
    const ID: &str = "playbook-vs-binding";
    need(
        base,
        ID,
        &["bearer", "split-dpop"],
        &["rt-store", "core-host"],
    )?;
    let playbook = MassRevoke {
        delay: Dist::Fixed(HOUR),
        rate_per_s: 20.0,
    };
    let mut rows = Vec::new();
    let mut answers = Vec::new();
    for delay in [0.0, DAY, 7.0 * DAY] {
        let mut s = variant(
            base,
            &["bearer", "split-dpop"],
            &["rt-store", "core-host"],
            &[AttackerPolicy::Maximal],
        );
        s.detection.delay = Dist::Fixed(delay);
        let without = run(&s, false, progress);
        s.vendor.mass_revoke = Some(playbook.clone());
        let with = run(&s, false, progress);
        for leak in ["rt-store", "core-host"] {
            let bearer_playbook = mean_ttd(&with, "bearer", leak, "maximal");
            let split_alone = mean_ttd(&without, "split-dpop", leak, "maximal");
            let split_playbook = mean_ttd(&with, "split-dpop", leak, "maximal");
            let d = format_duration(delay);
            rows.push(Measurement::of(
                format!("detection {d}, {leak}: bearer + mass revocation, mean TTD"),
                &bearer_playbook,
                "s",
            ));
            rows.push(Measurement::of(
                format!("detection {d}, {leak}: split-dpop alone, mean TTD"),
                &split_alone,
                "s",
            ));
            rows.push(Measurement::of(
                format!("detection {d}, {leak}: split-dpop + mass revocation, mean TTD"),
                &split_playbook,
                "s",
            ));
            answers.push(format!(
                "detection {d}, {leak}: bearer + playbook {} is {} than split DPoP alone {}",
                hours(&bearer_playbook),
                compare(&bearer_playbook, &split_alone),
                hours(&split_alone)
            ));
        }
    }
    Ok(Finding {
        id: ID,
        question: "How does a vendor mass-revocation playbook (every grant revoked from detection + 1 h at 20/s) compare with the choice of binding, as detection delay grows?",
        setting: format!("{} customers, {} replications, maximal attacker, fixed detection delays 0 / 1 d / 7 d", base.customers.min(CUSTOMERS), REPLICATIONS),
        rows,
        answer: answers.join("; "),
    })
}

/// (b) Rotation with reuse detection, per leak and attacker policy.
fn rotation_with_reuse_detection(
    base: &Scenario,
    results: &RunResults,
) -> Result<Finding, MissingPart> {
    const ID: &str = "rotation-with-reuse-detection";
    need(base, ID, &["bearer", "bearer-rotation"], &[])?;
    let mut rows = Vec::new();
    let mut better = Vec::new();
    let mut not_better = Vec::new();
    for leak in &base.leaks {
        for policy in &base.attacker.policies {
            let rotation = mean_ttd(results, "bearer-rotation", &leak.name, policy.name());
            let plain = mean_ttd(results, "bearer", &leak.name, policy.name());
            let label = format!("{}, {}", leak.name, policy.name());
            rows.push(Measurement::of(
                format!("{label}: bearer-rotation mean TTD"),
                &rotation,
                "s",
            ));
            rows.push(Measurement::of(
                format!("{label}: bearer mean TTD"),
                &plain,
                "s",
            ));
            if compare(&rotation, &plain) == "lower" {
                better.push(format!("{label} ({})", hours(&rotation)));
            } else {
                not_better.push(format!(
                    "{label} ({} vs {})",
                    hours(&rotation),
                    hours(&plain)
                ));
            }
        }
    }
    Ok(Finding {
        id: ID,
        question: "What does refresh-token rotation with reuse detection achieve against each leak and attacker policy?",
        setting: format!("the claims run: {} customers, {} replications", base.customers, base.replications),
        rows,
        answer: format!(
            "shorter than plain bearer on: {}; not shorter on: {}",
            if better.is_empty() { "none".into() } else { better.join(", ") },
            if not_better.is_empty() { "none".into() } else { not_better.join(", ") }
        ),
    })
}

/// (c) Split DPoP against a persistent foothold and pre-signing, with and without nonces.
fn split_against_footholds_and_presigning(
    base: &Scenario,
    progress: &dyn Progress,
) -> Result<Finding, MissingPart> {
    const ID: &str = "split-dpop-vs-foothold-and-presigning";
    need(base, ID, &["split-dpop", "single-dpop-hsm"], &["core-host"])?;
    let policies = [AttackerPolicy::Maximal, AttackerPolicy::AtExpiry];
    let settings: [(&str, f64, f64); 3] = [
        ("no iat bound, no nonce", f64::INFINITY, f64::INFINITY),
        ("5 min iat window, no nonce", 5.0 * MINUTE, f64::INFINITY),
        ("5 min iat window, 1 min nonces", 5.0 * MINUTE, MINUTE),
    ];
    let mut rows = Vec::new();
    let mut answers = Vec::new();
    for (label, window, nonce) in settings {
        let mut s = variant(
            base,
            &["split-dpop", "single-dpop-hsm"],
            &["core-host"],
            &policies,
        );
        s.dpop.proof_window = window;
        s.dpop.nonce_lifetime = nonce;
        let r = run(&s, false, progress);
        let one_time = mean_ttd(&r, "split-dpop", "core-host", "at-expiry");
        let maximal = mean_ttd(&r, "split-dpop", "core-host", "maximal");
        let single = mean_ttd(&r, "single-dpop-hsm", "core-host", "maximal");
        rows.push(Measurement::of(
            format!("{label}: split-dpop, one-time thief (at-expiry), mean TTD"),
            &one_time,
            "s",
        ));
        rows.push(Measurement::of(
            format!("{label}: split-dpop, maximal (foothold + pre-signing), mean TTD"),
            &maximal,
            "s",
        ));
        rows.push(Measurement::of(
            format!("{label}: single-dpop-hsm, maximal, mean TTD"),
            &single,
            "s",
        ));
        answers.push(format!(
            "{label}: split DPoP {} against the maximal attacker vs {} against a one-time thief; single DPoP (HSM) {}",
            hours(&maximal),
            hours(&one_time),
            hours(&single)
        ));
    }
    Ok(Finding {
        id: ID,
        question: "What does split DPoP buy against a persistent foothold on the core host and against pre-signed proofs, with and without server nonces?",
        setting: format!("{} customers, {} replications, core host compromised", base.customers.min(CUSTOMERS), REPLICATIONS),
        rows,
        answer: answers.join("; "),
    })
}
