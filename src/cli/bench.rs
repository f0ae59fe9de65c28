//! `leaklab bench signers`: signing throughput and latency of every available ES256 signer, for
//! capacity planners who do not read criterion output.
//!
//! Each signer is measured at concurrency 1 and N for a fixed time or a fixed count. Latency is
//! the wall time of one `Signer::sign` call as the caller sees it (for a shared TPM this includes
//! waiting for the device), recorded in nanoseconds in an HDR histogram and reported in µs.
//! Throughput is completed signatures divided by the wall time of the whole run.
//!
//! Correctness: every 64th signature (and each worker's first) is kept and verified with the
//! signer's public JWK *after* the timed run, so verification cost does not distort the rates
//! while a signer that produced wrong signatures still fails the command.
//!
//! Comparison rows, when the tools are installed: `tpm2_sign` (tpm2-tools) started once per
//! signature against the same TPM, and `openssl speed -seconds S ecdsap256`. The table's
//! `reference` / `ratio_to_reference` columns relate the in-process rows at concurrency 1 to them.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};
use clap::{Args, Subcommand};
use hdrhistogram::Histogram;
use leaklab_signers::{Signer, SignerError};
use p256::ecdsa::signature::Verifier as _;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Measure ES256 signing on each available signer (software p256, aws-lc-rs, TPM, PKCS#11)
    /// and write <out>/signers.csv and <out>/signers.parquet.
    Signers(SignersArgs),
}

#[derive(Args)]
pub struct SignersArgs {
    /// Measure each signer and concurrency for this many seconds (default 3).
    #[arg(long, conflicts_with = "count")]
    seconds: Option<f64>,
    /// Measure each signer and concurrency for this many signatures instead.
    #[arg(long)]
    count: Option<u64>,
    /// The second concurrency level (threads, each with its own key/session/context; a TPM
    /// without a resource manager is shared and serialises them). Default: CPU count.
    #[arg(long)]
    concurrency: Option<usize>,
    /// Directory for signers.csv and signers.parquet (other files there are left alone).
    #[arg(long, default_value = "results")]
    out: PathBuf,
    /// Skip the tpm2_sign and openssl comparison rows.
    #[arg(long)]
    no_compare: bool,
}

pub fn run(cmd: BenchCommand) -> anyhow::Result<super::Outcome> {
    match cmd {
        BenchCommand::Signers(args) => signers(args),
    }
}

/// How long each measurement runs.
#[derive(Clone, Copy, Debug)]
enum Budget {
    Time(Duration),
    Count(u64),
}

/// One row of the result table.
#[derive(Clone, Debug)]
struct Row {
    device: String,
    backend: String,
    operation: String,
    concurrency: u32,
    ops_per_s: f64,
    mean_us: Option<f64>,
    quantiles_us: Option<[f64; 6]>,
    samples: Option<u64>,
    reference: Option<String>,
    ratio_to_reference: Option<f64>,
}

const QUANTILES: [f64; 6] = [0.10, 0.50, 0.90, 0.99, 0.999, 1.0];
const OPERATION: &str = "es256 sign";
const TPM2_SIGN_LOOP: &str = "tpm2_sign loop";
const OPENSSL_SPEED: &str = "openssl speed";

