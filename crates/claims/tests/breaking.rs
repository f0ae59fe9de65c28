//! Every claim can fail: for each, a variant of the ietf124 scenario in which it must come out
//! not reproduced, and (where the default run does not already show it) one in which it holds.

use leaklab_claims::{evaluate, Claim, Verdict, IETF124_SCENARIO};
use leaklab_sim::runner::{run, Silent};
use leaklab_sim::scenario::{Overrides, Scenario};

/// The ietf124 scenario with each `(from, to)` text replacement applied (each must match), run
/// small, and judged.
fn judge(replacements: &[(&str, &str)]) -> Vec<Claim> {
    let mut text = IETF124_SCENARIO.to_string();
    for (from, to) in replacements {
        assert!(
            text.contains(from),
            "ietf124.toml no longer contains {from:?}"
        );
        text = text.replacen(from, to, 1);
    }
    let mut s =
        Scenario::from_toml("ietf124-variant.toml", &text).unwrap_or_else(|e| panic!("{e}"));
    s.apply(Overrides {
        seed: None,
        replications: Some(5),
        customers: Some(2000),
    });
    evaluate(&run(&s, false, &Silent)).unwrap_or_else(|e| panic!("{e}"))
}

fn verdicts(claims: &[Claim], id: &str) -> Vec<Verdict> {
    let v: Vec<Verdict> = claims
        .iter()
        .filter(|c| c.id == id)
        .map(|c| c.verdict)
        .collect();
    assert!(!v.is_empty(), "no claim {id}");
    v
}

#[test]
fn the_default_verdicts_carry_numbers_with_intervals() {
    let claims = judge(&[]);
    for c in &claims {
        assert!(!c.measurements.is_empty(), "{}: no measurements", c.id);
        for m in &c.measurements {
            assert!(
                m.ci_low <= m.value && m.value <= m.ci_high || !m.value.is_finite(),
                "{}: {m:?}",
                c.id
            );
        }
        assert!(!c.threshold.is_empty());
    }
}

#[test]
fn revocation_tail_fails_when_every_customer_acts_at_once() {
    let claims = judge(&[
        ("immediate = { share = 0.15", "immediate = { share = 1.0"),
        ("eventual = { share = 0.35", "eventual = { share = 0.0"),
        ("never = { share = 0.5 }", "never = { share = 0.0 }"),
    ]);
    assert_eq!(
        verdicts(&claims, "simple-revocation-tail"),
        [Verdict::NotReproduced]
    );
}

#[test]
fn revocation_tail_fails_when_the_binding_key_sits_on_the_leaked_disk() {
    // With the core's keys on disk, split DPoP's refresh token is as usable as a bearer one:
    // binding removes no tail.
    let claims = judge(&[("core_key_storage = \"hsm\"", "core_key_storage = \"disk\"")]);
    assert_eq!(
        verdicts(&claims, "simple-revocation-tail"),
        [Verdict::NotReproduced]
    );
}

#[test]
fn mtls_days_to_never_fails_with_a_vendor_ca_and_fast_crl_pickup() {
    let claims = judge(&[
        ("ca = \"customer\"", "ca = \"vendor\""),
        ("crl_reachable_share = 0.5", "crl_reachable_share = 1.0"),
        (
            "crl_pickup = { dist = \"uniform\", min = \"0s\", max = \"72h\" }",
            "crl_pickup = \"1h\"",
        ),
    ]);
    assert_eq!(
        verdicts(&claims, "mtls-days-to-never"),
        [Verdict::NotReproduced]
    );
}

#[test]
fn jwks_3_5_days_fails_when_most_providers_do_not_check_revocation() {
    let claims = judge(&[(
        "revocation_checking_share = 1.0",
        "revocation_checking_share = 0.3",
    )]);
    assert_eq!(verdicts(&claims, "jwks-3.5-days"), [Verdict::NotReproduced]);
}

#[test]
fn device_bottleneck_fails_when_edges_call_rarely() {
    // At one call per hour per edge, per-call signing no longer overloads the managed HSM.
    let claims = judge(&[(
        "calls_per_s_per_edge = 1.0",
        "calls_per_s_per_edge = 0.0003",
    )]);
    assert!(verdicts(&claims, "single-dpop-device-bottleneck")
        .iter()
        .all(|v| *v == Verdict::NotReproduced));
}

#[test]
fn split_containment_holds_against_a_one_time_thief_and_fails_with_keys_on_disk() {
    // The slides' attacker copies edge memory once: the edge compromise ends with the stolen
    // access tokens.
    let one_time = judge(&[(
        "policies = [\"maximal\", \"at-expiry\", \"greedy\", \"stealthy\"]",
        "policies = [\"at-expiry\"]",
    )]);
    assert_eq!(
        verdicts(&one_time, "split-dpop-containment"),
        [Verdict::Reproduced]
    );
    let disk = judge(&[
        (
            "policies = [\"maximal\", \"at-expiry\", \"greedy\", \"stealthy\"]",
            "policies = [\"at-expiry\"]",
        ),
        ("core_key_storage = \"hsm\"", "core_key_storage = \"disk\""),
    ]);
    assert_eq!(
        verdicts(&disk, "split-dpop-containment"),
        [Verdict::NotReproduced]
    );
}
