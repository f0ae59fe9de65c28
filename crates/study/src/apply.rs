//! Writes a point's parameter values into a scenario table, by dotted key.

use super::design::Point;
use super::spec::Parameter;

/// Why a parameter could not be applied.
#[derive(Debug, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum ApplyError {
    #[error("sweep parameter `{key}`: the scenario has no `{missing}`")]
    Missing { key: String, missing: String },
    #[error(
        "sweep parameter `{key}`: balance key `{balance}` must hold a number (it holds {found})"
    )]
    Balance {
        key: String,
        balance: String,
        found: String,
    },
}

/// The scenario table with every parameter of `point` set.
pub fn apply(
    scenario: &toml::Table,
    parameters: &[Parameter],
    point: &Point,
) -> Result<toml::Table, ApplyError> {
    let mut out = scenario.clone();
    for (p, value) in parameters.iter().zip(&point.values) {
        if let Some(balance) = &p.balance {
            let old = lookup(&mut out, &p.key, false)?.clone();
            let delta = number(value).zip(number(&old)).map(|(n, o)| n - o);
            let slot = lookup(&mut out, balance, false)?;
            match (number(slot), delta) {
                (Some(b), Some(d)) => *slot = toml::Value::Float(b - d),
                _ => {
                    return Err(ApplyError::Balance {
                        key: p.key.clone(),
                        balance: balance.clone(),
                        found: slot.to_string(),
                    })
                }
            }
        }
        *lookup(&mut out, &p.key, true)? = value.clone();
    }
    Ok(out)
}

fn number(v: &toml::Value) -> Option<f64> {
    match v {
        toml::Value::Integer(i) => Some(*i as f64),
        toml::Value::Float(f) => Some(*f),
        _ => None,
    }
}

/// The slot at a dotted key; the last segment is created when `create` (the scenario may leave a
/// key at its default). `strategy.<name>` and `leak.<name>` select an entry of an array of
/// tables by its `name`, `device.<index>` by position.
fn lookup<'t>(
    table: &'t mut toml::Table,
    key: &str,
    create: bool,
) -> Result<&'t mut toml::Value, ApplyError> {
    let missing = |upto: &str| ApplyError::Missing {
        key: key.to_string(),
        missing: upto.to_string(),
    };
    let segments: Vec<&str> = key.split('.').collect();
    let (last, path) = segments.split_last().ok_or_else(|| missing(key))?;
    let mut current = table;
    let mut i = 0;
    while i < path.len() {
        let seg = path[i];
        let upto = segments[..=i].join(".");
        let entry = if create {
            current
                .entry(seg)
                .or_insert_with(|| toml::Value::Table(toml::Table::new()))
        } else {
            current.get_mut(seg).ok_or_else(|| missing(&upto))?
        };
        current = match entry {
            toml::Value::Table(t) => t,
            toml::Value::Array(items) => {
                let selector = *path.get(i + 1).ok_or_else(|| missing(&upto))?;
                i += 1;
                let upto = segments[..=i].join(".");
                let found = match selector.parse::<usize>() {
                    Ok(n) => items.get_mut(n),
                    Err(_) => items
                        .iter_mut()
                        .find(|t| t.get("name").and_then(toml::Value::as_str) == Some(selector)),
                };
                match found {
                    Some(toml::Value::Table(t)) => t,
                    _ => return Err(missing(&upto)),
                }
            }
            _ => return Err(missing(&upto)),
        };
        i += 1;
    }
    if create {
        Ok(current.entry(*last).or_insert(toml::Value::Boolean(false)))
    } else {
        current.get_mut(*last).ok_or_else(|| missing(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Domain;

    fn param(key: &str, balance: Option<&str>) -> Parameter {
        Parameter {
            key: key.into(),
            domain: Domain::Values(vec![]),
            balance: balance.map(Into::into),
        }
    }

    fn point(values: Vec<toml::Value>) -> Point {
        Point {
            index: 0,
            seed: 0,
            numeric: vec![],
            values,
        }
    }

    #[test]
    fn sets_nested_keys_array_entries_by_name_and_balances() {
        let t: toml::Table = r#"
[grant]
at_lifetime = "1h"
[response]
immediate = { share = 0.2 }
eventual = { share = 0.3 }
never = { share = 0.5 }
[[strategy]]
name = "jwks"
revocation_checking_share = 1.0
"#
        .parse()
        .expect("toml");
        let out = apply(
            &t,
            &[
                param("grant.at_lifetime", None),
                param("strategy.jwks.revocation_checking_share", None),
                param("response.never.share", Some("response.eventual.share")),
                param("detection.delay", None),
            ],
            &point(vec![
                toml::Value::Float(60.0),
                toml::Value::Float(0.3),
                toml::Value::Float(0.6),
                toml::Value::String("1d".into()),
            ]),
        )
        .expect("apply");
        assert_eq!(out["grant"]["at_lifetime"].as_float(), Some(60.0));
        assert_eq!(
            out["strategy"][0]["revocation_checking_share"].as_float(),
            Some(0.3)
        );
        let eventual = out["response"]["eventual"]["share"].as_float().expect("f");
        assert!((eventual - 0.2).abs() < 1e-12);
        assert_eq!(out["detection"]["delay"].as_str(), Some("1d"));
    }

    #[test]
    fn a_missing_entry_is_named() {
        let t: toml::Table = "[[strategy]]\nname = \"a\"\n".parse().expect("toml");
        let err = apply(
            &t,
            &[param("strategy.b.x", None)],
            &point(vec![toml::Value::Float(1.0)]),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "sweep parameter `strategy.b.x`: the scenario has no `strategy.b`"
        );
    }
}
