//! Timing one signer at one concurrency: worker threads, HDR histograms, deferred verification.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use leaklab_protocol::jwk::Jwk;
use leaklab_signers::{Signer, SignerError};
use p256::ecdsa::signature::Verifier as _;

use crate::{BenchError, Budget, Latency, Progress, Row, OPERATION};

/// The length of every signed message: the JWS signing input of a typical DPoP proof is about
/// 400-500 bytes, and the signer hashes it, so sign one that size.
pub const MESSAGE_LEN: usize = 440;

/// Every how many signatures a worker keeps one for verification after the timed run.
pub const VERIFY_EVERY: u64 = 64;

/// The message of worker `worker`, signature `i`: distinct per signature, [`MESSAGE_LEN`] bytes.
pub fn message(worker: usize, i: u64) -> [u8; MESSAGE_LEN] {
    let mut m = [b'x'; MESSAGE_LEN];
    m[..8].copy_from_slice(&(worker as u64).to_be_bytes());
    m[8..16].copy_from_slice(&i.to_be_bytes());
    m
}

/// Checks a JWS `r || s` signature over `message` with `key`.
pub fn check_signature(
    key: &p256::ecdsa::VerifyingKey,
    message: &[u8],
    signature: &[u8; 64],
) -> Result<(), String> {
    let parsed = p256::ecdsa::Signature::from_slice(signature)
        .map_err(|e| format!("not an r || s signature: {e}"))?;
    key.verify(message, &parsed)
        .map_err(|e| format!("does not verify: {e}"))
}

/// The signers a measurement drives: one per thread, or one shared by all threads.
pub struct Pool(PoolKind);

enum PoolKind {
    Own(Vec<Box<dyn Signer>>),
    Shared(Mutex<Box<dyn Signer>>, usize),
}

impl Pool {
    /// `threads` signers from `make`, one per thread.
    pub fn own(
        threads: usize,
        mut make: impl FnMut() -> Result<Box<dyn Signer>, SignerError>,
    ) -> Result<Self, SignerError> {
        let signers = (0..threads)
            .map(|_| make())
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Pool(PoolKind::Own(signers)))
    }

    /// One signer shared by `threads` threads, which queue for it (a device that serves one
    /// connection at a time).
    pub fn shared(signer: Box<dyn Signer>, threads: usize) -> Self {
        Pool(PoolKind::Shared(Mutex::new(signer), threads))
    }

    /// The number of worker threads.
    pub fn threads(&self) -> usize {
        match &self.0 {
            PoolKind::Own(v) => v.len(),
            PoolKind::Shared(_, n) => *n,
        }
    }

    fn handles(&mut self) -> Vec<Handle<'_>> {
        match &mut self.0 {
            PoolKind::Own(v) => v.iter_mut().map(Handle::Own).collect(),
            PoolKind::Shared(m, n) => (0..*n).map(|_| Handle::Shared(m)).collect(),
        }
    }
}

/// A signer a worker thread uses.
enum Handle<'a> {
    Own(&'a mut Box<dyn Signer>),
    Shared(&'a Mutex<Box<dyn Signer>>),
}

fn poisoned() -> SignerError {
    SignerError::operation("shared signer", "lock", "poisoned by a panicked worker")
}

impl Handle<'_> {
    fn sign(&mut self, msg: &[u8]) -> Result<[u8; 64], SignerError> {
        match self {
            Handle::Own(s) => s.sign(msg),
            Handle::Shared(m) => m.lock().map_err(|_| poisoned())?.sign(msg),
        }
    }

    fn public_jwk(&self) -> Result<Jwk, SignerError> {
        match self {
            Handle::Own(s) => Ok(s.public_jwk().clone()),
            Handle::Shared(m) => Ok(m.lock().map_err(|_| poisoned())?.public_jwk().clone()),
        }
    }
}

struct WorkerResult {
    hist: Histogram<u64>,
    /// When this worker completed its last signature.
    ended: Instant,
    kept: Vec<(u64, [u8; 64])>,
}

/// A histogram of latencies in ns: 1 ns .. 100 s, 3 significant digits.
pub(crate) fn new_hist(label: &str) -> Result<Histogram<u64>, BenchError> {
    Histogram::new_with_bounds(1, 100_000_000_000, 3).map_err(|e| BenchError::Histogram {
        label: label.to_string(),
        message: e.to_string(),
    })
}

pub(crate) fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX).max(1)
}

impl Latency {
    /// The row quantiles (p10, p50, p90, p99, p99.9, max) of a histogram in ns, in µs.
    pub(crate) fn from_nanos(hist: &Histogram<u64>) -> Self {
        let us = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
        Latency {
            p10: us(0.10),
            p50: us(0.50),
            p90: us(0.90),
            p99: us(0.99),
            p999: us(0.999),
            max: us(1.0),
        }
    }
}

