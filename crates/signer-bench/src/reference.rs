//! Reference rows measured in the same run (`tpm2_sign` loop, `openssl speed`) and the ratios of
//! the in-process rows to them.

use std::process::Command;
use std::time::Duration;

use crate::{BenchError, Budget, Progress, ProgressUnit, Row, OPERATION};

/// The `operation` of the row that times `tpm2_sign` started once per signature.
pub const TPM2_SIGN_LOOP: &str = "tpm2_sign loop";
/// The `operation` of the `openssl speed ecdsap256` row.
pub const OPENSSL_SPEED: &str = "openssl speed";

/// Times `tpm2_sign` started once per signature against the TPM at `tcti`, with a key created
/// once by tpm2_createprimary/tpm2_create/tpm2_load into a context file. Without a resource
/// manager each `tpm2_sign` leaves the key's transient copy loaded, so `tpm2_flushcontext -t`
/// runs after each signature, outside the timed region. `Ok(None)` when tpm2-tools is missing.
#[cfg(feature = "tpm")]
pub(crate) fn tpm2_sign_loop(
    tcti: &str,
    device: &str,
    budget: Budget,
    progress: &mut dyn Progress,
) -> Result<Option<Row>, BenchError> {
    use crate::Latency;

    let Some(tools) = tpm2_tools::Session::start(tcti)? else {
        return Ok(None);
    };
    tools.create_key()?;
    let label = format!("{device} {TPM2_SIGN_LOOP}");
    let (hist, timed) = tools.time_signatures(&label, budget, progress)?;
    let samples = hist.len();
    if samples == 0 || timed.is_zero() {
        return Err(BenchError::NoSamples { label });
    }
    tools.check_last_signature()?;
    Ok(Some(Row {
        device: device.into(),
        backend: "tpm2-tools".into(),
        operation: TPM2_SIGN_LOOP.into(),
        concurrency: 1,
        ops_per_s: samples as f64 / timed.as_secs_f64(),
        mean_us: Some(hist.mean() / 1000.0),
        latency_us: Some(Latency::from_nanos(&hist)),
        samples: Some(samples),
        reference: None,
        ratio_to_reference: None,
    }))
}

/// tpm2-tools run as separate processes against one TPM, with their files in a temporary
/// directory.
#[cfg(feature = "tpm")]
mod tpm2_tools {
    use std::process::Command;
    use std::time::{Duration, Instant};

    use hdrhistogram::Histogram;

    use crate::measure::{message, nanos, new_hist};
    use crate::{BenchError, Budget, Progress};

    const TOOLS: [&str; 5] = [
        "tpm2_createprimary",
        "tpm2_create",
        "tpm2_load",
        "tpm2_sign",
        "tpm2_flushcontext",
    ];
    /// Frees the transient objects a tool left loaded (there is no resource manager).
    const FLUSH: [&str; 2] = ["tpm2_flushcontext", "-t"];
    const SIGN: [&str; 13] = [
        "tpm2_sign",
        "-Q",
        "-c",
        "key.ctx",
        "-g",
        "sha256",
        "-s",
        "ecdsa",
        "-f",
        "plain",
        "-o",
        "sig.der",
        "msg",
    ];

    fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> BenchError {
        let what = what.into();
        move |source| BenchError::Io { what, source }
    }

    pub(super) struct Session {
        tcti: String,
        dir: tempfile::TempDir,
    }

    impl Session {
        /// `None` when a tool is not installed.
        pub(super) fn start(tcti: &str) -> Result<Option<Session>, BenchError> {
            if TOOLS.iter().any(|t| which::which(t).is_err()) {
                return Ok(None);
            }
            let dir =
                tempfile::tempdir().map_err(io("creating a directory for tpm2-tools files"))?;
            Ok(Some(Session {
                tcti: tcti.to_string(),
                dir,
            }))
        }