fn signers(args: SignersArgs) -> anyhow::Result<super::Outcome> {
    let budget = match (args.seconds, args.count) {
        (_, Some(0)) => bail!("--count must be at least 1"),
        (_, Some(n)) => Budget::Count(n),
        (Some(s), None) if !(s.is_finite() && s > 0.0 && s <= 3600.0) => {
            bail!("--seconds must be in (0, 3600], got {s}")
        }
        (Some(s), None) => Budget::Time(Duration::from_secs_f64(s)),
        (None, None) => Budget::Time(Duration::from_secs(3)),
    };
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let concurrency = args.concurrency.unwrap_or(cpus);
    if concurrency == 0 || concurrency > 1024 {
        bail!("--concurrency must be in 1..=1024, got {concurrency}");
    }
    let mut levels = vec![1usize];
    if concurrency > 1 {
        levels.push(concurrency);
    }
    let mut rows = Vec::new();

    // Software p256.
    for &c in &levels {
        let make = || {
            Ok(
                Box::new(leaklab_protocol::signer::SoftwareSigner::generate(
                    &mut rand::rngs::OsRng,
                )) as Box<dyn Signer>,
            )
        };
        rows.push(measure("software", "p256", Pool::own(c, make)?, budget)?);
    }
    // aws-lc-rs.
    #[cfg(feature = "aws-lc")]
    for &c in &levels {
        let make =
            || Ok(Box::new(leaklab_signers::aws_lc::AwsLcSigner::generate()?) as Box<dyn Signer>);
        rows.push(measure(
            "software",
            "aws-lc-rs",
            Pool::own(c, make)?,
            budget,
        )?);
    }
    // TPM: the one the environment names, else a swtpm started here.
    #[cfg(feature = "tpm")]
    tpm_rows(&levels, budget, !args.no_compare, &mut rows)?;
    // PKCS#11: the token the environment names, else a SoftHSM2 token initialised here.
    #[cfg(feature = "pkcs11")]
    pkcs11_rows(&levels, budget, &mut rows)?;
    // openssl speed.
    if !args.no_compare {
        openssl_row(budget, &mut rows)?;
    }
    relate(&mut rows);

    let written = write(&args.out, &rows)?;
    print_table(&rows);
    for path in written {
        println!("wrote {}", path.display());
    }
    Ok(super::Outcome::Success)
}

/// The signers a measurement drives: one per thread, or one shared by all threads.
enum Pool {
    Own(Vec<Box<dyn Signer>>),
    Shared(Arc<Mutex<Box<dyn Signer>>>, usize),
}

impl Pool {
    fn own(
        n: usize,
        make: impl Fn() -> Result<Box<dyn Signer>, SignerError>,
    ) -> anyhow::Result<Pool> {
        let signers = (0..n).map(|_| make()).collect::<Result<Vec<_>, _>>()?;
        Ok(Pool::Own(signers))
    }

    fn threads(&self) -> usize {
        match self {
            Pool::Own(v) => v.len(),
            Pool::Shared(_, n) => *n,
        }
    }
}

/// A signer a worker thread uses.
enum Handle<'a> {
    Own(&'a mut Box<dyn Signer>),
    Shared(Arc<Mutex<Box<dyn Signer>>>),
}

impl Handle<'_> {
    fn sign(&mut self, msg: &[u8]) -> Result<[u8; 64], SignerError> {
        match self {
            Handle::Own(s) => s.sign(msg),
            Handle::Shared(m) => {
                let mut guard = m
                    .lock()
                    .map_err(|_| SignerError::Device("shared signer lock poisoned".into()))?;
                guard.sign(msg)
            }
        }
    }

    fn verifying_key(&self) -> anyhow::Result<p256::ecdsa::VerifyingKey> {
        let jwk = match self {
            Handle::Own(s) => s.public_jwk().clone(),
            Handle::Shared(m) => m
                .lock()
                .map_err(|_| anyhow!("shared signer lock poisoned"))?
                .public_jwk()
                .clone(),
        };
        Ok(jwk.to_p256()?)
    }
}

/// The message of worker `w`, signature `i`: distinct per signature, fixed length.
fn message(w: usize, i: u64) -> [u8; 48] {
    let mut m = [0u8; 48];
    m[..32].copy_from_slice(b"leaklab: bench signers message #");
    m[32..40].copy_from_slice(&(w as u64).to_be_bytes());
    m[40..].copy_from_slice(&i.to_be_bytes());
    m
}

const VERIFY_EVERY: u64 = 64;

struct WorkerResult {
    hist: Histogram<u64>,
    /// When this worker completed its last signature.
    ended: Instant,
    kept: Vec<(u64, [u8; 64])>,
}

fn new_hist() -> anyhow::Result<Histogram<u64>> {
    // 1 ns .. 100 s, 3 significant digits.
    Ok(Histogram::new_with_bounds(1, 100_000_000_000, 3)?)
}

