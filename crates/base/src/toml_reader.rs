//! A strict TOML table reader that knows where it is.
//!
//! Scenario files are parsed in two steps (as ripgrep handles its arguments): TOML into a raw
//! `toml::Table`, then into typed configuration through this reader, which records every key it
//! is asked for. Errors name the file, the dotted key, the offending value and what is allowed;
//! keys nobody asked for are refused, so a typo is never silently ignored.

use std::cell::RefCell;
use std::fmt;

use toml::Value;

use crate::dist::Dist;
use crate::duration::{parse_duration, Policy};

/// A scenario file problem: file, key, value and what is allowed.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioError {
    pub file: String,
    pub key: String,
    pub value: Option<String>,
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.file)?;
        if !self.key.is_empty() {
            write!(f, "key `{}`: ", self.key)?;
        }
        if let Some(v) = &self.value {
            write!(f, "value {v}: ")?;
        }
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for ScenarioError {}

/// A TOML syntax or type error as one line: `not valid TOML at line L, column C: <message>`.
///
/// `toml`'s own `Display` draws a multi-line excerpt of the source; leaklab's errors are single
/// lines (the CLI prints exactly one `leaklab: error:` line), so the position is given as line and
/// column instead.
pub fn toml_error_line(text: &str, e: &toml::de::Error) -> String {
    let message = e
        .message()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    match e.span() {
        Some(span) => {
            // `get` keeps this total even for a span that is not on a char boundary.
            let before = text.get(..span.start.min(text.len())).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("not valid TOML at line {line}, column {column}: {message}")
        }
        None => format!("not valid TOML: {message}"),
    }
}

/// An enum a scenario names by string: every value with its name, in the order errors list them.
pub trait Choice: Copy + PartialEq + 'static {
    const CHOICES: &'static [(&'static str, Self)];

    /// The name this value is written as.
    fn name(self) -> &'static str {
        Self::CHOICES
            .iter()
            .find(|(_, v)| *v == self)
            .map_or("", |(n, _)| n)
    }

    /// The value written as `name`, if any.
    fn from_name(name: &str) -> Option<Self> {
        Self::CHOICES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
    }

    /// Every name, in order.
    fn names() -> Vec<&'static str> {
        Self::CHOICES.iter().map(|(n, _)| *n).collect()
    }
}

/// A view of one TOML table at a dotted path.
pub struct Table<'a> {
    file: &'a str,
    path: String,
    table: &'a toml::Table,
    asked: RefCell<Vec<&'static str>>,
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("\"{s}\""),
        Value::Table(_) => "(a table)".into(),
        Value::Array(_) => "(an array)".into(),
        other => other.to_string(),
    }
}

impl<'a> Table<'a> {
    pub fn root(file: &'a str, table: &'a toml::Table) -> Self {
        Self {
            file,
            path: String::new(),
            table,
            asked: RefCell::new(Vec::new()),
        }
    }

    fn key_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// An error about `key` (and its value when present).
    pub fn error(&self, key: &str, message: impl Into<String>) -> ScenarioError {
        ScenarioError {
            file: self.file.to_string(),
            key: self.key_path(key),
            value: self.table.get(key).map(show),
            message: message.into(),
        }
    }

    fn get(&self, key: &'static str) -> Option<&'a Value> {
        self.asked.borrow_mut().push(key);
        self.table.get(key)
    }

    /// The raw value of `key`, for values whose type the caller decides (marks it as known).
    pub fn raw(&self, key: &'static str) -> Option<&'a Value> {
        self.get(key)
    }

    /// Refuses keys nobody asked for. Call after reading every key.
    pub fn finish(self) -> Result<(), ScenarioError> {
        let asked = self.asked.borrow();
        if let Some(unknown) = self.table.keys().find(|k| !asked.contains(&k.as_str())) {
            let mut allowed: Vec<&str> = asked.clone();
            allowed.sort_unstable();
            allowed.dedup();
            return Err(ScenarioError {
                file: self.file.to_string(),
                key: self.key_path(unknown),
                value: None,
                message: format!("unknown key (allowed here: {})", allowed.join(", ")),
            });
        }
        Ok(())
    }

    pub fn table(&self, key: &'static str) -> Result<Option<Table<'a>>, ScenarioError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Table(t)) => Ok(Some(Table {
                file: self.file,
                path: self.key_path(key),
                table: t,
                asked: RefCell::new(Vec::new()),
            })),
            Some(_) => Err(self.error(key, "expected a table")),
        }
    }

