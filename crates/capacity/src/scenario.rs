//! The `[capacity]` table of a scenario file. Keys are the long names of the
//! `leaklab capacity` flags; an unknown key is refused with the file, the key and the allowed
//! keys (a typo must not silently fall back to a default). Other tables of the file belong to
//! other commands and are left alone.

use super::{duration::parse_duration, CapacityError};

/// Keys accepted in `[capacity]`.
pub const CAPACITY_KEYS: [&str; 12] = [
    "agents",
    "edges-per-agent",
    "calls-per-sec",
    "at-lifetime",
    "refresh-interval",
    "strategy",
    "device",
    "devices",
    "slo-p99-ms",
    "seed",
    "sim-arrivals",
    "max-devices",
];

/// Values given by a `[capacity]` table; `None` where the key is absent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CapacityScenario {
    pub agents: Option<u64>,
    pub edges_per_agent: Option<u64>,
    pub calls_per_sec: Option<f64>,
    /// Seconds.
    pub at_lifetime_s: Option<f64>,
    /// Seconds.
    pub refresh_interval_s: Option<f64>,
    pub strategy: Option<String>,
    pub device: Option<String>,
    pub devices: Option<u64>,
    pub slo_p99_ms: Option<f64>,
    pub seed: Option<u64>,
    pub sim_arrivals: Option<u64>,
    pub max_devices: Option<u64>,
}

/// Parses the `[capacity]` table of `text`; `file` names the file in errors.
pub fn parse_capacity_table(text: &str, file: &str) -> Result<CapacityScenario, CapacityError> {
    let err = |key: &str, message: String| CapacityError::Scenario {
        file: file.to_string(),
        key: key.to_string(),
        message,
    };
    let doc: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| CapacityError::Syntax {
            file: file.to_string(),
            message: leaklab_base::toml_reader::toml_error_line(text, &e),
        })?;
    let Some(item) = doc.get("capacity") else {
        return Err(err("capacity", "no [capacity] table".into()));
    };
    let Some(table) = item.as_table() else {
        return Err(err("capacity", "must be a table".into()));
    };
    let mut out = CapacityScenario::default();
    for (key, value) in table {
        let key = key.as_str();
        let count = || -> Result<u64, CapacityError> {
            value
                .as_integer()
                .and_then(|i| u64::try_from(i).ok())
                .filter(|&i| i >= 1)
                .ok_or_else(|| err(key, format!("expected an integer >= 1, got {value}")))
        };
        let number = || -> Result<f64, CapacityError> {
            value
                .as_float()
                .or_else(|| value.as_integer().map(|i| i as f64))
                .filter(|x| x.is_finite() && *x > 0.0)
                .ok_or_else(|| err(key, format!("expected a number > 0, got {value}")))
        };
        let text = || -> Result<String, CapacityError> {
            value
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| err(key, format!("expected a string, got {value}")))
        };
        let duration = || -> Result<f64, CapacityError> {
            let s = value.as_str().ok_or_else(|| {
                err(
                    key,
                    format!("expected a duration string like \"15m\", got {value}"),
                )
            })?;
            parse_duration(s).map_err(|e| err(key, e.to_string()))
        };
        match key {
            "agents" => out.agents = Some(count()?),
            "edges-per-agent" => out.edges_per_agent = Some(count()?),
            "calls-per-sec" => out.calls_per_sec = Some(number()?),
            "at-lifetime" => out.at_lifetime_s = Some(duration()?),
            "refresh-interval" => out.refresh_interval_s = Some(duration()?),
            "strategy" => out.strategy = Some(text()?),
            "device" => out.device = Some(text()?),
            "devices" => out.devices = Some(count()?),
            "slo-p99-ms" => out.slo_p99_ms = Some(number()?),
            "seed" => {
                out.seed = Some(
                    value
                        .as_integer()
                        .and_then(|i| u64::try_from(i).ok())
                        .ok_or_else(|| {
                            err(key, format!("expected an integer >= 0, got {value}"))
                        })?,
                )
            }
            "sim-arrivals" => out.sim_arrivals = Some(count()?),
            "max-devices" => out.max_devices = Some(count()?),
            other => {
                return Err(err(
                    &format!("capacity.{other}"),
                    format!("unknown key; allowed: {}", CAPACITY_KEYS.join(", ")),
                ))
            }
        }
    }
    Ok(out)
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
edges-per-agent = 4
calls-per-sec = 1
at-lifetime = "15m"
refresh-interval = "900s"
strategy = "all"
device = "tpm-infineon-slb9670"
slo-p99-ms = 250.0
seed = 0
"#,
            "s.toml",
        )
        .unwrap();
        assert_eq!(s.agents, Some(100_000));
        assert_eq!(s.calls_per_sec, Some(1.0));
        assert_eq!(s.at_lifetime_s, Some(900.0));
        assert_eq!(s.refresh_interval_s, Some(900.0));
        assert_eq!(s.seed, Some(0));
        assert_eq!(s.devices, None);
    }

    #[test]
    fn unknown_key_names_file_key_and_allowed() {
        let e = parse_capacity_table("[capacity]\nagentz = 5\n", "x.toml")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("x.toml") && e.contains("agentz") && e.contains("edges-per-agent"),
            "{e}"
        );
    }

    #[test]
    fn bad_values_are_refused() {
        for bad in [
            "[capacity]\nagents = 0",
            "[capacity]\nagents = \"many\"",
            "[capacity]\ncalls-per-sec = -1",
            "[capacity]\nat-lifetime = 900",
            "[capacity]\nrefresh-interval = \"15 parsecs\"",
            "capacity = 3",
            "[other]\nx = 1",
            "[capacity",
        ] {
            assert!(parse_capacity_table(bad, "x.toml").is_err(), "{bad}");
        }
    }
}