        fn run(&self, args: &[&str]) -> Result<(), BenchError> {
            let out = Command::new(args[0])
                .args(&args[1..])
                .current_dir(self.dir.path())
                .env("TPM2TOOLS_TCTI", &self.tcti)
                .output()
                .map_err(io(format!("running {}", args[0])))?;
            if !out.status.success() {
                return Err(BenchError::Tool {
                    command: args.join(" "),
                    message: format!(
                        "{}: {}",
                        out.status,
                        String::from_utf8_lossy(&out.stderr).trim()
                    ),
                });
            }
            Ok(())
        }

        /// A P-256 signing key loaded into `key.ctx`, and the message to sign in `msg`.
        pub(super) fn create_key(&self) -> Result<(), BenchError> {
            self.run(&[
                "tpm2_createprimary",
                "-Q",
                "-C",
                "o",
                "-g",
                "sha256",
                "-G",
                "ecc256",
                "-c",
                "primary.ctx",
            ])?;
            self.run(&FLUSH)?;
            self.run(&[
                "tpm2_create",
                "-Q",
                "-C",
                "primary.ctx",
                "-G",
                "ecc256:ecdsa-sha256",
                "-u",
                "key.pub",
                "-r",
                "key.priv",
            ])?;
            self.run(&FLUSH)?;
            self.run(&[
                "tpm2_load",
                "-Q",
                "-C",
                "primary.ctx",
                "-u",
                "key.pub",
                "-r",
                "key.priv",
                "-c",
                "key.ctx",
            ])?;
            self.run(&FLUSH)?;
            let msg_path = self.dir.path().join("msg");
            std::fs::write(&msg_path, message(0, 0))
                .map_err(io(format!("writing {}", msg_path.display())))
        }

        /// Signs until the budget is spent: each signature's latency, and their total time.
        pub(super) fn time_signatures(
            &self,
            label: &str,
            budget: Budget,
            progress: &mut dyn Progress,
        ) -> Result<(Histogram<u64>, Duration), BenchError> {
            let mut hist = new_hist(label)?;
            let (total, unit) = budget.progress_total();
            progress.start(label, total, unit);
            let mut timed = Duration::ZERO;
            let started = Instant::now();
            let looped = loop {
                match budget {
                    Budget::Time(limit) if started.elapsed() >= limit => break Ok(()),
                    Budget::Count(n) if hist.len() >= n => break Ok(()),
                    _ => {}
                }
                let t = Instant::now();
                if let Err(e) = self.run(&SIGN) {
                    break Err(e);
                }
                let took = t.elapsed();
                timed += took;
                hist.saturating_record(nanos(took));
                if let Err(e) = self.run(&FLUSH) {
                    break Err(e);
                }
                progress.update(match budget {
                    Budget::Time(limit) => crate::budget::millis(started.elapsed().min(limit)),
                    Budget::Count(_) => hist.len(),
                });
            };
            progress.finish();
            looped.map(|()| (hist, timed))
        }

        /// The last signature must be a well-formed ECDSA signature, or the loop timed failures.
        pub(super) fn check_last_signature(&self) -> Result<(), BenchError> {
            let der_path = self.dir.path().join("sig.der");
            let der =
                std::fs::read(&der_path).map_err(io(format!("reading {}", der_path.display())))?;
            leaklab_signers::jws_signature::from_der(&der).map_err(|e| BenchError::Tool {
                command: "tpm2_sign".into(),
                message: format!("unreadable output signature: {e}"),
            })?;
            Ok(())
        }
    }
}

