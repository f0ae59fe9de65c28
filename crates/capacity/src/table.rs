//! The deprecated `[capacity]` table of a scenario file. Only the flat `leaklab capacity --…`
//! form reads it (as flags it was not given); it goes with that form in the next release. Its
//! keys are not the simulator's (`edges_per_agent`, `calls_per_s`, `slo_p99_ms` against
//! `[grant]`'s `edges_per_customer`, `calls_per_s_per_edge` and `[[device]]`'s `slo_p99`), and
//! no shipped scenario uses it: `leaklab capacity plan` takes its workload as flags.
//!
//! Read with leaklab's strict TOML reader
//! ([`leaklab_base::toml_reader`]): keys are snake_case with units as `_per_s` / `_ms` (the
//! flags are the same names in kebab-case), and an unknown key is refused with the file, the key
//! and the allowed keys (a typo must not silently fall back to a default). Other tables of the
//! file belong to other commands and are left alone.

use leaklab_base::duration::{parse_duration, Policy};
use leaklab_base::toml_reader::{toml_error_line, ScenarioError, Table};

use super::{CapacityError, MAX_RATE_PER_S, MAX_SERVICE_TIME_S};

/// Keys accepted in `[capacity]`.
pub const CAPACITY_KEYS: [&str; 14] = [
    "agents",
    "edges_per_agent",
    "calls_per_s",
    "at_lifetime",
    "refresh_interval",
    "connection_lifetime",
    "strategy",
    "device",
    "devices",
    "slo_p99_ms",
    "headroom",
    "seed",
    "sim_arrivals",
    "max_devices",
];

/// Values given by a `[capacity]` table; `None` where the key is absent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CapacityScenario {
    pub agents: Option<u64>,
    pub edges_per_agent: Option<u64>,
    pub calls_per_s: Option<f64>,
    /// Seconds.
    pub at_lifetime_s: Option<f64>,
    /// Seconds.
    pub refresh_interval_s: Option<f64>,
    /// Seconds.
    pub connection_lifetime_s: Option<f64>,
    pub strategy: Option<String>,
    pub device: Option<String>,
    pub devices: Option<u64>,
    pub slo_p99_ms: Option<f64>,
    pub headroom: Option<f64>,
    pub seed: Option<u64>,
    pub sim_arrivals: Option<u64>,
    pub max_devices: Option<u64>,
}

const DURATION_HINT: &str = "expected a duration with a unit, e.g. \"15m\", \"1h\", \"900s\"";

/// Parses the `[capacity]` table of `text`; `file` names the file in errors.
pub fn parse_capacity_table(text: &str, file: &str) -> Result<CapacityScenario, CapacityError> {
    let doc: toml::Table = text.parse().map_err(|e| ScenarioError {
        file: file.to_string(),
        key: String::new(),
        value: None,
        message: toml_error_line(text, &e),
    })?;
    let root = Table::root(file, &doc);
    let raw = match doc.get("capacity") {
        Some(toml::Value::Table(t)) => t,
        Some(_) => return Err(root.error("capacity", "expected a table").into()),
        None => return Err(root.error("capacity", "no [capacity] table").into()),
    };
    let t = root
        .table("capacity")?
        .ok_or_else(|| root.error("capacity", "no [capacity] table"))?;
    // A kebab-case or `_per_sec` key is the old spelling (or a flag name): name the new one.
    if let Some((old, new)) = raw.keys().find_map(|k| {
        let snake = k.replace('-', "_").replace("_per_sec", "_per_s");
        (k != &snake && CAPACITY_KEYS.contains(&snake.as_str())).then(|| (k.clone(), snake))
    }) {
        return Err(ScenarioError {
            file: file.to_string(),
            key: format!("capacity.{old}"),
            value: None,
            message: format!(
                "unknown key; did you mean `{new}`? (allowed here: {})",
                CAPACITY_KEYS.join(", ")
            ),
        }
        .into());
    }
    let has = |k: &str| raw.contains_key(k);
    let count = |k: &'static str| -> Result<Option<u64>, ScenarioError> {
        let v = t.integer(k, 1, 1, i64::MAX as u64)?;
        Ok(has(k).then_some(v))
    };
    let number = |k: &'static str, max: f64| -> Result<Option<f64>, ScenarioError> {
        let v = t.number(k, max, 0.0, max)?;
        if has(k) && v <= 0.0 {
            return Err(t.error(k, "must be greater than zero"));
        }
        Ok(has(k).then_some(v))
    };
    let duration = |k: &'static str| -> Result<Option<f64>, ScenarioError> {
        let Some(s) = t.string(k).map_err(|_| t.error(k, DURATION_HINT))? else {
            return Ok(None);
        };
        parse_duration(&s, Policy::UnitRequiredPositive)
            .map(Some)
            .map_err(|e| t.error(k, format!("{e}; {DURATION_HINT}")))
    };
    let out = CapacityScenario {
        agents: count("agents")?,
        edges_per_agent: count("edges_per_agent")?,
        calls_per_s: number("calls_per_s", MAX_RATE_PER_S)?,
        at_lifetime_s: duration("at_lifetime")?,
        refresh_interval_s: duration("refresh_interval")?,
        connection_lifetime_s: duration("connection_lifetime")?,
        strategy: t.string("strategy")?,
        device: t.string("device")?,
        devices: count("devices")?,
        slo_p99_ms: number("slo_p99_ms", MAX_SERVICE_TIME_S * 1e3)?,
        headroom: number("headroom", 1.0)?,
        seed: {
            let v = t.integer("seed", 0, 0, i64::MAX as u64)?;
            has("seed").then_some(v)
        },
        sim_arrivals: count("sim_arrivals")?,
        max_devices: count("max_devices")?,
    };
    t.finish()?;
    Ok(out)
}