fn measure(device: &str, backend: &str, mut pool: Pool, budget: Budget) -> anyhow::Result<Row> {
    let threads = pool.threads();
    let label = format!("{device} {backend} c={threads}");
    let done = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let mut handles: Vec<Handle> = match &mut pool {
        Pool::Own(v) => v.iter_mut().map(Handle::Own).collect(),
        Pool::Shared(m, n) => (0..*n).map(|_| Handle::Shared(Arc::clone(m))).collect(),
    };
    // Warm up (connections, caches, lazy key loading): not recorded.
    for (w, h) in handles.iter_mut().enumerate() {
        for i in 0..3 {
            h.sign(&message(w, u64::MAX - i))
                .with_context(|| format!("{label}: warm-up signature"))?;
        }
    }
    let bar = progress_bar(budget, &label);
    let started = Instant::now();
    let results: Vec<anyhow::Result<WorkerResult>> = std::thread::scope(|scope| {
        let workers: Vec<_> = handles
            .iter_mut()
            .enumerate()
            .map(|(w, h)| {
                let (done, stop) = (&done, &stop);
                scope.spawn(move || -> anyhow::Result<WorkerResult> {
                    let mut hist = new_hist()?;
                    let mut kept = Vec::new();
                    let mut i = 0u64;
                    loop {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        if let Budget::Count(n) = budget {
                            if done.fetch_add(1, Ordering::Relaxed) >= n {
                                break;
                            }
                        }
                        let msg = message(w, i);
                        let t = Instant::now();
                        let sig = h.sign(&msg);
                        let ns = t.elapsed().as_nanos().clamp(1, u128::from(u64::MAX)) as u64;
                        let sig = match sig {
                            Ok(s) => s,
                            Err(e) => {
                                stop.store(true, Ordering::Relaxed);
                                return Err(anyhow!("{e}"));
                            }
                        };
                        hist.saturating_record(ns);
                        if matches!(budget, Budget::Time(_)) {
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                        if i % VERIFY_EVERY == 0 {
                            kept.push((i, sig));
                        }
                        i += 1;
                    }
                    Ok(WorkerResult {
                        hist,
                        ended: Instant::now(),
                        kept,
                    })
                })
            })
            .collect();
        // Progress and the time budget are driven from here.
        loop {
            let finished = workers.iter().all(|w| w.is_finished());
            match budget {
                Budget::Time(limit) => {
                    let elapsed = started.elapsed();
                    bar.set_position(elapsed.min(limit).as_millis() as u64);
                    if elapsed >= limit {
                        stop.store(true, Ordering::Relaxed);
                    }
                }
                Budget::Count(n) => bar.set_position(done.load(Ordering::Relaxed).min(n)),
            }
            if finished {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| Err(anyhow!("worker thread panicked")))
            })
            .collect()
    });
    bar.finish_and_clear();
    let mut hist = new_hist()?;
    // Wall time from the common start to the last worker's last signature (not to when the
    // progress loop noticed).
    let mut ended = started;
    for (w, result) in results.into_iter().enumerate() {
        let result = result.with_context(|| format!("{label}: signing failed"))?;
        hist.add(&result.hist)?;
        ended = ended.max(result.ended);
        let key = handles[w].verifying_key()?;
        for (i, sig) in &result.kept {
            let parsed = p256::ecdsa::Signature::from_slice(sig)?;
            key.verify(&message(w, *i), &parsed).map_err(|e| {
                anyhow!("{label}: signature {i} of worker {w} does not verify: {e}")
            })?;
        }
    }
    let samples = hist.len();
    if samples == 0 {
        bail!("{label}: no signature completed");
    }
    let us = |ns: u64| ns as f64 / 1000.0;
    let quantiles = QUANTILES.map(|q| us(hist.value_at_quantile(q)));
    Ok(Row {
        device: device.into(),
        backend: backend.into(),
        operation: OPERATION.into(),
        concurrency: threads as u32,
        ops_per_s: samples as f64 / (ended - started).as_secs_f64(),
        mean_us: Some(hist.mean() / 1000.0),
        quantiles_us: Some(quantiles),
        samples: Some(samples),
        reference: None,
        ratio_to_reference: None,
    })
}

fn progress_bar(budget: Budget, label: &str) -> indicatif::ProgressBar {
    let (len, unit) = match budget {
        Budget::Time(d) => (d.as_millis() as u64, "ms"),
        Budget::Count(n) => (n, "sigs"),
    };
    let bar = indicatif::ProgressBar::new(len);
    let style = indicatif::ProgressStyle::with_template(&format!(
        "{{msg:32}} [{{bar:30}}] {{pos}}/{{len}} {unit}"
    ))
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_message(label.to_string());
    bar
}