/// `openssl speed -seconds S ecdsap256`, single thread; only the sign/s column is used. S is the
/// time budget in whole seconds (at least 1), or 1 for a count budget. `Ok(Err(reason))` when
/// openssl is missing or its output has no sign/s figure.
pub(crate) fn openssl_row(
    budget: Budget,
    progress: &mut dyn Progress,
) -> Result<Result<Row, String>, BenchError> {
    let Ok(openssl) = which::which("openssl") else {
        return Ok(Err("openssl not installed (apt package openssl)".into()));
    };
    let seconds = match budget {
        Budget::Time(d) => d.as_secs().max(1),
        Budget::Count(_) => 1,
    };
    let version = Command::new(&openssl)
        .arg("version")
        .output()
        .ok()
        .and_then(|o| openssl_backend(&String::from_utf8_lossy(&o.stdout)));
    let mut speed = Command::new(&openssl);
    speed.args(["speed", "-seconds", &seconds.to_string(), "ecdsap256"]);
    // It times signing, then verification, for S seconds each.
    let total = seconds.saturating_mul(2000);
    progress.start(
        &format!("software {OPENSSL_SPEED}"),
        total,
        ProgressUnit::Millis,
    );
    let started = std::time::Instant::now();
    let worker = std::thread::spawn(move || speed.output());
    while !worker.is_finished() {
        progress.update(crate::budget::millis(started.elapsed()).min(total));
        std::thread::sleep(Duration::from_millis(20));
    }
    progress.finish();
    let out = worker
        .join()
        .map_err(|_| BenchError::Tool {
            command: "openssl speed".into(),
            message: "the thread running it panicked".into(),
        })?
        .map_err(|source| BenchError::Io {
            what: format!("running {} speed", openssl.display()),
            source,
        })?;
    let Some(sign_per_s) = parse_openssl_speed(&String::from_utf8_lossy(&out.stdout)) else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Ok(Err(format!(
            "no sign/s column in the output of `openssl speed ecdsap256` ({}{}{})",
            out.status,
            if stderr.trim().is_empty() { "" } else { ": " },
            stderr.lines().next().unwrap_or("").trim()
        )));
    };
    Ok(Ok(Row {
        device: "software".into(),
        backend: version.unwrap_or_else(|| "openssl".into()),
        operation: OPENSSL_SPEED.into(),
        concurrency: 1,
        ops_per_s: sign_per_s,
        mean_us: Some(1e6 / sign_per_s),
        latency_us: None,
        samples: None,
        reference: None,
        ratio_to_reference: None,
    }))
}

/// ECDSA P-256 verifications per second of `openssl speed -seconds S ecdsap256` on one thread:
/// the reference the testbed's resource-server throughput is related to, measured in the same
/// run. `Err(reason)` when openssl is missing or prints no verify/s figure.
pub fn openssl_verify_per_s(seconds: u64) -> Result<f64, String> {
    let openssl = which::which("openssl")
        .map_err(|_| "openssl not installed (apt package openssl)".to_owned())?;
    let out = Command::new(openssl)
        .args([
            "speed",
            "-seconds",
            &seconds.max(1).to_string(),
            "ecdsap256",
        ])
        .output()
        .map_err(|e| format!("running openssl speed: {e}"))?;
    parse_openssl_speed_verify(&String::from_utf8_lossy(&out.stdout))
        .ok_or_else(|| "no verify/s column in the output of `openssl speed ecdsap256`".to_owned())
}

/// "OpenSSL 3.0.13" from `openssl version` output ("OpenSSL 3.0.13 30 Jan 2024 (Library: …)").
fn openssl_backend(version: &str) -> Option<String> {
    let words: Vec<&str> = version.split_whitespace().take(2).collect();
    (!words.is_empty()).then(|| words.join(" "))
}

/// The verify/s column of `openssl speed ecdsap256` output (the last field of the nistp256 row).
pub fn parse_openssl_speed_verify(text: &str) -> Option<f64> {
    let line = text.lines().find(|l| l.contains("ecdsa (nistp256)"))?;
    let v: f64 = line.split_whitespace().last()?.parse().ok()?;
    (v.is_finite() && v > 0.0).then_some(v)
}

/// The sign/s figure from `openssl speed ecdsap256` output (`256 bits ecdsa (nistp256) 0.0000s
/// 0.0001s 23353.0 7225.0`: the second-to-last column).
pub fn parse_openssl_speed(text: &str) -> Option<f64> {
    let line = text.lines().find(|l| l.contains("ecdsa (nistp256)"))?;
    let fields: Vec<&str> = line.split_whitespace().collect();
    let v: f64 = fields.get(fields.len().checked_sub(2)?)?.parse().ok()?;
    (v.is_finite() && v > 0.0).then_some(v)
}

