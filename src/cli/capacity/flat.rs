//! The flat form of `leaklab capacity` (`capacity --agents …`, `capacity --arrival-rate …`,
//! `capacity --list-profiles`), kept for one release as an alias of the subcommands. Like a cargo
//! alias, it rewrites the arguments and leaves the rest to the subcommand's parser: the mode is
//! the one the flat form inferred ([`MODES`], else `plan`), and a `--scenario` file's deprecated
//! `[capacity]` table supplies the `plan` flags that were not given. It prints one deprecation
//! line on stderr; what the subcommand prints is unchanged.

use std::ffi::OsString;

use leaklab_capacity::table::read_capacity_table;

/// Flag → the subcommand it selects (the first listed that is given wins), and whether the flag
/// is dropped (a switch the subcommand does not have).
const MODES: [(&str, &str, bool); 3] = [
    ("--list-profiles", "profiles", true),
    ("--arrival-rate", "queue", false),
    ("--service-time-ms", "queue", false),
];

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
    let (flag, subcommand, drop) = MODES
        .into_iter()
        .find(|&(flag, _, drop)| match drop {
            true => rest.iter().any(|a| a == flag),
            false => position(&rest, flag).is_some(),
        })
        .unwrap_or(("", "plan", false));
    if drop {
        rest.retain(|a| a != flag);
    }
    eprintln!(
        "leaklab: warning: the flat `leaklab capacity --…` form is deprecated and goes in the \
         next release; use `leaklab capacity {subcommand} …`"
    );
    if let ("plan", Some(i)) = (subcommand, position(&rest, "--scenario")) {
        let token = rest.remove(i).to_string_lossy().into_owned();
        let file = match token.strip_prefix("--scenario=") {
            Some(value) => value.into(),
            None if i < rest.len() => rest.remove(i),
            None => {
                anyhow::bail!("a value is required for '--scenario <FILE>' but none was supplied")
            }
        };
        for (names, value) in read_capacity_table(file.as_ref())?.plan_flags() {
            if names.iter().all(|n| position(&rest, n).is_none()) {
                rest.extend([names[0].into(), value.into()]);
            }
        }
    }
    args.push(subcommand.into());
    args.extend(rest);
    Ok(args)
}

/// Where `--name` or `--name=…` is among `args`.
fn position(args: &[OsString], name: &str) -> Option<usize> {
    args.iter().position(|a| {
        let a = a.to_string_lossy();
        a == name || a.strip_prefix(name).is_some_and(|r| r.starts_with('='))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand_str(args: &[&str]) -> Vec<String> {
        let args = expand(args.iter().map(OsString::from).collect()).unwrap();
        args.iter().map(|a| a.to_string_lossy().into()).collect()
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
}