#[cfg(feature = "tpm")]
fn tpm_rows(
    levels: &[usize],
    budget: Budget,
    compare: bool,
    rows: &mut Vec<Row>,
) -> anyhow::Result<()> {
    use leaklab_signers::{lab::Swtpm, tpm::TpmSigner};
    let (tcti, device, _swtpm) = match leaklab_signers::tpm::tcti_from_env() {
        Some((_, tcti)) => (tcti.clone(), format!("tpm {tcti}"), None),
        None => match Swtpm::start() {
            Ok(s) => (s.tcti(), "swtpm".to_string(), Some(s)),
            Err(e) => {
                eprintln!("leaklab: skipping TPM: {e}");
                return Ok(());
            }
        },
    };
    // Only a resource manager lets several contexts share a TPM; swtpm, mssim and a raw
    // /dev/tpm0 serve one connection at a time, so the threads share one context (and queue).
    let has_rm = tcti.starts_with("device:/dev/tpmrm") || tcti.starts_with("tabrmd");
    for &c in levels {
        let pool = if has_rm || c == 1 {
            Pool::own(c, || {
                Ok(Box::new(TpmSigner::open(&tcti)?) as Box<dyn Signer>)
            })?
        } else {
            Pool::Shared(Arc::new(Mutex::new(Box::new(TpmSigner::open(&tcti)?))), c)
        };
        rows.push(measure(&device, "tss-esapi", pool, budget)?);
    }
    if compare {
        match tpm2_sign_loop(&tcti, &device, budget) {
            Ok(Some(row)) => rows.push(row),
            Ok(None) => eprintln!("leaklab: tpm2-tools not installed (apt package tpm2-tools): no tpm2_sign comparison"),
            Err(e) => eprintln!("leaklab: tpm2_sign comparison failed: {e:#}"),
        }
    }
    Ok(())
}

