//! Simulator v2 mechanisms against closed forms: attack-driven detection, mass revocation,
//! pre-signing, footholds, availability, and robustness to ±1 s jitter of every configured time.

use leaklab_base::duration::{parse_duration, Policy, HOUR, MINUTE};
use leaklab_sim::runner::{run, RunResults, Silent};
use leaklab_sim::scenario::{Overrides, Scenario};
use leaklab_sim::stats::Interval;

fn scenario(customers: u64, replications: u32, body: &str) -> Scenario {
    let text = format!(
        "[scenario]\nname = \"t\"\nseed = 11\nreplications = {replications}\ncustomers = {customers}\nhorizon = \"60d\"\n{body}"
    );
    Scenario::from_toml("test.toml", &text).unwrap_or_else(|e| panic!("{e}"))
}

fn metric(r: &RunResults, strategy: &str, leak: &str, attacker: &str, m: &str) -> Vec<f64> {
    let v = r.metric_of(strategy, leak, attacker, m);
    assert!(
        !v.is_empty(),
        "no metric {m} for {strategy}/{leak}/{attacker}"
    );
    v
}

const NEVER_RESPOND: &str =
    "[response]\nimmediate = { share = 0.0 }\neventual = { share = 0.0 }\nnever = { share = 1.0 }\n";

/// Mean and standard error of `v`.
fn mean_se(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, (var / n).sqrt())
}

/// Calls at rate c by each of N attackers, each detected with hazard λ per call: the vendor's
/// detection is the first event of a Poisson process of rate N·λ·c, exponential.
#[test]
fn volume_detection_is_exponential_with_rate_n_lambda_c() {
    let (n, lambda, calls_per_hour) = (200.0, 1e-4, 60.0);
    let s = scenario(
        n as u64,
        300,
        &format!(
            "{NEVER_RESPOND}[detection]\ndelay = \"1000d\"\nvolume_alert_per_call = {lambda}\n\
             [attacker]\npolicies = [\"maximal\"]\ncalls_per_hour = {calls_per_hour}\n\
             [[strategy]]\nkind = \"bearer\"\n[[leak]]\nname = \"rt\"\ncompromises = [\"core-disk\"]\n"
        ),
    );
    let r = run(&s, false, &Silent);
    let hours = metric(&r, "bearer", "rt", "maximal", "detection_h");
    let expected_mean = 1.0 / (n * lambda * calls_per_hour / HOUR) / HOUR;
    let (mean, se) = mean_se(&hours);
    assert!(
        (mean - expected_mean).abs() < 4.0 * se,
        "mean detection {mean} h (se {se}) vs exponential mean {expected_mean} h"
    );
    // Exponential: the standard deviation equals the mean.
    let sd = se * (hours.len() as f64).sqrt();
    assert!(
        (sd / mean - 1.0).abs() < 0.2,
        "coefficient of variation {}",
        sd / mean
    );
    assert!(metric(&r, "bearer", "rt", "maximal", "detected_by_attack")
        .iter()
        .all(|d| *d == 1.0));
}

/// The attacker forks each family at once; each client's next refresh (uniform phase over the
/// interval I) trips reuse detection, which alerts the vendor d later: detection is
/// d + I·min(U₁…U_N), of mean d + I/(N+1).
#[test]
fn reuse_alerts_detect_at_the_first_client_refresh_plus_the_alert_delay() {
    let n = 50.0;
    let s = scenario(
        n as u64,
        400,
        &format!(
            "{NEVER_RESPOND}[grant]\nat_lifetime = \"1h\"\n\
             [detection]\ndelay = \"1000d\"\nreuse_alert = {{ probability = 1.0, delay = \"10m\" }}\n\
             [attacker]\npolicies = [\"at-expiry\"]\nrefresh = \"at-start\"\n\
             [[strategy]]\nkind = \"bearer\"\nrotation = true\nreuse_detection = true\n\
             [[leak]]\nname = \"rt\"\ncompromises = [\"core-disk\"]\n"
        ),
    );
    let r = run(&s, false, &Silent);
    let seconds: Vec<f64> = metric(&r, "bearer", "rt", "at-expiry", "detection_h")
        .iter()
        .map(|h| h * HOUR)
        .collect();
    let expected = 10.0 * MINUTE + HOUR / (n + 1.0);
    let (mean, se) = mean_se(&seconds);
    assert!(
        (mean - expected).abs() < 4.0 * se,
        "mean detection {mean} s (se {se}) vs {expected} s"
    );
    assert!(seconds.iter().all(|s| *s > 10.0 * MINUTE));
}

