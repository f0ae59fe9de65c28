//! `index.html` of a run directory: the scenario, the headline table per leak, containment
//! curves and TTD CDFs with strategy and attacker toggles, the claims (when the scenario has
//! what they need), signing load against device capacity, and the manifest. It formats a
//! [`RunReport`], the same summary rows and charts as the files; it computes nothing.

use std::collections::BTreeMap;

use leaklab_claims::{Claim, Verdict};
use leaklab_sim::summary::find_for;

use crate::format::{duration, duration_ci, hours_ci, number_ci, share_ci};
use crate::html::{esc, num, Page};
use crate::run_report::RunReport;

/// Renders the page. `files` are the other outputs of the directory with their SHA-256.
pub(crate) fn render(report: &RunReport<'_>, files: &BTreeMap<String, String>) -> String {
    let sc = &report.results.scenario;
    let strategies: Vec<String> = sc.strategies.iter().map(|s| s.name.clone()).collect();
    let attackers: Vec<String> = sc
        .attacker
        .policies
        .iter()
        .map(|p| p.name().to_string())
        .collect();
    let mut page = Page::new(&format!("leaklab results: {}", sc.name));
    page.toggles(&strategies, &attackers, &[report.headline().to_string()]);
    scenario_section(&mut page, report, &strategies, &attackers);
    for l in 0..sc.leaks.len() {
        leak_section(&mut page, report, l, &strategies, &attackers);
    }
    claims_section(&mut page, report);
    signing_section(&mut page, report);
    manifest_section(&mut page, report, files);
    page.finish()
}

fn scenario_section(
    page: &mut Page,
    report: &RunReport<'_>,
    strategies: &[String],
    attackers: &[String],
) {
    let sc = &report.results.scenario;
    page.section("scenario", "Scenario");
    if !sc.description.is_empty() {
        page.text(&sc.description);
    }
    let params: Vec<Vec<String>> = vec![
        vec!["customers".into(), sc.customers.to_string()],
        vec!["replications".into(), sc.replications.to_string()],
        vec!["seed".into(), sc.seed.to_string()],
        vec!["horizon".into(), duration(sc.horizon)],
        vec!["strategies".into(), strategies.join(", ")],
        vec![
            "leaks".into(),
            sc.leaks
                .iter()
                .map(|l| l.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        ],
        vec![
            "attacker policies (first = headline)".into(),
            attackers.join(", "),
        ],
        vec![
            "access-token lifetime".into(),
            sc.grant.at_lifetime.to_string(),
        ],
        vec![
            "calls per second per edge × edges".into(),
            format!(
                "{} × {}",
                num(sc.grant.calls_per_s_per_edge),
                sc.grant.edges
            ),
        ],
        vec!["detection delay".into(), sc.detection.delay.to_string()],
        vec![
            "detection from the attack".into(),
            if sc.detection.attack_driven() {
                "yes"
            } else {
                "no"
            }
            .into(),
        ],
        vec![
            "vendor mass revocation".into(),
            sc.vendor.mass_revoke.as_ref().map_or("none".into(), |m| {
                format!(
                    "{} grants/s, {} after detection",
                    num(m.rate_per_s),
                    m.delay
                )
            }),
        ],
    ];
    page.table(&["parameter", "value"], &params, None, None);
    page.raw("<p>The full input: <a href=\"scenario.toml\">scenario.toml</a>. Values are means over replications with 95% confidence intervals; TTD is measured from the leak, \"never\" means still exploitable at the horizon. The toggles at the top show and hide strategies and attacker policies in every chart and table.</p>");
}

/// One leak: the headline table, then the containment and TTD charts.
fn leak_section(
    page: &mut Page,
    report: &RunReport<'_>,
    l: usize,
    strategies: &[String],
    attackers: &[String],
) {
    let leak = &report.results.scenario.leaks[l];
    page.section(&format!("leak-{l}"), &format!("Leak: {}", leak.name));
    let mut table = Vec::new();
    for s in strategies {
        for a in attackers {
            let get = |m: &str| find_for(&report.rows, s, &leak.name, a, m).map(|r| r.interval);
            let (Some(mean), Some(p50), Some(never), Some(d1), Some(det), Some(lock)) = (
                get("ttd_mean_censored_s"),
                get("ttd_p50_s"),
                get("share_never"),
                get("share_disabled_within_1d"),
                get("detection_h"),
                get("lockout_h_per_customer"),
            ) else {
                continue;
            };
            // The same cell formats as summary.md.
            table.push(vec![
                s.clone(),
                a.clone(),
                duration_ci(&mean),
                duration_ci(&p50),
                share_ci(&never),
                share_ci(&d1),
                hours_ci(&det),
                number_ci(&lock),
            ]);
        }
    }
    page.table(
        &[
            "strategy",
            "attacker",
            "mean TTD (censored)",
            "median TTD",
            "never disabled",
            "disabled ≤ 1 d",
            "detection",
            "lockout h per customer",
        ],
        &table,
        Some(0),
        Some(1),
    );
    page.line_chart(&report.charts[l].containment);
    page.line_chart(&report.charts[l].ttd_cdf);
}

fn claims_section(page: &mut Page, report: &RunReport<'_>) {
    page.section("claims", "IETF 124 claims");
    match &report.claims {
        Ok(claims) => judged_claims(page, claims),
        Err(e) => page.text(&format!("Not judged for this scenario: {e}.")),
    }
}

fn judged_claims(page: &mut Page, claims: &[Claim]) {
    page.text("Each claim judged from this run against the headline attacker; `leaklab reproduce ietf124` adds the findings beyond the slides, `--robust` the verdicts over the sourced parameter ranges.");
    let mut t = Vec::new();
    for c in claims {
        t.push(vec![
            c.id.to_string(),
            match c.verdict {
                Verdict::Reproduced => "reproduced".into(),
                Verdict::NotReproduced => "NOT reproduced".into(),
            },
            c.claim.to_string(),
            c.threshold.clone(),
            c.simulated.clone(),
        ]);
    }
    page.table(
        &["claim", "verdict", "statement", "threshold", "simulated"],
        &t,
        None,
        None,
    );
    for c in claims {
        let m: Vec<Vec<String>> = c
            .measurements
            .iter()
            .map(|m| {
                vec![
                    m.name.clone(),
                    num(m.value),
                    num(m.ci_low),
                    num(m.ci_high),
                    m.unit.to_string(),
                ]
            })
            .collect();
        page.raw(&format!(
            "<details><summary>{}: measurements</summary>",
            esc(c.id)
        ));
        page.table(
            &["measured", "value", "95% CI low", "95% CI high", "unit"],
            &m,
            None,
            None,
        );
        page.raw("</details>");
    }
}

fn signing_section(page: &mut Page, report: &RunReport<'_>) {
    page.section("signing", "Signing load");
    if report.signing.bars.is_empty() {
        page.text("No strategy signs on an HSM/TPM in this scenario.");
    } else {
        page.bar_chart(&report.signing);
    }
}

fn manifest_section(page: &mut Page, report: &RunReport<'_>, files: &BTreeMap<String, String>) {
    let sc = &report.results.scenario;
    page.section("manifest", "Manifest");
    page.text(&format!(
        "leaklab {}, scenario \"{}\", seed {}. SHA-256 of every output (manifest.json has the same list, and this page's own hash):",
        env!("CARGO_PKG_VERSION"),
        sc.name,
        sc.seed
    ));
    let f: Vec<Vec<String>> = files
        .iter()
        .map(|(name, hash)| vec![name.clone(), hash.clone()])
        .collect();
    page.table(&["file", "SHA-256"], &f, None, None);
}
