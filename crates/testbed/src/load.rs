//! Closed-loop load on the live servers: N concurrent clients, each sending its next request as
//! soon as the previous one is answered, for a bounded time and a bounded count.
//!
//! * **Resource server**: DPoP-bound calls, each with a fresh proof (signature verification with
//!   aws-lc-rs, `ath`, `cnf.jkt`, the replay store shared by both instances, once in memory and
//!   once in SQLite; calls alternate between the two instances).
//! * **Authorization server**: refreshes with a `DPoP` proof (new access token) and a `DPoP-RT`
//!   proof by the refresh-token key, on a software key and on the core device (swtpm), each
//!   committed to SQLite (`synchronous = FULL`) before the answer.
//!
//! Latency is per HTTP request (proof signing excluded), recorded in an HdrHistogram. Clients
//! and servers share this process and its cores, so "per CPU-second" counts the CPU time of the
//! whole process — servers, TLS on both ends and the clients' signing — per answered request;
//! the servers run on their own named threads, so "per server CPU-second" counts theirs alone.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use leaklab_protocol::proof::{self, ProofKind, ProofParams};
use leaklab_protocol::signer::Signer;
use leaklab_protocol::token_endpoint::{ClientMetadata, RtBinding};
use leaklab_signers::aws_lc::AwsLcSigner;
use rand::rngs::OsRng;

use crate::bed::{BedConfig, Testbed};
use crate::client::{Admin, ClientAuth, HttpClient};
use crate::clock::{Clock, SystemClock};
use crate::store::{ClientAuthMethod, ClientConfig, ReplayBackend, ReplayLimits};
use crate::SharedSigner;

/// Hard cap on requests per target, whatever the time budget.
pub const MAX_REQUESTS: u64 = 2_000_000;

pub struct LoadOptions {
    pub seconds: f64,
    pub concurrency: usize,
    pub state_dir: std::path::PathBuf,
    /// The core device key for the device refresh target (skipped when `None`).
    pub device: Option<(String, SharedSigner)>,
    /// Each target runs in this many slices of `seconds / rounds`...
    pub rounds: usize,
    /// ...each followed by this reference measurement (given the slice's seconds), e.g. openssl's
    /// single-thread verify/s.
    pub reference: Option<fn(f64) -> Result<f64, String>>,
}

/// One target's figures (`load.csv` has one row per target, see [`LoadRow::reference_per_s`]
/// and [`LoadRow::ratio`] for the summary over slices).
#[derive(Clone, Debug, serde::Serialize)]
pub struct LoadRow {
    pub target: String,
    pub concurrency: usize,
    pub ok: u64,
    pub failed: u64,
    pub seconds: f64,
    pub per_s: f64,
    /// Answered requests per CPU-second of the whole process.
    pub per_cpu_s: f64,
    /// Answered requests per CPU-second of the server threads only.
    pub per_server_cpu_s: f64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    /// The run in [`LoadOptions::rounds`] slices, each followed by the reference.
    pub slices: Vec<Slice>,
    /// Why the reference could not be measured.
    pub reference_error: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    #[error(transparent)]
    Bed(#[from] crate::bed::BedError),
    #[error(transparent)]
    Client(#[from] crate::client::ClientError),
    #[error("{0}")]
    Other(String),
}

/// The servers' threads (their own tokio runtime) carry this name, so their CPU time can be
/// told from the load clients'.
pub const SERVER_THREAD: &str = "leaklab-srv";

/// `getconf CLK_TCK`, asked once per process (it is read around every slice).
fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .trim()
                    .parse::<f64>()
                    .ok()
            })
            .unwrap_or(100.0)
    })
}

/// (name, user + system ticks) from a `/proc/.../stat` line.
fn stat_ticks(stat: &str) -> (String, f64) {
    let name = stat
        .split_once('(')
        .and_then(|(_, r)| r.rsplit_once(')'))
        .map_or("", |(n, _)| n)
        .to_owned();
    // Fields after the parenthesised name (which may contain spaces): utime and stime are the
    // 12th and 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let n = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (name, n(11) + n(12))
}