/// The vendor revokes all N grants in a random order at rate μ from detection + delay: the
/// k-th revocation is at start + k/μ, so with introspection (access tokens die with the grant)
/// the sorted TTDs are exactly start + 1/μ, start + 2/μ, … start + N/μ.
#[test]
fn vendor_mass_revocation_at_rate_mu_gives_uniform_order_statistics() {
    let (n, mu) = (500u64, 0.1);
    let s = scenario(
        n,
        3,
        &format!(
            "{NEVER_RESPOND}[grant]\nat_revocation = \"introspection\"\n\
             [detection]\ndelay = \"1h\"\n[vendor]\nmass_revoke = {{ delay = \"30m\", rate_per_s = {mu} }}\n\
             [attacker]\npolicies = [\"maximal\"]\n\
             [[strategy]]\nkind = \"bearer\"\n[[leak]]\nname = \"rt\"\ncompromises = [\"core-disk\"]\n"
        ),
    );
    let r = run(&s, true, &Silent);
    let start = HOUR + 30.0 * MINUTE;
    for cell in &r.cells {
        let mut ttd: Vec<f64> = cell.customers.iter().map(|c| c.ttd).collect();
        ttd.sort_by(f64::total_cmp);
        assert_eq!(ttd.len(), n as usize);
        for (k, t) in ttd.iter().enumerate() {
            let expected = start + (k as f64 + 1.0) / mu;
            assert!((t - expected).abs() < 1e-6, "rank {k}: {t} vs {expected}");
        }
        // Every customer was locked out by the revocation.
        let locked = cell
            .acc
            .metrics()
            .into_iter()
            .find(|(m, _)| *m == "share_locked_out")
            .map(|(_, v)| v);
        assert_eq!(locked, Some(1.0));
    }
}

/// Split DPoP, core host with an HSM, eviction 4 h after an instant detection, customers who
/// never act: the maximal attacker refreshes until the oracle is gone, plus the shelf life of a
/// pre-signed DPoP-RT proof, and its last access token lives one lifetime more.
#[test]
fn pre_signing_extends_the_oracle_by_the_proof_window_or_the_nonce_lifetime() {
    let ttd_max = |dpop: &str, strategy: &str| {
        let s = scenario(
            300,
            2,
            &format!(
                "{NEVER_RESPOND}[grant]\nat_lifetime = \"1h\"\n[detection]\ndelay = \"0s\"\neviction_delay = \"4h\"\n\
                 [dpop]\n{dpop}\n[attacker]\npolicies = [\"maximal\"]\n\
                 [[strategy]]\nname = \"s\"\nkind = \"{strategy}\"\n{}\
                 [[leak]]\nname = \"host\"\ncompromises = [\"core-host\"]\n",
                if strategy == "single-dpop" { "key = \"core-device\"\n" } else { "" }
            ),
        );
        let r = run(&s, false, &Silent);
        let max = metric(&r, "s", "host", "maximal", "ttd_max_s");
        let mean = metric(&r, "s", "host", "maximal", "ttd_mean_censored_s");
        if max[0].is_finite() {
            assert_eq!(max, mean, "every customer has the same TTD");
        }
        max[0]
    };
    let eviction = 4.0 * HOUR;
    assert_eq!(
        ttd_max("proof_window = \"5m\"", "split-dpop"),
        eviction + 5.0 * MINUTE + HOUR
    );
    // A server nonce of 1 minute caps the pre-signing window.
    assert_eq!(
        ttd_max(
            "proof_window = \"5m\"\nnonce_lifetime = \"1m\"",
            "split-dpop"
        ),
        eviction + MINUTE + HOUR
    );
    // Single DPoP with the key in the HSM: every call needs a proof, so the access token dies
    // with the last pre-signed proof.
    assert_eq!(
        ttd_max("proof_window = \"5m\"", "single-dpop"),
        eviction + 5.0 * MINUTE
    );
    // No iat window and no nonce: proofs signed ahead never expire.
    assert!(ttd_max("proof_window = \"none\"", "split-dpop").is_infinite());
}