/// Fills `reference` / `ratio_to_reference`: software rows at concurrency 1 against openssl
/// speed, in-process TPM rows at concurrency 1 against the tpm2_sign loop on the same device.
pub fn relate(rows: &mut [Row]) {
    let openssl = rows
        .iter()
        .find(|r| r.operation == OPENSSL_SPEED)
        .map(|r| r.ops_per_s);
    let loops: Vec<(String, f64)> = rows
        .iter()
        .filter(|r| r.operation == TPM2_SIGN_LOOP)
        .map(|r| (r.device.clone(), r.ops_per_s))
        .collect();
    for row in rows
        .iter_mut()
        .filter(|r| r.operation == OPERATION && r.concurrency == 1)
    {
        let reference = if row.device == "software" {
            openssl.map(|o| (OPENSSL_SPEED, o))
        } else if row.backend == "tss-esapi" {
            loops
                .iter()
                .find(|(d, _)| *d == row.device)
                .map(|(_, o)| (TPM2_SIGN_LOOP, *o))
        } else {
            None
        };
        if let Some((name, ops)) = reference {
            row.reference = Some(name.into());
            row.ratio_to_reference = Some(row.ops_per_s / ops);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_openssl_speed_output() {
        let text = "                              sign    verify    sign/s verify/s\n 256 bits ecdsa (nistp256)   0.0000s   0.0001s  23353.0   7225.0\n";
        assert_eq!(parse_openssl_speed(text), Some(23353.0));
        assert_eq!(parse_openssl_speed("nothing"), None);
        assert_eq!(parse_openssl_speed("ecdsa (nistp256)"), None);
        assert_eq!(
            parse_openssl_speed(" 256 bits ecdsa (nistp256) 0.0s 0.0s 0.0 1.0"),
            None
        );
        assert_eq!(
            parse_openssl_speed(" 256 bits ecdsa (nistp256) 0.0s 0.0s nan 1.0"),
            None
        );
    }

    #[test]
    fn names_the_openssl_version() {
        assert_eq!(
            openssl_backend("OpenSSL 3.0.13 30 Jan 2024 (Library: OpenSSL 3.0.13 30 Jan 2024)\n"),
            Some("OpenSSL 3.0.13".into())
        );
        assert_eq!(openssl_backend("  \n"), None);
    }

    fn row(device: &str, backend: &str, operation: &str, concurrency: u32, ops: f64) -> Row {
        Row {
            device: device.into(),
            backend: backend.into(),
            operation: operation.into(),
            concurrency,
            ops_per_s: ops,
            mean_us: None,
            latency_us: None,
            samples: None,
            reference: None,
            ratio_to_reference: None,
        }
    }

    #[test]
    fn relates_concurrency_one_rows_to_references_of_the_same_run() {
        let mut rows = vec![
            row("software", "p256", OPERATION, 1, 4_000.0),
            row("software", "p256", OPERATION, 8, 30_000.0),
            row("software", "aws-lc-rs", OPERATION, 1, 40_000.0),
            row("swtpm", "tss-esapi", OPERATION, 1, 1_500.0),
            row("tpm device:/dev/tpmrm0", "tss-esapi", OPERATION, 1, 50.0),
            row("softhsm2", "cryptoki", OPERATION, 1, 17_000.0),
            row("swtpm", "tpm2-tools", TPM2_SIGN_LOOP, 1, 75.0),
            row("software", "OpenSSL 3.0.13", OPENSSL_SPEED, 1, 20_000.0),
        ];
        relate(&mut rows);
        let related: Vec<(Option<&str>, Option<f64>)> = rows
            .iter()
            .map(|r| (r.reference.as_deref(), r.ratio_to_reference))
            .collect();
        assert_eq!(
            related,
            [
                (Some(OPENSSL_SPEED), Some(0.2)),
                (None, None),
                (Some(OPENSSL_SPEED), Some(2.0)),
                (Some(TPM2_SIGN_LOOP), Some(20.0)),
                // No tpm2_sign loop on that device in this run.
                (None, None),
                (None, None),
                (None, None),
                (None, None),
            ]
        );
    }

    #[test]
    fn relate_without_references_changes_nothing() {
        let mut rows = vec![row("software", "p256", OPERATION, 1, 4_000.0)];
        let before = rows.clone();
        relate(&mut rows);
        assert_eq!(rows, before);
    }
}