/// Measures the signers of `pool` under `budget`: three untimed warm-up signatures per thread,
/// then all threads sign distinct messages until the budget is spent. The row's `device` and
/// `backend` are the given names, its `operation` [`OPERATION`].
pub fn measure(
    device: &str,
    backend: &str,
    mut pool: Pool,
    budget: Budget,
    progress: &mut dyn Progress,
) -> Result<Row, BenchError> {
    let threads = pool.threads();
    let label = format!("{device} {backend} c={threads}");
    if threads == 0 {
        return Err(BenchError::InvalidConfig(format!(
            "{label}: no signer to measure"
        )));
    }
    let mut handles = pool.handles();
    warm_up(&mut handles, &label)?;
    let hists = (0..threads)
        .map(|_| new_hist(&label))
        .collect::<Result<Vec<_>, _>>()?;
    let (total, unit) = budget.progress_total();
    progress.start(&label, total, unit);
    let started = Instant::now();
    let results = run_workers(&mut handles, hists, budget, started, progress);
    progress.finish();
    let (hist, ended) = merge_and_verify(results, &handles, &label, started)?;
    let samples = hist.len();
    let wall = (ended - started).as_secs_f64();
    if samples == 0 || wall <= 0.0 {
        return Err(BenchError::NoSamples { label });
    }
    Ok(Row {
        device: device.into(),
        backend: backend.into(),
        operation: OPERATION.into(),
        concurrency: u32::try_from(threads).unwrap_or(u32::MAX),
        ops_per_s: samples as f64 / wall,
        mean_us: Some(hist.mean() / 1000.0),
        latency_us: Some(Latency::from_nanos(&hist)),
        samples: Some(samples),
        reference: None,
        ratio_to_reference: None,
    })
}