/// Rotation with reuse detection, core host: a one-time thief is cut off at the client's first
/// refresh (its last token lives to 1 h); an attacker who keeps reading the store until
/// eviction (4 h) refreshes at the last moment before the client's first refresh after eviction
/// (uniform in [4 h, 5 h)) and keeps that token one lifetime: TTD uniform in [5 h, 6 h).
#[test]
fn a_persistent_foothold_defeats_rotation_until_eviction() {
    let s = scenario(
        2000,
        3,
        &format!(
            "{NEVER_RESPOND}[grant]\nat_lifetime = \"1h\"\n[detection]\ndelay = \"0s\"\neviction_delay = \"4h\"\n\
             [attacker]\npolicies = [\"maximal\", \"at-expiry\"]\nrefresh = \"at-start\"\n\
             [[strategy]]\nkind = \"bearer\"\nrotation = true\nreuse_detection = true\n\
             [[leak]]\nname = \"host\"\ncompromises = [\"core-host\"]\n"
        ),
    );
    let r = run(&s, false, &Silent);
    for max in metric(&r, "bearer", "host", "at-expiry", "ttd_max_s") {
        assert_eq!(max, HOUR);
    }
    for max in metric(&r, "bearer", "host", "maximal", "ttd_max_s") {
        assert!(max > 5.0 * HOUR && max <= 6.0 * HOUR, "{max}");
    }
    let mean = Interval::of(&metric(
        &r,
        "bearer",
        "host",
        "maximal",
        "ttd_mean_censored_s",
    ));
    assert!(
        (mean.mean - 5.5 * HOUR).abs() < 0.03 * HOUR,
        "mean {mean:?}, uniform [5 h, 6 h) has mean 5.5 h"
    );
}

/// Everyone revokes at notification (instant) and takes exactly 10 h to authorize again:
/// 10 h of lockout per customer, affected or not, and 4 edges × 1 call/s × 10 h failed calls.
#[test]
fn lockout_runs_from_the_grant_kill_to_re_consent_for_every_customer() {
    let s = scenario(
        400,
        2,
        "[response]\nimmediate = { share = 1.0, delay = \"0s\" }\neventual = { share = 0.0 }\nnever = { share = 0.0 }\nreconsent_delay = \"10h\"\n\
         [detection]\ndelay = \"0s\"\nnotify_delay = \"0s\"\n[grant]\nedges_per_customer = 4\ncalls_per_s_per_edge = 1.0\n\
         [[strategy]]\nkind = \"split-dpop\"\n[[leak]]\nname = \"some\"\ncompromises = [\"core-disk\"]\naffected_share = 0.5\n",
    );
    let r = run(&s, false, &Silent);
    for v in metric(
        &r,
        "split-dpop",
        "some",
        "maximal",
        "lockout_h_per_customer",
    ) {
        assert!((v - 10.0).abs() < 1e-9, "{v}");
    }
    for v in metric(
        &r,
        "split-dpop",
        "some",
        "maximal",
        "legit_calls_failed_per_customer",
    ) {
        assert!((v - 4.0 * 10.0 * HOUR).abs() < 1e-6, "{v}");
    }
}