/// Times `tpm2_sign` started once per signature against the TPM at `tcti`, with a key created
/// once by tpm2_createprimary/tpm2_create/tpm2_load into a context file. Without a resource
/// manager each `tpm2_sign` leaves the key's transient copy loaded, so `tpm2_flushcontext -t`
/// runs after each signature, outside the timed region.
#[cfg(feature = "tpm")]
fn tpm2_sign_loop(tcti: &str, device: &str, budget: Budget) -> anyhow::Result<Option<Row>> {
    use leaklab_signers::lab::which;
    let tools = [
        "tpm2_createprimary",
        "tpm2_create",
        "tpm2_load",
        "tpm2_sign",
        "tpm2_flushcontext",
    ];
    if tools.iter().any(|t| which(t).is_none()) {
        return Ok(None);
    }
    let dir = tempfile::tempdir()?;
    let run = |args: &[&str]| -> anyhow::Result<()> {
        let out = Command::new(args[0])
            .args(&args[1..])
            .current_dir(dir.path())
            .env("TPM2TOOLS_TCTI", tcti)
            .output()
            .with_context(|| format!("running {}", args[0]))?;
        if !out.status.success() {
            bail!(
                "{} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    };
    run(&[
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
    run(&["tpm2_flushcontext", "-t"])?;
    run(&[
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
    run(&["tpm2_flushcontext", "-t"])?;
    run(&[
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
    run(&["tpm2_flushcontext", "-t"])?;
    std::fs::write(dir.path().join("msg"), b"leaklab tpm2_sign loop")?;
    let sign = [
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
    let label = format!("{device} tpm2_sign loop");
    let bar = progress_bar(budget, &label);
    let mut hist = new_hist()?;
    let mut timed = Duration::ZERO;
    let started = Instant::now();
    loop {
        match budget {
            Budget::Time(limit) if started.elapsed() >= limit => break,
            Budget::Count(n) if hist.len() >= n => break,
            _ => {}
        }
        let t = Instant::now();
        run(&sign)?;
        let took = t.elapsed();
        timed += took;
        hist.saturating_record(took.as_nanos().clamp(1, u128::from(u64::MAX)) as u64);
        run(&["tpm2_flushcontext", "-t"])?;
        bar.set_position(match budget {
            Budget::Time(_) => started.elapsed().as_millis() as u64,
            Budget::Count(_) => hist.len(),
        });
    }
    bar.finish_and_clear();
    let der = std::fs::read(dir.path().join("sig.der"))?;
    leaklab_signers::jws_signature::parse_der(&der)
        .map_err(|e| anyhow!("tpm2_sign output: {e}"))?;
    let samples = hist.len();
    let us = |ns: u64| ns as f64 / 1000.0;
    Ok(Some(Row {
        device: device.into(),
        backend: "tpm2-tools".into(),
        operation: TPM2_SIGN_LOOP.into(),
        concurrency: 1,
        ops_per_s: samples as f64 / timed.as_secs_f64(),
        mean_us: Some(hist.mean() / 1000.0),
        quantiles_us: Some(QUANTILES.map(|q| us(hist.value_at_quantile(q)))),
        samples: Some(samples),
        reference: None,
        ratio_to_reference: None,
    }))
}

#[cfg(feature = "pkcs11")]
fn pkcs11_rows(levels: &[usize], budget: Budget, rows: &mut Vec<Row>) -> anyhow::Result<()> {
    use leaklab_signers::lab::SoftHsmToken;
    use leaklab_signers::pkcs11::{Pkcs11Config, Pkcs11Signer};
    let (config, device, _token) = if std::env::var_os("LEAKLAB_PKCS11_TOKEN").is_some() {
        let config = Pkcs11Config::from_env()?;
        let device = format!("pkcs11 {}", config.module.display());
        (config, device, None)
    } else {
        match SoftHsmToken::init() {
            Ok(t) => (t.pkcs11_config(), "softhsm2".to_string(), Some(t)),
            Err(e) => {
                eprintln!("leaklab: skipping PKCS#11: {e}");
                return Ok(());
            }
        }
    };
    for &c in levels {
        let pool = Pool::own(c, || {
            Ok(Box::new(Pkcs11Signer::open(&config)?) as Box<dyn Signer>)
        })?;
        rows.push(measure(&device, "cryptoki", pool, budget)?);
    }
    Ok(())
}

/// `openssl speed -seconds S ecdsap256`, single thread; only the sign/s column is used.
fn openssl_row(budget: Budget, rows: &mut Vec<Row>) -> anyhow::Result<()> {
    let Some(openssl) = which_openssl() else {
        eprintln!(
            "leaklab: openssl not installed (apt package openssl): no openssl speed comparison"
        );
        return Ok(());
    };
    let seconds = match budget {
        Budget::Time(d) => d.as_secs().max(1),
        Budget::Count(_) => 1,
    };
    let version = Command::new(&openssl)
        .arg("version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let out = Command::new(&openssl)
        .args(["speed", "-seconds", &seconds.to_string(), "ecdsap256"])
        .output()
        .context("running openssl speed")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let Some(sign_per_s) = parse_openssl_speed(&text) else {
        eprintln!("leaklab: could not read the sign/s column of `openssl speed ecdsap256`");
        return Ok(());
    };
    let backend = version
        .and_then(|v| {
            v.split_whitespace()
                .take(2)
                .map(str::to_owned)
                .reduce(|a, b| format!("{a} {b}"))
        })
        .unwrap_or_else(|| "openssl".into());
    rows.push(Row {
        device: "software".into(),
        backend,
        operation: OPENSSL_SPEED.into(),
        concurrency: 1,
        ops_per_s: sign_per_s,
        mean_us: Some(1e6 / sign_per_s),
        quantiles_us: None,
        samples: None,
        reference: None,
        ratio_to_reference: None,
    });
    Ok(())
}

fn which_openssl() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("openssl"))
        .find(|p| p.is_file())
}

/// The sign/s figure from `openssl speed ecdsap256` output (`256 bits ecdsa (nistp256) 0.0000s
/// 0.0001s 23353.0 7225.0`: the second-to-last column).
fn parse_openssl_speed(text: &str) -> Option<f64> {
    let line = text.lines().find(|l| l.contains("ecdsa (nistp256)"))?;
    let fields: Vec<&str> = line.split_whitespace().collect();
    let v: f64 = fields.get(fields.len().checked_sub(2)?)?.parse().ok()?;
    (v.is_finite() && v > 0.0).then_some(v)
}

/// Fills `reference` / `ratio_to_reference`: software rows at concurrency 1 against openssl
/// speed, in-process TPM rows at concurrency 1 against the tpm2_sign loop on the same device.
fn relate(rows: &mut [Row]) {
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

/// "CPU model (N cores)" from /proc/cpuinfo.
fn host_description() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = info
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, m)| m.trim().to_string())
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let cores = info.lines().filter(|l| l.starts_with("processor")).count();
    let cores = if cores == 0 {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    } else {
        cores
    };
    format!("{model} ({cores} cores)")
}

/// The column names of `signers.csv` / `signers.parquet`, in order (shared with the reader).
pub use leaklab_capacity::profile::SIGNERS_CSV_COLUMNS as COLUMNS;

fn write(out: &Path, rows: &[Row]) -> anyhow::Result<Vec<PathBuf>> {
    use polars::prelude::{Column, DataFrame};
    let host = host_description();
    let str_col = |name: &str, f: &dyn Fn(&Row) -> String| {
        Column::new(name.into(), rows.iter().map(f).collect::<Vec<_>>())
    };
    let q = |i: usize| move |r: &Row| r.quantiles_us.map(|q| q[i]);
    let opt_col = |name: &str, f: &dyn Fn(&Row) -> Option<f64>| {
        Column::new(name.into(), rows.iter().map(f).collect::<Vec<_>>())
    };
    let columns = vec![
        str_col(COLUMNS[0], &|r| r.device.clone()),
        str_col(COLUMNS[1], &|r| r.backend.clone()),
        str_col(COLUMNS[2], &|r| r.operation.clone()),
        Column::new(
            COLUMNS[3].into(),
            rows.iter().map(|r| r.concurrency).collect::<Vec<_>>(),
        ),
        Column::new(
            COLUMNS[4].into(),
            rows.iter().map(|r| r.ops_per_s).collect::<Vec<_>>(),
        ),
        opt_col(COLUMNS[5], &|r| r.mean_us),
        opt_col(COLUMNS[6], &q(0)),
        opt_col(COLUMNS[7], &q(1)),
        opt_col(COLUMNS[8], &q(2)),
        opt_col(COLUMNS[9], &q(3)),
        opt_col(COLUMNS[10], &q(4)),
        opt_col(COLUMNS[11], &q(5)),
        Column::new(
            COLUMNS[12].into(),
            rows.iter().map(|r| r.samples).collect::<Vec<_>>(),
        ),
        Column::new(
            COLUMNS[13].into(),
            rows.iter().map(|r| r.reference.clone()).collect::<Vec<_>>(),
        ),
        opt_col(COLUMNS[14], &|r| r.ratio_to_reference),
        str_col(COLUMNS[15], &|_| host.clone()),
        str_col(COLUMNS[16], &|_| env!("CARGO_PKG_VERSION").to_string()),
    ];
    let mut df = DataFrame::new_infer_height(columns)?;
    let staged = leaklab_report::atomic_file::StagedFiles::create(out)?;
    leaklab_report::table::write_table(staged.path(), "signers", &mut df)?;
    Ok(staged.commit()?)
}

fn print_table(rows: &[Row]) {
    println!(
        "{:<10} {:<14} {:<15} {:>4} {:>10} {:>9} {:>9} {:>9}  {}",
        "device", "backend", "operation", "conc", "ops/s", "p50 µs", "p99 µs", "p999 µs", "ratio"
    );
    let fmt = |v: Option<f64>| v.map(|v| format!("{v:.1}")).unwrap_or_else(|| "-".into());
    for r in rows {
        let ratio = match (&r.reference, r.ratio_to_reference) {
            (Some(name), Some(x)) => format!("{x:.2}x {name}"),
            _ => String::new(),
        };
        println!(
            "{:<10} {:<14} {:<15} {:>4} {:>10.1} {:>9} {:>9} {:>9}  {}",
            r.device,
            r.backend,
            r.operation,
            r.concurrency,
            r.ops_per_s,
            fmt(r.quantiles_us.map(|q| q[1])),
            fmt(r.quantiles_us.map(|q| q[3])),
            fmt(r.quantiles_us.map(|q| q[4])),
            ratio
        );
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
    }
}
