//! Device profiles: how long one signature takes on a device and how many it can run at once.
//!
//! Two sources:
//! * **Published** figures (`scenarios/device-profiles.toml`), each with the URL it comes from.
//!   A figure given as a latency (TPMs: ms per ECDSA P-256 sign, one at a time) becomes
//!   `service_time_ms`; a figure given as a throughput or quota (cloud HSM/KMS: ops/s) becomes
//!   `ops_per_s`, and the model uses `servers` parallel servers each with mean service time
//!   `servers / ops_per_s`, so the device's capacity equals the published rate. Vendors do not
//!   publish per-operation latency or network round trips for cloud HSMs, so those profiles
//!   size *throughput*; their latency percentiles are queueing delay only.
//! * **Measured** rows of `results/signers.csv` (written by `leaklab bench signers`). Rows with
//!   `concurrency = 1` become profiles with an empirical service distribution through the
//!   measured p10/p50/p90/p99/p999 latencies and `servers = 1` (a TPM runs one command at a
//!   time: <https://github.com/tpm2-software/tpm2-openssl/issues/58>).
//!
//! Parsing takes text, not paths: the caller reads the files.

use std::collections::BTreeMap;

use leaklab_base::dist::Dist;
use leaklab_base::signers_csv::{self, SIGN_OPERATION};
use serde::{Deserialize, Serialize};

use super::queue::QueueConfig;
use super::{service, CapacityError};

/// A signing device as the queue sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceProfile {
    /// Name used on the command line (`tpm-infineon-slb9670`, `measured:tpm`, …).
    pub name: String,
    /// `tpm`, `hsm`, `kms`, `software` or `measured`.
    pub kind: String,
    pub description: String,
    /// Where the figure comes from (URL, or the CSV file and row for measured profiles).
    pub source: String,
    /// The published figure as stated by the source.
    pub figure: String,
    /// Internal parallelism (servers of the per-device queue).
    pub servers: u32,
    /// Service-time distribution of one operation on one server (seconds).
    pub service: Dist,
    /// The figure is a throughput or quota, not a latency (cloud HSM/KMS): the modelled
    /// latencies are queueing delay only, so the planner keeps utilisation headroom by default.
    pub throughput_only: bool,
    /// Caveats.
    pub notes: String,
}

impl DeviceProfile {
    /// Signatures per second one device sustains at 100% utilisation: servers / E\[S\].
    pub fn capacity_per_s(&self) -> f64 {
        f64::from(self.servers) / self.service.mean()
    }

    /// One device of this profile as a queue: Poisson arrivals at `arrival_rate`, the profile's
    /// servers and service time. Shared by the planner and the claims, so both size the same queue.
    pub fn queue(&self, arrival_rate: f64, arrivals: u64, warmup: u64, seed: u64) -> QueueConfig {
        QueueConfig {
            arrival_rate,
            servers: self.servers,
            service: self.service.clone(),
            arrivals,
            warmup,
            seed,
        }
    }

    /// The profile as reports show it.
    pub fn summary(&self) -> ProfileSummary {
        ProfileSummary {
            name: self.name.clone(),
            kind: self.kind.clone(),
            description: self.description.clone(),
            figure: self.figure.clone(),
            source: self.source.clone(),
            servers: self.servers,
            service: service::kind(&self.service),
            mean_service_ms: self.service.mean() * 1e3,
            p99_service_ms: service::quantile(&self.service, 0.99) * 1e3,
            capacity_per_s: self.capacity_per_s(),
            throughput_only: self.throughput_only,
            notes: self.notes.clone(),
        }
    }
}

/// A device profile in reports (times in ms).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProfileSummary {
    pub name: String,
    pub kind: String,
    pub description: String,
    pub figure: String,
    pub source: String,
    pub servers: u32,
    /// `deterministic`, `exponential` or `empirical`.
    pub service: &'static str,
    pub mean_service_ms: f64,
    pub p99_service_ms: f64,
    /// Signatures per second at 100% utilisation.
    pub capacity_per_s: f64,
    pub throughput_only: bool,
    pub notes: String,
}

/// An ordered set of profiles with lookup by name.
#[derive(Debug, Clone, Default)]
pub struct ProfileSet {
    profiles: Vec<DeviceProfile>,
    /// alias → index into `profiles`
    aliases: BTreeMap<String, usize>,
}