/// Shifts every duration literal of a scenario text by `delta` seconds (the horizon and
/// durations under a minute excepted).
fn jitter(text: &str, delta: f64) -> String {
    let mut out = String::new();
    for line in text.lines() {
        if line.trim_start().starts_with("horizon") || line.trim_start().starts_with('#') {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let mut rest = line;
        while let Some(start) = rest.find('"') {
            let Some(len) = rest[start + 1..].find('"') else {
                break;
            };
            let literal = &rest[start + 1..start + 1 + len];
            out.push_str(&rest[..start]);
            match parse_duration(literal, Policy::UnitRequiredPositive) {
                // Configured times (a minute or more); latency objectives are not times of
                // the model.
                Ok(secs) if secs >= 60.0 => out.push_str(&format!("\"{}s\"", secs + delta)),
                _ => out.push_str(&format!("\"{literal}\"")),
            }
            rest = &rest[start + 2 + len..];
        }
        out.push_str(rest);
        out.push('\n');
    }
    out
}

/// No headline result hinges on a tie between round numbers: moving every configured time of
/// the default scenario by ±1 s moves no maximal-attacker metric by more than its confidence
/// interval plus the few seconds the shifts add up to.
#[test]
fn jittering_every_configured_time_by_one_second_moves_no_headline_metric() {
    let text = include_str!("../scenarios/ietf124.toml");
    let load = |t: &str| {
        let mut s = Scenario::from_toml("ietf124.toml", t).unwrap_or_else(|e| panic!("{e}"));
        s.apply(Overrides {
            seed: None,
            replications: Some(8),
            customers: Some(2000),
        });
        s.attacker.policies.truncate(1);
        run(&s, false, &Silent)
    };
    let base = load(text);
    let shifted = jitter(text, 1.0);
    assert_ne!(shifted, text, "the jitter changed nothing");
    for delta in [1.0, -1.0] {
        let other = load(&jitter(text, delta));
        for strategy in &base.scenario.strategies {
            for leak in &base.scenario.leaks {
                for m in [
                    "ttd_mean_censored_s",
                    "ttd_max_s",
                    "share_never",
                    "share_disabled_within_1h",
                    "share_disabled_within_1d",
                ] {
                    let a = Interval::of(&base.metric(&strategy.name, &leak.name, m));
                    let b = Interval::of(&other.metric(&strategy.name, &leak.name, m));
                    if !a.mean.is_finite() || !b.mean.is_finite() {
                        assert_eq!(a.mean.is_finite(), b.mean.is_finite(), "{m}");
                        continue;
                    }
                    // Seconds for times; for shares, the customers a 1-s band can move across a
                    // reporting threshold (0.2 percentage points).
                    let slack = if m.starts_with("share") { 0.002 } else { 10.0 };
                    let allowed = (a.high - a.low) / 2.0 + (b.high - b.low) / 2.0 + slack;
                    assert!(
                        (a.mean - b.mean).abs() <= allowed,
                        "{}/{}: {m} moved from {} to {} with every time shifted by {delta} s",
                        strategy.name,
                        leak.name,
                        a.mean,
                        b.mean
                    );
                }
            }
        }
    }
}

/// Broken v2 keys are refused naming the file, the key, the value and what is allowed.
#[test]
fn broken_v2_keys_name_file_key_value_and_allowed_values() {
    let base =
        "[[strategy]]\nkind = \"bearer\"\n[[leak]]\nname = \"rt\"\ncompromises = [\"core-disk\"]\n";
    for (body, key, expected) in [
        (
            "[attacker]\npolicies = [\"maximal\", \"sneaky\"]\n",
            "attacker.policies",
            "\"sneaky\" is not allowed (allowed: maximal, at-expiry, greedy, stealthy)",
        ),
        (
            "[attacker]\npolicies = [\"greedy\", \"greedy\"]\n",
            "attacker.policies",
            "names a policy twice",
        ),
        (
            "[vendor]\nmass_revoke = { delay = \"1h\", rate_per_s = -5 }\n",
            "vendor.mass_revoke.rate_per_s",
            "-5: out of range",
        ),
        (
            "[detection]\nvolume_alert_per_call = -1\n",
            "detection.volume_alert_per_call",
            "out of range (allowed: 0 to 1)",
        ),
        (
            "[detection]\nreuse_alert = { probability = 1.5 }\n",
            "detection.reuse_alert.probability",
            "1.5: out of range",
        ),
        (
            "[provider]\nrevoke_all_delay = \"soon\"\n",
            "provider.revoke_all_delay",
            "expected a duration",
        ),
        (
            "[dpop]\nnonce_lifetime = -3\n",
            "dpop.nonce_lifetime",
            "expected a duration",
        ),
    ] {
        let text =
            format!("[scenario]\nname = \"t\"\nreplications = 2\ncustomers = 10\n{body}{base}");
        let err = Scenario::from_toml("broken.toml", &text)
            .err()
            .unwrap_or_else(|| panic!("accepted: {body}"))
            .to_string();
        assert!(
            err.contains("broken.toml") && err.contains(key) && err.contains(expected),
            "{body}: {err}"
        );
    }
}

/// The engine's two shortcuts — runs of uneventful refreshes counted in one step, and API calls
/// counted as a Poisson number per interval — against the event-by-event path (every refresh
/// and every call its own event), on every strategy × leak × attacker policy of the default
/// scenario: identical outcomes, and call counts equal in distribution.
#[test]
fn shortcuts_agree_with_the_event_by_event_path() {
    use leaklab_sim::customer::Customer;
    use leaklab_sim::engine::EventQueue;
    use leaklab_sim::model::{simulate, Run};
    use leaklab_sim::strategy::{self, Context};
    use leaklab_sim::world::Timeline;

    let mut s = Scenario::from_toml("ietf124.toml", include_str!("../scenarios/ietf124.toml"))
        .unwrap_or_else(|e| panic!("{e}"));
    s.customers = 150;
    s.replications = 2;
    s.horizon = 3.0 * 24.0 * HOUR;
    s.attacker.calls_per_hour = 3.0;
    s.attacker.greedy_calls_per_hour = 6.0;
    let mut queue = EventQueue::new();
    let (mut calls_fast, mut calls_slow, mut runs) = (0u64, 0u64, 0u64);
    for rep in 0..u64::from(s.replications) {
        for (l, leak) in s.leaks.iter().enumerate() {
            let timeline = Timeline::draw(&s, rep, l as u64);
            let world = timeline.world(timeline.exogenous_detection);
            for id in 0..s.customers {
                let customer = Customer::draw(&s, &timeline.undetected(), id);
                if !customer.affected {
                    continue;
                }
                for config in &s.strategies {
                    for &policy in &s.attacker.policies {
                        let ctx = Context {
                            world: &world,
                            customer: &customer,
                            compromise: leak.compromise,
                            storage: s.core_key_storage,
                            policy,
                            presign_horizon: s.dpop.presign_horizon(),
                        };
                        let mut run = Run {
                            scenario: &s,
                            strategy: config,
                            bindings: strategy::build(config).bindings(&ctx),
                            compromise: leak.compromise,
                            world: &world,
                            customer: &customer,
                            policy,
                            alerts_only_until: None,
                            event_by_event: false,
                        };
                        let fast = simulate(&mut queue, &run);
                        run.event_by_event = true;
                        let slow = simulate(&mut queue, &run);
                        let what = format!(
                            "{}/{}/{} customer {id}",
                            config.name,
                            leak.name,
                            policy.name()
                        );
                        let close =
                            |a: f64, b: f64| a == b || (a - b).abs() <= 1e-6 * a.abs().max(1.0);
                        assert!(
                            close(fast.ttd, slow.ttd),
                            "{what}: TTD {} vs {}",
                            fast.ttd,
                            slow.ttd
                        );
                        assert!(
                            close(fast.counters.usable_seconds, slow.counters.usable_seconds),
                            "{what}: usable"
                        );
                        assert_eq!(
                            fast.counters.refresh_ok, slow.counters.refresh_ok,
                            "{what}: refreshes"
                        );
                        assert_eq!(
                            fast.counters.refresh_failed, slow.counters.refresh_failed,
                            "{what}"
                        );
                        assert!(close(fast.lockout_seconds, slow.lockout_seconds), "{what}");
                        assert_eq!(fast.first_alert, slow.first_alert, "{what}");
                        calls_fast += fast.counters.calls_ok;
                        calls_slow += slow.counters.calls_ok;
                        runs += 1;
                    }
                }
            }
        }
    }
    assert!(
        runs > 10_000 && calls_fast > 10_000,
        "{runs} runs, {calls_fast} calls"
    );
    // Two independent Poisson totals with the same mean: the difference has variance 2·mean.
    let diff = (calls_fast as f64 - calls_slow as f64).abs();
    assert!(
        diff < 4.0 * (2.0 * calls_fast as f64).sqrt(),
        "calls: closed form {calls_fast}, event by event {calls_slow}"
    );
}

/// Edge churn ends an edge foothold: with edges recycled every 2 h (the held one a uniform age
/// into its life) and eviction only after a day, the attacker leaves the edge within 2 h with
/// the freshest token there, so TTD ≤ 2 h + the 1 h AT lifetime; without churn it stays a day.
#[test]
fn edge_churn_ends_an_edge_foothold_before_eviction() {
    let ttd_max = |churn: &str| {
        let s = scenario(
            1000,
            3,
            &format!(
                "{NEVER_RESPOND}[grant]\nat_lifetime = \"1h\"\n{churn}\n[detection]\ndelay = \"1d\"\neviction_delay = \"1h\"\n\
                 [[strategy]]\nkind = \"bearer\"\n[[leak]]\nname = \"edge\"\ncompromises = [\"edge-host\"]\n"
            ),
        );
        let r = run(&s, false, &Silent);
        metric(&r, "bearer", "edge", "maximal", "ttd_max_s")
    };
    for max in ttd_max("edge_lifetime = \"2h\"") {
        assert!(max <= 3.0 * HOUR && max > HOUR, "{max}");
    }
    for max in ttd_max("") {
        assert!(max > 25.0 * HOUR && max <= 26.0 * HOUR, "{max}");
    }
}
