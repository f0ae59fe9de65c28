//! The flat form of `leaklab capacity` (`capacity --agents …`, `capacity --arrival-rate …`,
//! `capacity --list-profiles`), kept for one release as an alias of the subcommands. Like a cargo
//! alias, it rewrites the arguments and leaves the rest to the subcommand's parser: the mode is
//! the one the flat form inferred (`--list-profiles`: `profiles`; `--arrival-rate` or
//! `--service-time-ms`: `queue`; else `plan`), and a `--scenario` file's deprecated `[capacity]`
//! table supplies the `plan` flags that were not given. It prints one deprecation line on stderr;
//! what the subcommand prints is unchanged.

use std::ffi::OsString;
use std::path::Path;

use anyhow::Context as _;
use leaklab_capacity::table::{parse_capacity_table, CapacityScenario};

/// `args` (argv with the program name) with a flat `capacity` form rewritten to its
/// subcommand, after printing the deprecation line; any other command line unchanged.
pub fn expand(mut args: Vec<OsString>) -> anyhow::Result<Vec<OsString>> {
    let flat = args.get(1).is_some_and(|a| a == "capacity")
        && args.get(2).is_some_and(|a| {
            let a = a.to_string_lossy();
            a.starts_with('-') && a != "-h" && a != "--help"
        });
    if !flat {
        return Ok(args);
    }
    let mut rest = args.split_off(2);
    let subcommand = if take_flag(&mut rest, "--list-profiles") {
        "profiles"
    } else if given(&rest, &["--arrival-rate", "--service-time-ms"]) {
        "queue"
    } else {
        "plan"
    };
    eprintln!(
        "leaklab: warning: the flat `leaklab capacity --…` form is deprecated and goes in the \
         next release; use `leaklab capacity {subcommand} …`"
    );
    if subcommand == "plan" {
        if let Some(file) = take_value(&mut rest, "--scenario")? {
            let table = read_table(Path::new(&file))?;
            rest.extend(table_flags(&table, &rest));
        }
    }
    args.push(subcommand.into());
    args.extend(rest);
    Ok(args)
}

fn read_table(path: &Path) -> anyhow::Result<CapacityScenario> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(parse_capacity_table(&text, &path.display().to_string())?)
}

/// Whether `--name` or `--name=…` is among `args` for one of `names`.
fn given(args: &[OsString], names: &[&str]) -> bool {
    args.iter().any(|a| {
        let a = a.to_string_lossy();
        names
            .iter()
            .any(|n| a == *n || a.strip_prefix(n).is_some_and(|r| r.starts_with('=')))
    })
}

/// Removes a switch; whether it was there.
fn take_flag(args: &mut Vec<OsString>, name: &str) -> bool {
    let before = args.len();
    args.retain(|a| a != name);
    args.len() != before
}

/// Removes `--name VALUE` or `--name=VALUE`; the value, if given.
fn take_value(args: &mut Vec<OsString>, name: &str) -> anyhow::Result<Option<OsString>> {
    let prefix = format!("{name}=");
    let Some(i) = args
        .iter()
        .position(|a| a == name || a.to_string_lossy().starts_with(&prefix))
    else {
        return Ok(None);
    };
    let token = args.remove(i);
    if let Some(value) = token.to_string_lossy().strip_prefix(&prefix) {
        return Ok(Some(value.into()));
    }
    if i < args.len() {
        return Ok(Some(args.remove(i)));
    }
    anyhow::bail!("a value is required for '{name} <FILE>' but none was supplied")
}

/// The table's values as the `plan` flags they stand for, for each flag not already in `args`
/// (flags override the table). Numbers print as Rust's shortest round-trip form and durations
/// as seconds, so the subcommand reads back exactly the table's values.
fn table_flags(t: &CapacityScenario, args: &[OsString]) -> Vec<OsString> {
    let seconds = |s: Option<f64>| s.map(|s| format!("{s}s"));
    let pairs: [(&[&str], Option<String>); 14] = [
        (&["--agents"], t.agents.map(|v| v.to_string())),
        (
            &["--edges-per-agent"],
            t.edges_per_agent.map(|v| v.to_string()),
        ),
        (
            &["--calls-per-s", "--calls-per-sec"],
            t.calls_per_s.map(|v| v.to_string()),
        ),
        (&["--at-lifetime"], seconds(t.at_lifetime_s)),
        (&["--refresh-interval"], seconds(t.refresh_interval_s)),
        (&["--connection-lifetime"], seconds(t.connection_lifetime_s)),
        (&["--strategy"], t.strategy.clone()),
        (&["--device"], t.device.clone()),
        (&["--devices"], t.devices.map(|v| v.to_string())),
        (&["--slo-p99-ms"], t.slo_p99_ms.map(|v| v.to_string())),
        (&["--headroom"], t.headroom.map(|v| v.to_string())),
        (&["--seed"], t.seed.map(|v| v.to_string())),
        (&["--sim-arrivals"], t.sim_arrivals.map(|v| v.to_string())),
        (&["--max-devices"], t.max_devices.map(|v| v.to_string())),
    ];
    pairs
        .into_iter()
        .filter(|(names, _)| !given(args, names))
        .filter_map(|(names, value)| Some([OsString::from(names[0]), OsString::from(value?)]))
        .flatten()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand_str(args: &[&str]) -> Vec<String> {
        expand(args.iter().map(OsString::from).collect())
            .unwrap()
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn the_mode_becomes_a_subcommand() {
        assert_eq!(
            expand_str(&["leaklab", "capacity", "--list-profiles", "--json"]),
            ["leaklab", "capacity", "profiles", "--json"]
        );
        assert_eq!(
            expand_str(&["leaklab", "capacity", "--json", "--arrival-rate=5"]),
            ["leaklab", "capacity", "queue", "--json", "--arrival-rate=5"]
        );
        assert_eq!(
            expand_str(&["leaklab", "capacity", "--agents", "5"]),
            ["leaklab", "capacity", "plan", "--agents", "5"]
        );
        for unchanged in [
            &["leaklab", "capacity", "plan", "--agents", "5"][..],
            &["leaklab", "capacity", "--help"],
            &["leaklab", "capacity"],
            &["leaklab", "run", "--agents"],
        ] {
            assert_eq!(expand_str(unchanged), unchanged);
        }
    }

    #[test]
    fn table_values_fill_the_flags_not_given() {
        let t = CapacityScenario {
            agents: Some(1000),
            calls_per_s: Some(0.1),
            at_lifetime_s: Some(5400.0),
            strategy: Some("all".into()),
            ..CapacityScenario::default()
        };
        let args: Vec<OsString> = vec!["--calls-per-sec".into(), "2".into()];
        let flags: Vec<String> = table_flags(&t, &args)
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            flags,
            [
                "--agents",
                "1000",
                "--at-lifetime",
                "5400s",
                "--strategy",
                "all"
            ]
        );
    }
}