/// Reads a scenario file's `[capacity]` table.
pub fn read_capacity_table(path: &std::path::Path) -> Result<CapacityScenario, CapacityError> {
    parse_capacity_table(&super::command::read(path)?, &path.display().to_string())
}

impl CapacityScenario {
    /// The table's values as the `capacity plan` flags they stand for, each with its names (the
    /// flag and its aliases), so that a caller can leave out those already given (flags override
    /// the table). Numbers print as Rust's shortest round-trip form and durations as seconds:
    /// the flags read back exactly the table's values.
    pub fn plan_flags(&self) -> Vec<(&'static [&'static str], String)> {
        let num = |v: Option<u64>| v.map(|v| v.to_string());
        let real = |v: Option<f64>| v.map(|v| v.to_string());
        let seconds = |s: Option<f64>| s.map(|s| format!("{s}s"));
        let flags: [(&'static [&'static str], Option<String>); 14] = [
            (&["--agents"], num(self.agents)),
            (&["--edges-per-agent"], num(self.edges_per_agent)),
            (
                &["--calls-per-s", "--calls-per-sec"],
                real(self.calls_per_s),
            ),
            (&["--at-lifetime"], seconds(self.at_lifetime_s)),
            (&["--refresh-interval"], seconds(self.refresh_interval_s)),
            (
                &["--connection-lifetime"],
                seconds(self.connection_lifetime_s),
            ),
            (&["--strategy"], self.strategy.clone()),
            (&["--device"], self.device.clone()),
            (&["--devices"], num(self.devices)),
            (&["--slo-p99-ms"], real(self.slo_p99_ms)),
            (&["--headroom"], real(self.headroom)),
            (&["--seed"], num(self.seed)),
            (&["--sim-arrivals"], num(self.sim_arrivals)),
            (&["--max-devices"], num(self.max_devices)),
        ];
        flags
            .into_iter()
            .filter_map(|(names, value)| Some((names, value?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_all_keys() {
        let s = parse_capacity_table(
            r#"
[sim]
anything = 1
[capacity]
agents = 100000
edges_per_agent = 4
calls_per_s = 1
at_lifetime = "15m"
refresh_interval = "900s"
connection_lifetime = "1h"
strategy = "all"
device = "tpm-infineon-slb9670"
slo_p99_ms = 250.0
headroom = 0.5
seed = 0
"#,
            "s.toml",
        )
        .unwrap();
        assert_eq!(s.agents, Some(100_000));
        assert_eq!(s.calls_per_s, Some(1.0));
        assert_eq!(s.at_lifetime_s, Some(900.0));
        assert_eq!(s.refresh_interval_s, Some(900.0));
        assert_eq!(s.connection_lifetime_s, Some(3600.0));
        assert_eq!(s.headroom, Some(0.5));
        assert_eq!(s.seed, Some(0));
        assert_eq!(s.devices, None);
    }

    #[test]
    fn unknown_key_names_file_key_and_allowed() {
        let e = parse_capacity_table("[capacity]\nagentz = 5\n", "x.toml")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("x.toml") && e.contains("agentz") && e.contains("edges_per_agent"),
            "{e}"
        );
    }

    #[test]
    fn old_kebab_case_key_points_at_the_snake_case_one() {
        let e = parse_capacity_table("[capacity]\ncalls-per-sec = 1\n", "x.toml")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("x.toml") && e.contains("capacity.calls-per-sec") && e.contains("allowed"),
            "{e}"
        );
        let e = parse_capacity_table("[capacity]\nedges-per-agent = 1\n", "x.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("did you mean `edges_per_agent`"), "{e}");
        let e = parse_capacity_table("[capacity]\ncalls_per_sec = 1\n", "x.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("did you mean `calls_per_s`"), "{e}");
    }

    #[test]
    fn bad_values_are_refused() {
        for bad in [
            "[capacity]\nagents = 0",
            "[capacity]\nagents = \"many\"",
            "[capacity]\ncalls_per_s = -1",
            "[capacity]\ncalls_per_s = 0",
            "[capacity]\ncalls_per_s = 1e300",
            "[capacity]\nat_lifetime = 900",
            "[capacity]\nat_lifetime = \"900\"",
            "[capacity]\nrefresh_interval = \"15 parsecs\"",
            "[capacity]\nheadroom = 1.5",
            "[capacity]\nheadroom = 0",
            "capacity = 3",
            "[other]\nx = 1",
            "[capacity",
        ] {
            assert!(parse_capacity_table(bad, "x.toml").is_err(), "{bad}");
        }
    }

    #[test]
    fn values_become_the_flags_they_stand_for() {
        let t = CapacityScenario {
            agents: Some(1000),
            calls_per_s: Some(0.1),
            at_lifetime_s: Some(5400.0),
            strategy: Some("all".into()),
            ..CapacityScenario::default()
        };
        let flags: Vec<(&str, String)> = t
            .plan_flags()
            .into_iter()
            .map(|(names, v)| (names[0], v))
            .collect();
        assert_eq!(
            flags,
            [
                ("--agents", "1000".to_string()),
                ("--calls-per-s", "0.1".into()),
                ("--at-lifetime", "5400s".into()),
                ("--strategy", "all".into())
            ]
        );
        assert_eq!(t.plan_flags()[1].0, ["--calls-per-s", "--calls-per-sec"]);
    }
}