/// CPU seconds (user + system) of the whole process and of its server threads, from
/// `/proc/self/stat` and `/proc/self/task/*/stat`, in clock ticks of `getconf CLK_TCK`.
pub fn cpu_seconds() -> (f64, f64) {
    let ticks = clock_ticks();
    let process = stat_ticks(&std::fs::read_to_string("/proc/self/stat").unwrap_or_default()).1;
    let mut servers = 0.0;
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for t in tasks.flatten() {
            let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
            let (name, used) = stat_ticks(&stat);
            if name == SERVER_THREAD {
                servers += used;
            }
        }
    }
    (process / ticks, servers / ticks)
}

/// What one client task sends.
#[derive(Clone)]
enum Work {
    Call {
        url: String,
        htu: String,
        token: String,
        key: SharedSigner,
    },
    Refresh {
        url: String,
        rt: String,
        client: String,
        rt_key: SharedSigner,
        at_key: SharedSigner,
    },
}

fn shared(s: impl Signer + 'static) -> SharedSigner {
    Arc::new(std::sync::Mutex::new(Box::new(s) as Box<dyn Signer>))
}

fn sign(key: &SharedSigner, p: &ProofParams<'_>) -> Result<String, LoadError> {
    let mut g = key.lock().unwrap_or_else(|p| p.into_inner());
    proof::create(p, g.as_mut(), &mut OsRng).map_err(|e| LoadError::Other(e.to_string()))
}

async fn client_loop(
    http: HttpClient,
    work: Vec<Work>,
    deadline: Instant,
    budget: Arc<std::sync::atomic::AtomicU64>,
) -> Result<(Histogram<u64>, u64, u64), LoadError> {
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)
        .map_err(|e| LoadError::Other(e.to_string()))?;
    let (mut ok, mut failed) = (0u64, 0u64);
    let mut i = 0usize;
    while Instant::now() < deadline && budget.fetch_sub(1, std::sync::atomic::Ordering::Relaxed) > 0
    {
        let w = &work[i % work.len()];
        i += 1;
        let now = SystemClock.now();
        let (started, answer_ok) = match w {
            Work::Call {
                url,
                htu,
                token,
                key,
            } => {
                let mut p = ProofParams::new(ProofKind::Dpop, "GET", htu, now);
                p.access_token = Some(token);
                let proof = sign(key, &p)?;
                let t = Instant::now();
                (t, http.call(url, token, Some(&proof)).await?.is_ok())
            }
            Work::Refresh {
                url,
                rt,
                client,
                rt_key,
                at_key,
            } => {
                let dpop = sign(at_key, &ProofParams::new(ProofKind::Dpop, "POST", url, now))?;
                let mut p = ProofParams::new(ProofKind::DpopRt, "POST", url, now);
                p.refresh_token = Some(rt);
                let dpop_rt = sign(rt_key, &p)?;
                let t = Instant::now();
                let auth = ClientAuth::ClientId(client.clone());
                (
                    t,
                    http.refresh(url, rt, &auth, Some(&dpop), Some(&dpop_rt))
                        .await?
                        .is_ok(),
                )
            }
        };
        let _ = hist.record((started.elapsed().as_micros() as u64).max(1));
        if answer_ok {
            ok += 1;
        } else {
            failed += 1;
        }
    }
    Ok((hist, ok, failed))
}

/// One slice of a target's run and the reference measured right after it.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct Slice {
    pub per_server_cpu_s: f64,
    /// The reference (e.g. `openssl speed` verify/s on one thread) just after this slice.
    pub reference_per_s: Option<f64>,
}

impl LoadRow {
    /// Per slice: answered requests per server CPU-second / the reference measured after it.
    /// Alternating the two keeps a drift of the machine's speed (shared cores, frequency)
    /// out of the ratio, which one reference for the whole run does not.
    pub fn ratios(&self) -> Vec<f64> {
        self.slices
            .iter()
            .filter_map(|s| s.reference_per_s.map(|r| s.per_server_cpu_s / r))
            .collect()
    }

    /// The median of the reference measurements (e.g. openssl verify/s, one thread).
    pub fn reference_per_s(&self) -> Option<f64> {
        let references: Vec<f64> = self
            .slices
            .iter()
            .filter_map(|s| s.reference_per_s)
            .collect();
        median(&references)
    }