    /// A sub-table, or an empty one when the file leaves it out, so that every default is
    /// written once: where the key is read.
    pub fn table_or_empty(&self, key: &'static str) -> Result<Table<'a>, ScenarioError> {
        static EMPTY: std::sync::OnceLock<toml::Table> = std::sync::OnceLock::new();
        Ok(self.table(key)?.unwrap_or_else(|| Table {
            file: self.file,
            path: self.key_path(key),
            table: EMPTY.get_or_init(toml::Table::new),
            asked: RefCell::new(Vec::new()),
        }))
    }

    /// An array of tables (`[[key]]`), each with its index in the path.
    pub fn tables(&self, key: &'static str) -> Result<Vec<Table<'a>>, ScenarioError> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Value::Table(t) => Ok(Table {
                        file: self.file,
                        path: format!("{}[{i}]", self.key_path(key)),
                        table: t,
                        asked: RefCell::new(Vec::new()),
                    }),
                    _ => Err(self.error(key, "expected an array of tables ([[...]])")),
                })
                .collect(),
            Some(_) => Err(self.error(key, "expected an array of tables ([[...]])")),
        }
    }

    pub fn string(&self, key: &'static str) -> Result<Option<String>, ScenarioError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(self.error(key, "expected a string")),
        }
    }

    /// A string that must be one of `allowed`.
    pub fn choice(
        &self,
        key: &'static str,
        allowed: &[&'static str],
        default: &'static str,
    ) -> Result<&'static str, ScenarioError> {
        match self.string(key)? {
            None => Ok(default),
            Some(s) => allowed.iter().find(|a| **a == s).copied().ok_or_else(|| {
                self.error(
                    key,
                    format!("not allowed (allowed: {})", allowed.join(", ")),
                )
            }),
        }
    }

    /// A string naming one value of `T`.
    pub fn choice_enum<T: Choice>(
        &self,
        key: &'static str,
        default: T,
    ) -> Result<T, ScenarioError> {
        match self.string(key)? {
            None => Ok(default),
            Some(s) => T::from_name(&s).ok_or_else(|| {
                self.error(
                    key,
                    format!("not allowed (allowed: {})", T::names().join(", ")),
                )
            }),
        }
    }

    /// A list of strings, each naming one value of `T`.
    pub fn choice_enums<T: Choice>(
        &self,
        key: &'static str,
    ) -> Result<Option<Vec<T>>, ScenarioError> {
        let names = T::names();
        Ok(self
            .choices(key, &names)?
            .map(|items| items.into_iter().filter_map(T::from_name).collect()))
    }

    pub fn boolean(&self, key: &'static str, default: bool) -> Result<bool, ScenarioError> {
        match self.get(key) {
            None => Ok(default),
            Some(Value::Boolean(b)) => Ok(*b),
            Some(_) => Err(self.error(key, "expected true or false")),
        }
    }

    /// A number in `[min, max]`.
    pub fn number(
        &self,
        key: &'static str,
        default: f64,
        min: f64,
        max: f64,
    ) -> Result<f64, ScenarioError> {
        let v = match self.get(key) {
            None => return Ok(default),
            Some(Value::Integer(i)) => *i as f64,
            Some(Value::Float(f)) => *f,
            Some(_) => return Err(self.error(key, format!("expected a number in [{min}, {max}]"))),
        };
        if !(v >= min && v <= max) {
            return Err(self.error(key, format!("out of range (allowed: {min} to {max})")));
        }
        Ok(v)
    }

    /// A whole number in `[min, max]`.
    pub fn integer(
        &self,
        key: &'static str,
        default: u64,
        min: u64,
        max: u64,
    ) -> Result<u64, ScenarioError> {
        match self.get(key) {
            None => Ok(default),
            Some(Value::Integer(i)) if *i >= min as i64 && (*i as u64) <= max => Ok(*i as u64),
            Some(_) => Err(self.error(key, format!("expected a whole number from {min} to {max}"))),
        }
    }

    /// A duration: `"15m"`, `"1h"`, `"7d"` or a number of seconds.
    pub fn duration(&self, key: &'static str, default: f64) -> Result<f64, ScenarioError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => self.duration_value(key, v),
        }
    }

    /// A duration or `"none"` (unbounded → `None`).
    pub fn duration_or_none(
        &self,
        key: &'static str,
        default: Option<f64>,
    ) -> Result<Option<f64>, ScenarioError> {
        match self.get(key) {
            None => Ok(default),
            Some(Value::String(s)) if s == "none" => Ok(None),
            Some(v) => self.duration_value(key, v).map(Some),
        }
    }

    fn duration_value(&self, key: &str, v: &Value) -> Result<f64, ScenarioError> {
        const HINT: &str =
            "expected a duration such as \"90s\", \"15m\", \"1h\", \"7d\", \"2w\" or seconds";
        match v {
            Value::Integer(i) if *i >= 0 => Ok(*i as f64),
            Value::Float(f) if *f >= 0.0 && f.is_finite() => Ok(*f),
            Value::String(s) => {
                parse_duration(s, Policy::BareSecondsAllowed).map_err(|_| self.error(key, HINT))
            }
            _ => Err(self.error(key, HINT)),
        }
    }

    /// A distribution, or the keyword `keyword` (e.g. `"none"`, `"at-expiry"`) meaning `None`.
    pub fn dist_or(
        &self,
        key: &'static str,
        keyword: &str,
        default: Option<Dist>,
    ) -> Result<Option<Dist>, ScenarioError> {
        match self.table.get(key) {
            Some(Value::String(s)) if s == keyword => {
                self.get(key);
                Ok(None)
            }
            None => {
                self.get(key);
                Ok(default)
            }
            Some(_) => self.dist(key, Dist::Fixed(0.0)).map(Some),
        }
    }

    /// A list of strings, each one of `allowed`.
    pub fn choices(
        &self,
        key: &'static str,
        allowed: &[&'static str],
    ) -> Result<Option<Vec<&'static str>>, ScenarioError> {
        let hint = || format!("expected a list of: {}", allowed.join(", "));
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| {
                    let s = item.as_str().ok_or_else(|| self.error(key, hint()))?;
                    allowed.iter().find(|a| **a == s).copied().ok_or_else(|| {
                        self.error(
                            key,
                            format!("\"{s}\" is not allowed (allowed: {})", allowed.join(", ")),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(self.error(key, hint())),
        }
    }

    /// A probability in [0, 1].
    pub fn share(&self, key: &'static str, default: f64) -> Result<f64, ScenarioError> {
        self.number(key, default, 0.0, 1.0)
    }

    /// A distribution: a duration (fixed) or an inline table with `dist` =
    /// fixed | uniform | exponential | lognormal | weibull | empirical.
    pub fn dist(&self, key: &'static str, default: Dist) -> Result<Dist, ScenarioError> {
        let Some(v) = self.get(key) else {
            return Ok(default);
        };
        if !matches!(v, Value::Table(_)) {
            return self.duration_value(key, v).map(Dist::Fixed);
        }
        let Some(t) = self.table(key)? else {
            return Ok(default);
        };
        let kind = t.choice(
            "dist",
            &[
                "fixed",
                "uniform",
                "exponential",
                "lognormal",
                "weibull",
                "empirical",
            ],
            "",
        )?;
        let positive = |t: &Table<'_>, k: &'static str| -> Result<f64, ScenarioError> {
            let x = t.duration(k, f64::NAN)?;
            if x.is_nan() {
                return Err(t.error(k, format!("required for dist = \"{kind}\"")));
            }
            Ok(x)
        };
        let dist = match kind {
            "" => return Err(t.error(
                "dist",
                "required (allowed: fixed, uniform, exponential, lognormal, weibull, empirical)",
            )),
            "fixed" => Dist::Fixed(positive(&t, "value")?),
            "uniform" => {
                let (min, max) = (t.duration("min", 0.0)?, positive(&t, "max")?);
                if max < min {
                    return Err(t.error("max", "must not be below `min`"));
                }
                Dist::Uniform { min, max }
            }
            "exponential" => Dist::Exponential {
                mean: positive(&t, "mean")?,
            },
            "lognormal" => Dist::LogNormal {
                median: positive(&t, "median")?,
                sigma: t.number("sigma", 1.0, 0.0, 10.0)?,
            },
            "weibull" => Dist::Weibull {
                shape: t.number("shape", 1.0, 0.01, 100.0)?,
                scale: positive(&t, "scale")?,
            },
            _ => Dist::Empirical {
                points: t.cdf_points("points")?,
            },
        };
        if let Dist::Exponential { mean: m }
        | Dist::LogNormal { median: m, .. }
        | Dist::Weibull { scale: m, .. } = dist
        {
            if m <= 0.0 {
                return Err(t.error(
                    match kind {
                        "exponential" => "mean",
                        "lognormal" => "median",
                        _ => "scale",
                    },
                    "must be greater than zero",
                ));
            }
        }
        t.finish()?;
        Ok(dist)
    }

    fn cdf_points(&self, key: &'static str) -> Result<Vec<(f64, f64)>, ScenarioError> {
        const HINT: &str = "expected [[duration, cdf], ...] with both non-decreasing and the last cdf = 1, e.g. [[\"5m\", 0.3], [\"1h\", 1.0]]";
        let Some(Value::Array(items)) = self.get(key) else {
            return Err(self.error(key, HINT));
        };
        let mut points = Vec::with_capacity(items.len());
        for item in items {
            let Value::Array(pair) = item else {
                return Err(self.error(key, HINT));
            };
            let [x, f] = pair.as_slice() else {
                return Err(self.error(key, HINT));
            };
            let x = self.duration_value(key, x)?;
            let f = match f {
                Value::Float(f) => *f,
                Value::Integer(i) => *i as f64,
                _ => return Err(self.error(key, HINT)),
            };
            points.push((x, f));
        }
        let ordered = points
            .windows(2)
            .all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1);
        let ends_at_one = points.last().is_some_and(|p| (p.1 - 1.0).abs() < 1e-9);
        if !ordered || !ends_at_one || points.iter().any(|p| !(0.0..=1.0).contains(&p.1)) {
            return Err(self.error(key, HINT));
        }
        Ok(points)
    }
}
