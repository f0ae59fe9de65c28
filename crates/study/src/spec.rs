//! The `[sweep]` table of a sweep file: which scenario keys vary, over what, and how the points
//! are laid out. A sweep file is a scenario plus this table; [`split`] separates the two.
//!
//! ```toml
//! [sweep]
//! design = "latin-hypercube"     # or "grid", "saltelli"
//! points = 64                    # latin-hypercube: points; saltelli: base samples N
//! levels = 3                     # grid: levels of each range
//! seed = 1
//! replications = 5               # per point (default: the scenario's)
//! customers = 2000               # per point (default: the scenario's)
//! scenario = "ietf124.toml"      # the scenario varied (default: this file's other tables)
//! claims = "ietf124"             # judge the IETF 124 claims at every point
//!
//! [[sweep.parameter]]
//! key = "strategy.jwks.revocation_checking_share"
//! min = 0.3
//! max = 1.0
//!
//! [[sweep.parameter]]
//! key = "detection.delay"
//! values = ["0s", "1d", "7d"]
//! ```

use leaklab_base::duration::{parse_duration, Policy};
use leaklab_base::toml_reader::{toml_error_line, ScenarioError, Table};

/// How a range is walked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    Linear,
    Log,
}

/// The values one parameter takes.
#[derive(Clone, Debug, PartialEq)]
pub enum Domain {
    /// A continuous range (seconds for durations).
    Range {
        min: f64,
        max: f64,
        scale: Scale,
        integer: bool,
    },
    /// A list of TOML values, used as given.
    Values(Vec<toml::Value>),
}

/// One swept scenario key.
#[derive(Clone, Debug, PartialEq)]
pub struct Parameter {
    /// Dotted scenario key; `strategy.<name>.…`, `leak.<name>.…` and `device.<index>.…` select
    /// an entry of an array of tables.
    pub key: String,
    pub domain: Domain,
    /// A key whose number absorbs this parameter's change, so that a sum stays constant
    /// (e.g. response shares that must add up to 1).
    pub balance: Option<String>,
}

/// How the points are laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Design {
    /// Every combination: each range at `levels` evenly spaced values, each list in full.
    Grid { levels: usize },
    /// `points` points, each range cut into `points` strata hit once (McKay et al. 1979).
    LatinHypercube { points: usize },
    /// Saltelli's scheme for Sobol indices: base matrices A and B of `base` rows and, per
    /// parameter, A with that column from B: base × (parameters + 2) points.
    Saltelli { base: usize },
}

impl Design {
    pub fn name(&self) -> &'static str {
        match self {
            Design::Grid { .. } => "grid",
            Design::LatinHypercube { .. } => "latin-hypercube",
            Design::Saltelli { .. } => "saltelli",
        }
    }
}

/// A parsed `[sweep]` table.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepSpec {
    pub design: Design,
    pub parameters: Vec<Parameter>,
    pub seed: u64,
    pub replications: Option<u32>,
    pub customers: Option<u64>,
    /// The metric sensitivity indices are computed for.
    pub metric: String,
    /// The scenario file the sweep varies, relative to the sweep file (`None`: the sweep file
    /// holds the scenario itself).
    pub scenario: Option<String>,
    /// Judge the IETF 124 claims at every point (robust verdicts).
    pub claims: bool,
}

/// Most points a sweep may have (each is a simulation run).
pub const MAX_POINTS: usize = 1_000_000;

/// Splits a sweep file into its `[sweep]` specification and the scenario table (everything
/// else). `file` names the source in errors.
pub fn split(file: &str, text: &str) -> Result<(SweepSpec, toml::Table), ScenarioError> {
    let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| ScenarioError {
        file: file.to_string(),
        key: String::new(),
        value: None,
        message: toml_error_line(text, &e),
    })?;
    let Some(sweep) = table.remove("sweep") else {
        return Err(ScenarioError {
            file: file.to_string(),
            key: "sweep".into(),
            value: None,
            message: "required table [sweep] is missing (a sweep file is a scenario plus [sweep])"
                .into(),
        });
    };
    let mut holder = toml::Table::new();
    holder.insert("sweep".into(), sweep);
    let root = Table::root(file, &holder);
    let t = root
        .table("sweep")?
        .ok_or_else(|| root.error("sweep", "expected a table"))?;
    let spec = read(&t)?;
    t.finish()?;
    Ok((spec, table))
}