    /// The median over slices of [`LoadRow::ratios`].
    pub fn ratio(&self) -> Option<f64> {
        median(&self.ratios())
    }

    /// The lowest and highest of [`LoadRow::ratios`].
    pub fn ratio_range(&self) -> Option<(f64, f64)> {
        let ratios = self.ratios();
        Some((
            ratios.iter().copied().reduce(f64::min)?,
            ratios.iter().copied().reduce(f64::max)?,
        ))
    }
}

/// How the reference of a load run went.
#[derive(Clone, Debug, PartialEq)]
pub enum Reference {
    /// Measured after every slice.
    Measured,
    /// Failed after some slices (their ratios are left out).
    Partial(String),
    /// Never measured (no target has a ratio).
    Missing(String),
}

impl Reference {
    /// The reference of a run's `rows`.
    pub fn of(rows: &[LoadRow]) -> Reference {
        let measured = rows.iter().any(|r| r.ratio().is_some());
        match rows.iter().find_map(|r| r.reference_error.clone()) {
            Some(why) if !measured => Reference::Missing(why),
            Some(why) => Reference::Partial(why),
            None => Reference::Measured,
        }
    }
}

impl std::fmt::Display for Reference {
    /// The terminal line (and the page's) for a reference not measured after every slice.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reference::Measured => Ok(()),
            Reference::Partial(why) => write!(
                f,
                "openssl failed after some slices (their ratios are left out): {why}"
            ),
            Reference::Missing(why) => write!(f, "no openssl reference: {why}"),
        }
    }
}

impl std::fmt::Display for LoadRow {
    /// The target's terminal line, and the ratio's when the reference was measured.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:<90} {:>7.0}/s {:>7.0}/server-CPU-s {:>7.0}/process-CPU-s  p50 {:>6} us  p99 {:>6} us  ({} ok, {} failed)",
            self.target, self.per_s, self.per_server_cpu_s, self.per_cpu_s, self.p50_us, self.p99_us, self.ok, self.failed
        )?;
        if let (Some(median), Some((lo, hi)), Some(reference)) =
            (self.ratio(), self.ratio_range(), self.reference_per_s())
        {
            write!(
                f,
                "\n    per server CPU-second / openssl verify/s on one thread ({reference:.0}/s, median of {}): {median:.2} (slices {lo:.2} to {hi:.2})",
                self.ratios().len()
            )?;
        }
        Ok(())
    }
}

/// The median of `v` (mean of the middle two for an even count), `None` when empty.
pub fn median(v: &[f64]) -> Option<f64> {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

async fn measure(
    target: &str,
    http: &HttpClient,
    work: Vec<Work>,
    opts: &LoadOptions,
) -> Result<LoadRow, LoadError> {
    let rounds = opts.rounds.max(1);
    let per_round = opts.seconds / rounds as f64;
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)
        .map_err(|e| LoadError::Other(e.to_string()))?;
    let (mut ok, mut failed, mut seconds, mut cpu, mut server_cpu) = (0, 0, 0.0, 0.0, 0.0);
    let mut slices = Vec::new();
    let mut reference_error = None;
    for _ in 0..rounds {
        // Each slice gets its share of the request cap, so no slice is left empty.
        let budget = Arc::new(std::sync::atomic::AtomicU64::new(
            MAX_REQUESTS / rounds as u64,
        ));
        let cpu0 = cpu_seconds();
        let started = Instant::now();
        let deadline = started + Duration::from_secs_f64(per_round);
        let mut tasks = Vec::new();
        for _ in 0..opts.concurrency.max(1) {
            tasks.push(tokio::spawn(client_loop(
                http.clone(),
                work.clone(),
                deadline,
                budget.clone(),
            )));
        }
        let mut slice_ok = 0;
        for t in tasks {
            let (h, o, f) = t.await.map_err(|e| LoadError::Other(e.to_string()))??;
            let _ = hist.add(&h);
            slice_ok += o;
            failed += f;
        }
        seconds += started.elapsed().as_secs_f64();
        let cpu1 = cpu_seconds();
        cpu += cpu1.0 - cpu0.0;
        let slice_server_cpu = (cpu1.1 - cpu0.1).max(1e-9);
        server_cpu += slice_server_cpu;
        ok += slice_ok;
        let reference_per_s = match opts.reference {
            Some(reference) => {
                match tokio::task::spawn_blocking(move || reference(per_round))
                    .await
                    .map_err(|e| LoadError::Other(e.to_string()))?
                {
                    Ok(v) => Some(v),
                    Err(why) => {
                        reference_error = Some(why);
                        None
                    }
                }
            }
            None => None,
        };
        slices.push(Slice {
            per_server_cpu_s: slice_ok as f64 / slice_server_cpu,
            reference_per_s,
        });
    }
    Ok(LoadRow {
        target: target.to_owned(),
        concurrency: opts.concurrency,
        ok,
        failed,
        seconds,
        per_s: ok as f64 / seconds.max(1e-9),
        per_cpu_s: ok as f64 / cpu.max(1e-9),
        per_server_cpu_s: ok as f64 / server_cpu.max(1e-9),
        p50_us: hist.value_at_quantile(0.5),
        p90_us: hist.value_at_quantile(0.9),
        p99_us: hist.value_at_quantile(0.99),
        p999_us: hist.value_at_quantile(0.999),
        slices,
        reference_error,
    })
}