impl ProfileSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds profiles; a later profile with the same name replaces the earlier one.
    pub fn extend(&mut self, profiles: impl IntoIterator<Item = DeviceProfile>) {
        for p in profiles {
            if let Some(existing) = self.profiles.iter_mut().find(|e| e.name == p.name) {
                *existing = p;
            } else {
                self.profiles.push(p);
            }
        }
    }

    /// Adds an alternative name for the profile `target` (ignored if `target` is unknown).
    pub fn add_alias(&mut self, alias: &str, target: &str) {
        if let Some(i) = self.profiles.iter().position(|p| p.name == target) {
            self.aliases.insert(alias.to_string(), i);
        }
    }

    pub fn profiles(&self) -> &[DeviceProfile] {
        &self.profiles
    }

    /// Every name accepted by [`ProfileSet::get`]: profile names, then aliases.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.profiles.iter().map(|p| p.name.clone()).collect();
        names.extend(self.aliases.keys().cloned());
        names
    }

    /// Looks a profile up; an unknown name is an error listing the available names.
    pub fn get(&self, name: &str) -> Result<&DeviceProfile, CapacityError> {
        self.profiles
            .iter()
            .find(|p| p.name == name)
            .or_else(|| self.aliases.get(name).and_then(|&i| self.profiles.get(i)))
            .ok_or_else(|| CapacityError::UnknownProfile {
                name: name.to_string(),
                available: self.names(),
            })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfiles {
    profile: Vec<RawProfile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    name: String,
    kind: String,
    description: String,
    source: String,
    figure: String,
    /// `deterministic` or `exponential`.
    service: String,
    service_time_ms: Option<f64>,
    ops_per_s: Option<f64>,
    servers: Option<u32>,
    notes: Option<String>,
}

/// Parses the published-profile TOML (`[[profile]]` tables). `source_name` names the file in
/// errors.
pub fn parse_published(
    toml_text: &str,
    source_name: &str,
) -> Result<Vec<DeviceProfile>, CapacityError> {
    let err = |message: String| CapacityError::ProfileSource {
        source_name: source_name.to_string(),
        message,
    };
    let raw: RawProfiles = toml::from_str(toml_text)
        .map_err(|e| err(leaklab_base::toml_reader::toml_error_line(toml_text, &e)))?;
    let mut out: Vec<DeviceProfile> = Vec::with_capacity(raw.profile.len());
    for r in raw.profile {
        let ctx = |m: String| err(format!("profile `{}`: {m}", r.name));
        if r.name.is_empty() || r.name.starts_with("measured:") {
            return Err(ctx(
                "name must be non-empty and not start with `measured:`".into()
            ));
        }
        if out.iter().any(|p| p.name == r.name) {
            return Err(ctx("duplicate name".into()));
        }
        let servers = r.servers.unwrap_or(1);
        if servers == 0 {
            return Err(ctx("servers must be at least 1".into()));
        }
        let throughput_only = r.ops_per_s.is_some();
        let mean_s = match (r.service_time_ms, r.ops_per_s) {
            (Some(ms), None) if ms.is_finite() && ms > 0.0 => ms / 1e3,
            (None, Some(rate)) if rate.is_finite() && rate > 0.0 => f64::from(servers) / rate,
            (Some(_), Some(_)) => {
                return Err(ctx("give service_time_ms or ops_per_s, not both".into()))
            }
            (None, None) => return Err(ctx("needs service_time_ms or ops_per_s".into())),
            _ => {
                return Err(ctx(
                    "service_time_ms / ops_per_s must be a finite number > 0".into(),
                ))
            }
        };
        let service = match r.service.as_str() {
            "deterministic" => service::deterministic(mean_s),
            "exponential" => service::exponential(mean_s),
            other => {
                return Err(ctx(format!(
                    "service `{other}`; allowed: deterministic, exponential"
                )))
            }
        }
        .map_err(|e| ctx(e.to_string()))?;
        out.push(DeviceProfile {
            name: r.name,
            kind: r.kind,
            description: r.description,
            source: r.source,
            figure: r.figure,
            servers,
            service,
            throughput_only,
            notes: r.notes.unwrap_or_default(),
        });
    }
    Ok(out)
}

/// A name part usable on a command line: lower case, runs of other characters become `-`.
fn slug(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.trim().chars() {
        if c.is_ascii_alphanumeric() || c == '.' || c == '_' {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

/// Measured profiles from a `signers.csv`, with the names they answer to.
#[derive(Debug, Clone, PartialEq)]
pub struct MeasuredProfiles {
    /// One profile per `concurrency = 1` row with latency quantiles, named
    /// `measured:<device>/<backend>/<operation>` (each part slugged: `es256 sign` → `es256-sign`).
    pub profiles: Vec<DeviceProfile>,
    /// Unambiguous short names `measured:<device>` and `measured:<device>/<backend>`: the only
    /// row of that device (pair), or else its only `es256 sign` row. (alias, full name)
    pub aliases: Vec<(String, String)>,
}

impl MeasuredProfiles {
    /// Adds the profiles and aliases to `set`.
    pub fn add_to(self, set: &mut ProfileSet) {
        set.extend(self.profiles);
        for (alias, target) in &self.aliases {
            set.add_alias(alias, target);
        }
    }
}

/// One `signers.csv` row, as far as the planner reads it (extra columns are ignored).
#[derive(Deserialize)]
struct SignersRow {
    device: String,
    backend: String,
    operation: String,
    concurrency: u32,
    ops_per_s: f64,
    mean_us: Option<f64>,
    p10_us: Option<f64>,
    p50_us: Option<f64>,
    p90_us: Option<f64>,
    p99_us: Option<f64>,
    p999_us: Option<f64>,
    max_us: Option<f64>,
    samples: String,
    host: String,
    leaklab_version: String,
}

/// Parses `signers.csv` (RFC 4180, a header row) with the `csv` crate. Extra columns are
/// ignored; missing ones are an error naming them.
pub fn parse_measured_csv(
    csv_text: &str,
    source_name: &str,
) -> Result<MeasuredProfiles, CapacityError> {
    let err = |message: String| CapacityError::ProfileSource {
        source_name: source_name.to_string(),
        message,
    };
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(csv_text.as_bytes());
    let header = reader.headers().map_err(|e| err(e.to_string()))?.clone();
    if header.iter().all(str::is_empty) {
        return Err(err("empty file (expected a header row)".into()));
    }
    let missing: Vec<&str> = signers_csv::COLUMNS
        .iter()
        .copied()
        .filter(|c| !header.iter().any(|h| h == *c))
        .collect();
    if !missing.is_empty() {
        return Err(err(format!("missing column(s): {}", missing.join(", "))));
    }
    let mut profiles = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| err(e.to_string()))?;
        let line = record.position().map_or(0, |p| p.line());
        if record.iter().all(str::is_empty) {
            continue;
        }
        let row: SignersRow = record
            .deserialize(Some(&header))
            .map_err(|e| err(format!("line {line}: {e}")))?;
        // Rows without a latency distribution (e.g. an `openssl speed` reference row that only
        // has a rate) cannot drive the queue, nor can rows measured with concurrency > 1.
        let quantiles = [
            (0.10, row.p10_us),
            (0.50, row.p50_us),
            (0.90, row.p90_us),
            (0.99, row.p99_us),
            (0.999, row.p999_us),
        ];
        let Some(mean_us) = row.mean_us else { continue };
        if row.concurrency != 1 || quantiles.iter().any(|(_, q)| q.is_none()) {
            continue;
        }
        let points: Vec<(f64, f64)> = quantiles
            .iter()
            .map(|&(p, q)| (p, q.unwrap_or(0.0) * 1e-6))
            .collect();
        let service =
            service::from_quantiles(&points, Some(mean_us * 1e-6), row.max_us.map(|m| m * 1e-6))
                .map_err(|e| err(format!("line {line}: {e}")))?;
        let (device, backend, operation) = (&row.device, &row.backend, &row.operation);
        profiles.push(DeviceProfile {
            name: format!("measured:{}/{}/{}", slug(device), slug(backend), slug(operation)),
            kind: "measured".into(),
            description: format!(
                "{device} ({backend}) `{operation}` measured on {}, leaklab {}",
                row.host, row.leaklab_version
            ),
            source: format!("{source_name} line {line}"),
            figure: format!(
                "{:.1} ops/s, mean {:.1} µs, p50 {:.1} µs, p99 {:.1} µs ({} samples, concurrency 1)",
                row.ops_per_s,
                mean_us,
                row.p50_us.unwrap_or(0.0),
                row.p99_us.unwrap_or(0.0),
                row.samples
            ),
            servers: 1,
            service,
            throughput_only: false,
            notes: "empirical service time through measured p10..p999; flat below p10; above p999 a linear tail \
                    chosen so the mean equals the measured mean (capped at max_us)"
                .into(),
        });
    }
    let mut aliases = Vec::new();
    let mut by_device: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    let mut by_pair: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for p in &profiles {
        let rest = p.name.trim_start_matches("measured:");
        let mut parts = rest.splitn(3, '/');
        let (d, b) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        by_device
            .entry(format!("measured:{d}"))
            .or_default()
            .push(&p.name);
        by_pair
            .entry(format!("measured:{d}/{b}"))
            .or_default()
            .push(&p.name);
    }
    let sign_suffix = format!("/{}", slug(SIGN_OPERATION));
    for (alias, targets) in by_device.into_iter().chain(by_pair) {
        // The plain ES256 signature is what a DPoP key does; prefer it when a device has
        // several measured operations.
        let preferred: Vec<&str> = targets
            .iter()
            .copied()
            .filter(|t| t.ends_with(&sign_suffix))
            .collect();
        let pick = match (targets.as_slice(), preferred.as_slice()) {
            ([only], _) => Some(*only),
            (_, [only]) => Some(*only),
            _ => None,
        };
        if let Some(target) = pick {
            if alias != target {
                aliases.push((alias, target.to_string()));
            }
        }
    }
    Ok(MeasuredProfiles { profiles, aliases })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PUBLISHED: &str = r#"
[[profile]]
name = "tpm-a"
kind = "tpm"
description = "a TPM"
source = "https://example.org/a"
figure = "50 ms per op"
service = "deterministic"
service_time_ms = 50.0

[[profile]]
name = "hsm-b"
kind = "hsm"
description = "an HSM"
source = "https://example.org/b"
figure = "3000 ops/s"
service = "exponential"
ops_per_s = 3000.0
servers = 4
"#;

    #[test]
    fn published_profiles_parse() {
        let ps = parse_published(PUBLISHED, "p.toml").unwrap();
        assert_eq!(ps.len(), 2);
        assert_eq!(ps[0].service, Dist::Fixed(0.05));
        assert!(!ps[0].throughput_only && ps[1].throughput_only);
        assert!((ps[1].capacity_per_s() - 3000.0).abs() < 1e-9);
        assert_eq!(ps[1].servers, 4);
    }

    #[test]
    fn published_profiles_reject_bad_entries() {
        let unknown_key = PUBLISHED.replace("servers = 4", "servers = 4\ncolour = 1");
        assert!(parse_published(&unknown_key, "p.toml").is_err());
        let both = PUBLISHED.replace(
            "ops_per_s = 3000.0",
            "ops_per_s = 3000.0\nservice_time_ms = 1.0",
        );
        assert!(parse_published(&both, "p.toml")
            .unwrap_err()
            .to_string()
            .contains("not both"));
        let bad_model = PUBLISHED.replace("\"exponential\"", "\"gamma\"");
        assert!(parse_published(&bad_model, "p.toml")
            .unwrap_err()
            .to_string()
            .contains("gamma"));
        let zero = PUBLISHED.replace("50.0", "0.0");
        assert!(parse_published(&zero, "p.toml").is_err());
    }

    #[test]
    fn unknown_profile_lists_available() {
        let mut set = ProfileSet::new();
        set.extend(parse_published(PUBLISHED, "p.toml").unwrap());
        let e = set.get("nope").unwrap_err().to_string();
        assert!(
            e.contains("nope") && e.contains("tpm-a") && e.contains("hsm-b"),
            "{e}"
        );
    }

    #[test]
    fn measured_csv_from_fixture() {
        let text = include_str!("../tests/data/signers-fixture.csv");
        let m = parse_measured_csv(text, "fixture.csv").unwrap();
        let names: Vec<&str> = m.profiles.iter().map(|p| p.name.as_str()).collect();
        assert!(
            names.contains(&"measured:swtpm/tss-esapi/es256-sign"),
            "{names:?}"
        );
        assert!(
            names.contains(&"measured:swtpm/tpm2-tools/tpm2_sign-loop"),
            "{names:?}"
        );
        // concurrency-2 rows and rows without quantiles (openssl speed) are not profiles
        assert!(!names.iter().any(|n| n.contains("openssl")), "{names:?}");
        let mut set = ProfileSet::new();
        m.add_to(&mut set);
        // `measured:swtpm` prefers the es256 sign row; `measured:software` is ambiguous.
        assert_eq!(
            set.get("measured:swtpm").unwrap().name,
            "measured:swtpm/tss-esapi/es256-sign"
        );
        assert!(set.get("measured:software").is_err());
        let p256 = set.get("measured:software/p256").unwrap();
        // p50 of the fixture row is 200.063 µs
        assert!((p256.service.quantile(0.5) - 200.063e-6).abs() < 1e-12);
        assert_eq!(p256.servers, 1);
    }

    #[test]
    fn measured_csv_needs_columns() {
        let e = parse_measured_csv("device,backend\nx,y\n", "s.csv")
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing column") && e.contains("p99_us"), "{e}");
    }
}
