//! `index.html` of a run directory: the scenario, the headline table per leak, containment
//! curves and TTD CDFs with strategy and attacker toggles, the claims (when the scenario has
//! what they need), signing load against device capacity, and the manifest. Built from the
//! same summary rows and containment curves as the tables.

use std::collections::BTreeMap;

use super::html::{esc, num, BarChart, LineChart, Page, Series};
use super::run_output::{duration_ci, hours_ci, number_ci, share_ci};
use leaklab_base::duration::format_duration;
use leaklab_capacity::builtin_profiles;
use leaklab_claims::{evaluate, Verdict};
use leaklab_sim::runner::RunResults;
use leaklab_sim::stats::Interval;
use leaklab_sim::summary::{find_for, SummaryRow};

/// Containment curves of one leak: (strategy, attacker, points (t seconds, share)).
pub type LeakCurves = Vec<(String, String, Vec<(f64, Interval)>)>;

fn dur(x: f64) -> String {
    if x.is_finite() {
        format_duration(x.max(0.0))
    } else {
        "never".into()
    }
}

/// Renders the page. `files` are the other outputs of the directory with their SHA-256.
pub fn render(
    results: &RunResults,
    rows: &[SummaryRow],
    curves: &[LeakCurves],
    files: &BTreeMap<String, String>,
) -> String {
    let sc = &results.scenario;
    let strategies: Vec<String> = sc.strategies.iter().map(|s| s.name.clone()).collect();
    let attackers: Vec<String> = sc
        .attacker
        .policies
        .iter()
        .map(|p| p.name().to_string())
        .collect();
    let headline = attackers.first().cloned().unwrap_or_default();
    let mut page = Page::new(&format!("leaklab results: {}", sc.name));
    page.toggles(&strategies, &attackers, std::slice::from_ref(&headline));

    page.section("scenario", "Scenario");
    if !sc.description.is_empty() {
        page.text(&sc.description);
    }
    let params: Vec<Vec<String>> = vec![
        vec!["customers".into(), sc.customers.to_string()],
        vec!["replications".into(), sc.replications.to_string()],
        vec!["seed".into(), sc.seed.to_string()],
        vec!["horizon".into(), dur(sc.horizon)],
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

    for (l, leak) in sc.leaks.iter().enumerate() {
        let id = format!("leak-{l}");
        page.section(&id, &format!("Leak: {}", leak.name));
        let mut table = Vec::new();
        for s in &strategies {
            for a in &attackers {
                let get = |m: &str| find_for(rows, s, &leak.name, a, m).map(|r| r.interval);
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
        let horizon_h = sc.horizon / 3600.0;
        let x0 = results.grid.get(1).copied().unwrap_or(60.0) / 3600.0;
        let table_at: Vec<(String, f64)> = [1.0, 4.0, 24.0, 168.0, 720.0]
            .into_iter()
            .filter(|h| *h < horizon_h)
            .map(|h| (dur(h * 3600.0), h))
            .chain(std::iter::once(("the horizon".to_string(), horizon_h)))
            .collect();
        for (kind, title, f) in [
            (
                "containment",
                "share of affected customers still exploitable",
                (|v: f64| v) as fn(f64) -> f64,
            ),
            (
                "ttd-cdf",
                "share of affected customers disabled (TTD CDF)",
                |v: f64| 1.0 - v,
            ),
        ] {
            let series: Vec<Series> = curves[l]
                .iter()
                .map(|(s, a, c)| Series {
                    strategy: s.clone(),
                    attacker: Some(a.clone()),
                    points: c
                        .iter()
                        .filter(|(t, _)| *t > 0.0)
                        .map(|(t, i)| (t / 3600.0, f(i.mean)))
                        .collect(),
                })
                .collect();
            page.line_chart(&LineChart {
                id: format!("{kind}-{l}"),
                title: format!("Leak \"{}\": {title}", leak.name),
                x_label: "time after the leak (log)".into(),
                y_label: "share".into(),
                log_x: true,
                x_range: (x0, horizon_h),
                y_range: (0.0, 1.0),
                series,
                table_at: table_at.clone(),
            });
        }
    }

    page.section("claims", "IETF 124 claims");
    match evaluate(results) {
        Ok(claims) => {
            page.text("Each claim judged from this run against the headline attacker; `leaklab reproduce ietf124` adds the findings beyond the slides, `--robust` the verdicts over the sourced parameter ranges.");
            let mut t = Vec::new();
            for c in &claims {
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
            for c in &claims {
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
        Err(e) => page.text(&format!("Not judged for this scenario: {e}.")),
    }

    page.section("signing", "Signing load");
    let first_leak = sc.leaks.first().map(|l| l.name.clone()).unwrap_or_default();
    let bars: Vec<(String, f64)> = strategies
        .iter()
        .map(|s| {
            let v = find_for(rows, s, &first_leak, &headline, "device_signs_per_s")
                .map_or(0.0, |r| r.interval.mean);
            (s.clone(), v)
        })
        .filter(|(_, v)| *v > 0.0)
        .collect();
    let lines: Vec<(String, f64)> = match builtin_profiles() {
        Ok(profiles) => sc
            .devices
            .iter()
            .filter_map(|d| {
                profiles
                    .get(&d.profile)
                    .ok()
                    .map(|p| (format!("{} capacity", d.profile), p.capacity_per_s()))
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    if bars.is_empty() {
        page.text("No strategy signs on an HSM/TPM in this scenario.");
    } else {
        page.bar_chart(&BarChart {
            id: "signing-load".into(),
            title: format!(
                "Legitimate HSM/TPM signatures per second for {} customers, against device capacity",
                sc.customers
            ),
            y_label: "signatures per second (log)".into(),
            log_y: true,
            bars,
            lines,
        });
    }

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
    page.finish()
}