fn read(t: &Table<'_>) -> Result<SweepSpec, ScenarioError> {
    let design = match t.choice("design", &["grid", "latin-hypercube", "saltelli"], "grid")? {
        "latin-hypercube" => Design::LatinHypercube {
            points: t.integer("points", 32, 2, MAX_POINTS as u64)? as usize,
        },
        "saltelli" => Design::Saltelli {
            base: t.integer("points", 64, 4, MAX_POINTS as u64)? as usize,
        },
        _ => Design::Grid {
            levels: t.integer("levels", 3, 2, 1_000)? as usize,
        },
    };
    let seed = t.integer("seed", 1, 0, i64::MAX as u64)?;
    // 0 (the default) means "the scenario's".
    let replications = Some(t.integer("replications", 0, 2, 10_000)? as u32).filter(|r| *r > 0);
    let customers = match t.integer("customers", 0, 1, 100_000_000)? {
        0 => None,
        n => Some(n),
    };
    let metric = t
        .string("metric")?
        .unwrap_or_else(|| "ttd_mean_censored_s".into());
    let scenario = t.string("scenario")?;
    let claims = t.choice("claims", &["none", "ietf124"], "none")? == "ietf124";
    let mut parameters = Vec::new();
    for p in t.tables("parameter")? {
        parameters.push(read_parameter(&p)?);
        p.finish()?;
    }
    if parameters.is_empty() {
        return Err(t.error(
            "parameter",
            "at least one [[sweep.parameter]] is required (key plus min/max or values)",
        ));
    }
    let mut keys: Vec<&str> = parameters.iter().map(|p| p.key.as_str()).collect();
    keys.sort_unstable();
    if let Some(w) = keys.windows(2).find(|w| w[0] == w[1]) {
        return Err(t.error("parameter", format!("key \"{}\" is swept twice", w[0])));
    }
    let spec = SweepSpec {
        design,
        parameters,
        seed,
        replications,
        customers,
        metric,
        scenario,
        claims,
    };
    let n = spec.point_count();
    if n > MAX_POINTS {
        return Err(t.error(
            "design",
            format!("{n} points is more than the {MAX_POINTS} a sweep may have"),
        ));
    }
    Ok(spec)
}

fn read_parameter(p: &Table<'_>) -> Result<Parameter, ScenarioError> {
    let key = p.string("key")?.ok_or_else(|| {
        p.error(
            "key",
            "required: a dotted scenario key such as \"detection.delay\"",
        )
    })?;
    if key.split('.').count() < 2 || key.split('.').any(str::is_empty) {
        return Err(p.error(
            "key",
            format!("\"{key}\" is not a dotted key such as \"grant.at_lifetime\""),
        ));
    }
    let balance = p.string("balance")?;
    let domain = if let Some(values) = p.raw("values") {
        if p.raw("min").is_some() || p.raw("max").is_some() {
            return Err(p.error("values", "give either values or min/max, not both"));
        }
        match values {
            toml::Value::Array(a) if !a.is_empty() => Domain::Values(a.clone()),
            _ => return Err(p.error("values", "expected a non-empty list")),
        }
    } else {
        let bound = |k: &'static str| -> Result<f64, ScenarioError> {
            match p.raw(k) {
                None => Err(p.error(k, "required (or give `values`)")),
                Some(toml::Value::Integer(i)) => Ok(*i as f64),
                Some(toml::Value::Float(f)) if f.is_finite() => Ok(*f),
                Some(toml::Value::String(s)) => parse_duration(s, Policy::BareSecondsAllowed)
                    .map_err(|_| p.error(k, "expected a number or a duration such as \"6h\"")),
                Some(_) => Err(p.error(k, "expected a number or a duration such as \"6h\"")),
            }
        };
        let (min, max) = (bound("min")?, bound("max")?);
        if min >= max {
            return Err(p.error("max", format!("must be greater than min ({min})")));
        }
        let scale = match p.choice("scale", &["linear", "log"], "linear")? {
            "log" => Scale::Log,
            _ => Scale::Linear,
        };
        if scale == Scale::Log && min <= 0.0 {
            return Err(p.error("min", "a log scale needs min > 0"));
        }
        Domain::Range {
            min,
            max,
            scale,
            integer: p.boolean("integer", false)?,
        }
    };
    Ok(Parameter {
        key,
        domain,
        balance,
    })
}

impl SweepSpec {
    /// How many points the design has.
    pub fn point_count(&self) -> usize {
        let k = self.parameters.len();
        match self.design {
            Design::Grid { levels } => self
                .parameters
                .iter()
                .map(|p| match &p.domain {
                    Domain::Range { .. } => levels,
                    Domain::Values(v) => v.len(),
                })
                .fold(1usize, |a, b| a.saturating_mul(b)),
            Design::LatinHypercube { points } => points,
            Design::Saltelli { base } => base.saturating_mul(k + 2),
        }
    }
}