/// Three untimed signatures per handle (connections, caches, lazy key loading).
fn warm_up(handles: &mut [Handle<'_>], label: &str) -> Result<(), BenchError> {
    for (w, h) in handles.iter_mut().enumerate() {
        for i in 0..3 {
            h.sign(&message(w, u64::MAX - i))
                .map_err(|e| BenchError::signer(label, "warm-up signature", e))?;
        }
    }
    Ok(())
}

/// What the workers share: signatures made (or claimed, under a count budget) and the stop flag.
struct Shared {
    done: AtomicU64,
    stop: AtomicBool,
}

/// One thread per handle signs until the budget is spent or a signature fails; this thread
/// reports progress and ends a time budget. `None` for a worker that panicked.
fn run_workers(
    handles: &mut [Handle<'_>],
    hists: Vec<Histogram<u64>>,
    budget: Budget,
    started: Instant,
    progress: &mut dyn Progress,
) -> Vec<Option<Result<WorkerResult, SignerError>>> {
    let shared = Shared {
        done: AtomicU64::new(0),
        stop: AtomicBool::new(false),
    };
    std::thread::scope(|scope| {
        let workers: Vec<_> = handles
            .iter_mut()
            .zip(hists)
            .enumerate()
            .map(|(w, (h, hist))| {
                let shared = &shared;
                scope.spawn(move || sign_until_done(w, h, hist, budget, shared))
            })
            .collect();
        loop {
            let finished = workers.iter().all(|w| w.is_finished());
            match budget {
                Budget::Time(limit) => {
                    let elapsed = started.elapsed();
                    progress.update(crate::budget::millis(elapsed.min(limit)));
                    if elapsed >= limit {
                        shared.stop.store(true, Ordering::Relaxed);
                    }
                }
                Budget::Count(n) => progress.update(shared.done.load(Ordering::Relaxed).min(n)),
            }
            if finished {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        workers.into_iter().map(|w| w.join().ok()).collect()
    })
}

/// Worker `w`: signs distinct messages, records each latency, keeps every
/// [`VERIFY_EVERY`]th signature for verification after the run.
fn sign_until_done(
    w: usize,
    h: &mut Handle<'_>,
    mut hist: Histogram<u64>,
    budget: Budget,
    shared: &Shared,
) -> Result<WorkerResult, SignerError> {
    let mut kept = Vec::new();
    let mut i = 0u64;
    while !shared.stop.load(Ordering::Relaxed) {
        if let Budget::Count(n) = budget {
            // Claim a signature of the shared count before making it.
            if shared.done.fetch_add(1, Ordering::Relaxed) >= n {
                break;
            }
        }
        let msg = message(w, i);
        let t = Instant::now();
        let sig = h.sign(&msg);
        let ns = nanos(t.elapsed());
        let sig = sig.inspect_err(|_| shared.stop.store(true, Ordering::Relaxed))?;
        hist.saturating_record(ns);
        if matches!(budget, Budget::Time(_)) {
            shared.done.fetch_add(1, Ordering::Relaxed);
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
}

/// All workers' latencies in one histogram, and when the last signature ended (the wall time
/// runs from the common start to it, not to when the progress loop noticed); fails on a worker
/// that panicked or failed, and on a kept signature that does not verify.
fn merge_and_verify(
    results: Vec<Option<Result<WorkerResult, SignerError>>>,
    handles: &[Handle<'_>],
    label: &str,
    started: Instant,
) -> Result<(Histogram<u64>, Instant), BenchError> {
    let mut hist = new_hist(label)?;
    let mut ended = started;
    for (w, result) in results.into_iter().enumerate() {
        let result = result
            .ok_or_else(|| BenchError::WorkerPanicked {
                label: label.to_string(),
            })?
            .map_err(|e| BenchError::signer(label, "signing failed", e))?;
        hist.add(&result.hist).map_err(|e| BenchError::Histogram {
            label: label.to_string(),
            message: e.to_string(),
        })?;
        ended = ended.max(result.ended);
        let verification = |detail: String| BenchError::Verification {
            label: label.to_string(),
            detail,
        };
        let key = handles[w]
            .public_jwk()
            .map_err(|e| BenchError::signer(label, "reading the public key", e))?
            .to_p256()
            .map_err(|e| verification(format!("unusable public JWK: {e}")))?;
        for (i, sig) in &result.kept {
            check_signature(&key, &message(w, *i), sig)
                .map_err(|e| verification(format!("signature {i} of worker {w} {e}")))?;
        }
    }
    Ok((hist, ended))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NoProgress, ProgressUnit};

    #[test]
    fn messages_are_distinct_and_fixed_length() {
        assert_eq!(message(0, 0).len(), MESSAGE_LEN);
        assert_ne!(message(0, 1), message(1, 0));
        assert_ne!(message(0, 1), message(0, 2));
    }

    /// Signs with a fresh key but publishes another one, so every kept signature fails.
    struct WrongKey {
        signer: leaklab_signers::SoftwareSigner,
        other: Jwk,
    }

    impl Signer for WrongKey {
        fn public_jwk(&self) -> &Jwk {
            &self.other
        }
        fn sign(&mut self, message: &[u8]) -> Result<[u8; 64], SignerError> {
            self.signer.sign(message)
        }
        fn describe(&self) -> String {
            "wrong key".into()
        }
    }

    fn software() -> leaklab_signers::SoftwareSigner {
        leaklab_signers::SoftwareSigner::generate(&mut rand::rngs::OsRng)
    }

    #[test]
    fn a_signer_with_the_wrong_public_key_fails_the_measurement() {
        let signer = WrongKey {
            signer: software(),
            other: software().public_jwk().clone(),
        };
        let pool = Pool::shared(Box::new(signer), 2);
        let err = measure("test", "wrong", pool, Budget::Count(10), &mut NoProgress)
            .expect_err("wrong key must fail");
        assert!(matches!(err, BenchError::Verification { .. }), "{err:?}");
    }

    #[derive(Default)]
    struct Recorder {
        calls: Vec<String>,
        last: u64,
    }

    impl Progress for Recorder {
        fn start(&mut self, label: &str, total: u64, unit: ProgressUnit) {
            self.calls
                .push(format!("start {label} {total} {}", unit.as_str()));
        }
        fn update(&mut self, position: u64) {
            self.last = position;
        }
        fn finish(&mut self) {
            self.calls.push("finish".into());
        }
    }

    #[test]
    fn a_shared_pool_reports_progress_and_counts_exactly() {
        let pool = Pool::shared(Box::new(software()), 3);
        let mut progress = Recorder::default();
        let row =
            measure("software", "p256", pool, Budget::Count(30), &mut progress).expect("measure");
        assert_eq!(row.samples, Some(30));
        assert_eq!(row.concurrency, 3);
        assert_eq!(
            progress.calls,
            ["start software p256 c=3 30 sigs", "finish"]
        );
        assert_eq!(progress.last, 30);
    }

    #[test]
    fn an_empty_pool_is_an_error() {
        let pool = Pool::own(0, || unreachable!()).expect("no signer made");
        let err = measure("x", "y", pool, Budget::Count(1), &mut NoProgress).unwrap_err();
        assert!(matches!(err, BenchError::InvalidConfig(_)), "{err:?}");
    }
}