/// Runs every target in turn: the servers on a runtime of their own (two worker threads named
/// [`SERVER_THREAD`]), the clients on another (two worker threads). The resource server is
/// measured with each replay backend (one testbed each); the authorization server once.
pub fn run(opts: &LoadOptions) -> Result<Vec<LoadRow>, LoadError> {
    let runtime = |name: &str, threads: usize| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name(name)
            .enable_all()
            .build()
            .map_err(|e| LoadError::Other(format!("{name} runtime: {e}")))
    };
    let servers = runtime(SERVER_THREAD, 2)?;
    let clients = runtime("leaklab-load", 2)?;
    let mut rows = Vec::new();
    for (backend, dir) in [
        (ReplayBackend::Memory, "memory"),
        (ReplayBackend::Sqlite, "sqlite"),
    ] {
        let state_dir = opts.state_dir.join(dir);
        std::fs::create_dir_all(&state_dir)
            .map_err(|e| LoadError::Other(format!("{}: {e}", state_dir.display())))?;
        let mut config = BedConfig::new(&state_dir);
        config.replay = ReplayLimits {
            capacity: 10_000_000,
            per_owner: 10_000_000,
            ..ReplayLimits::default()
        };
        config.rs_replay = backend;
        config.failures_per_minute = u32::MAX;
        let bed = servers.block_on(Testbed::start(&config, Arc::new(SystemClock)))?;
        let measured = clients.block_on(targets(&bed, opts, backend));
        servers.block_on(bed.stop());
        rows.extend(measured?);
    }
    Ok(rows)
}

/// The resource-server target on `bed`, and with the SQLite backend the authorization-server
/// targets too (the AS does not use the resource servers' store).
async fn targets(
    bed: &Testbed,
    opts: &LoadOptions,
    replay: ReplayBackend,
) -> Result<Vec<LoadRow>, LoadError> {
    let setup = Setup::new(bed).await?;
    let mut rows = Vec::new();
    let mut calls = Vec::new();
    let urls = bed.rs_urls();
    let htu = format!("{}/api/records", urls[0]);
    // Resource server: one grant per client task, each with its own edge key.
    for i in 0..opts.concurrency.max(1) {
        let (rt, access_token, edge) = setup.edge_grant(i).await?;
        for url in &urls {
            calls.push(Work::Call {
                url: format!("{url}/api/records"),
                htu: htu.clone(),
                token: access_token.clone(),
                key: edge.clone(),
            });
        }
        if i == 0 && replay == ReplayBackend::Sqlite {
            rows.extend(setup.refresh_targets(&rt, &edge, opts).await?);
        }
    }
    // Each task alternates over every grant and instance.
    rows.insert(
        0,
        measure(
            &format!(
                "resource server: DPoP-bound call (verify, ath, cnf, replay store in {})",
                replay.name()
            ),
            &setup.http,
            calls,
            opts,
        )
        .await?,
    );
    Ok(rows)
}

fn signer_error(e: leaklab_protocol::signer::SignerError) -> LoadError {
    LoadError::Other(e.to_string())
}

/// The load client `load` on a testbed, its grants' refresh-token key (`core`) and the
/// clients that reach the servers.
struct Setup {
    http: HttpClient,
    admin: Admin,
    token_url: String,
    core: SharedSigner,
    core_jkt: String,
}

impl Setup {
    async fn new(bed: &Testbed) -> Result<Setup, LoadError> {
        let http = HttpClient::new(&bed.pki.ca_pem(), None, true)?;
        let admin = Admin {
            http: http.clone(),
            as_url: bed.as_url(),
            token: bed.admin_token.clone(),
        };
        admin
            .register(&ClientConfig {
                client_id: "load".into(),
                auth: ClientAuthMethod::None,
                metadata: ClientMetadata {
                    dpop_bound_access_tokens: true,
                    dpop_bound_refresh_tokens: true,
                },
                rotation: false,
                reuse_detection: false,
                certificate_bound_access_tokens: false,
            })
            .await?;
        let core = shared(AwsLcSigner::generate().map_err(signer_error)?);
        let core_jkt = core
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .public_jwk()
            .thumbprint();
        Ok(Setup {
            http,
            admin,
            token_url: bed.token_url(),
            core,
            core_jkt,
        })
    }

    /// Grant `i` with a fresh edge key, refreshed once: its refresh token, the access token
    /// and the edge key.
    async fn edge_grant(&self, i: usize) -> Result<(String, String, SharedSigner), LoadError> {
        let token_url = &self.token_url;
        let (_, rt) = self
            .admin
            .provision(
                "load",
                &format!("user-{i}"),
                &RtBinding::DpopRtJkt(self.core_jkt.clone()),
            )
            .await?;
        let edge = shared(AwsLcSigner::generate().map_err(signer_error)?);
        let now = SystemClock.now();
        let dpop = sign(
            &edge,
            &ProofParams::new(ProofKind::Dpop, "POST", token_url, now),
        )?;
        let mut p = ProofParams::new(ProofKind::DpopRt, "POST", token_url, now);
        p.refresh_token = Some(&rt);
        let dpop_rt = sign(&self.core, &p)?;
        let tokens = self
            .http
            .refresh(
                token_url,
                &rt,
                &ClientAuth::ClientId("load".into()),
                Some(&dpop),
                Some(&dpop_rt),
            )
            .await?
            .map_err(|r| {
                LoadError::Other(format!(
                    "setup refresh refused: {} {}",
                    r.error, r.description
                ))
            })?;
        Ok((rt, tokens.access_token, edge))
    }

    /// The authorization-server targets: refreshes of `rt` (no rotation: one RT, many
    /// refreshes) with the software core key, then of a grant bound to the device key.
    async fn refresh_targets(
        &self,
        rt: &str,
        edge: &SharedSigner,
        opts: &LoadOptions,
    ) -> Result<Vec<LoadRow>, LoadError> {
        let refresh = |rt: String, rt_key: &SharedSigner| Work::Refresh {
            url: self.token_url.clone(),
            rt,
            client: "load".into(),
            rt_key: rt_key.clone(),
            at_key: edge.clone(),
        };
        let mut rows = vec![
            measure(
                "authorization server: refresh, DPoP + DPoP-RT (software key, aws-lc-rs)",
                &self.http,
                vec![refresh(rt.to_owned(), &self.core)],
                opts,
            )
            .await?,
        ];
        if let Some((name, device)) = &opts.device {
            let jkt = device
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .public_jwk()
                .thumbprint();
            let (_, device_rt) = self
                .admin
                .provision("load", "device-user", &RtBinding::DpopRtJkt(jkt))
                .await?;
            rows.push(
                measure(
                    &format!("authorization server: refresh, DPoP + DPoP-RT ({name} key)"),
                    &self.http,
                    vec![refresh(device_rt, device)],
                    opts,
                )
                .await?,
            );
        }
        Ok(rows)
    }
}
