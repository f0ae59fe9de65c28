//! `leaklab dpop …`: create, inspect and verify DPoP / DPoP-RT proofs (for people debugging DPoP
//! and for interop checks). This is the I/O edge: it reads the clock (unless `--now` is given)
//! and prints; proofs, keys and key files are the libraries' (`leaklab_protocol`,
//! `leaklab_signers`).
//!
//! `verify` prints one JSON line: `{"valid":true,"jkt":…}` (exit 0) or
//! `{"valid":false,"error":<OAuth error code>,"reason":<failed check>}` (exit 1). Unusable
//! arguments (an unparsable `--htu`, bad JWK JSON, an unreadable key file) are errors (exit 2).

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, Subcommand, ValueEnum};
use leaklab_protocol::jwk::Jwk;
use leaklab_protocol::proof::{self, ProofKind, ProofParams};
use leaklab_protocol::replay::MemoryReplayStore;
use leaklab_protocol::uri::NormalizedUri;
use leaklab_protocol::verify::{self, NonceCheck, ProofRequest, VerifyPolicy};
use leaklab_signers::{Signer as _, SignerKind};

use super::Outcome;

#[derive(Subcommand)]
pub enum DpopCommand {
    /// Print the RFC 7638 thumbprint of a JWK.
    Thumbprint {
        /// The JWK as JSON.
        #[arg(long, allow_hyphen_values = true)]
        jwk: String,
    },
    /// Write a new software P-256 key (private JWK JSON) to a file; prints its thumbprint.
    Keygen {
        /// Output file (must not exist; created with mode 0600).
        #[arg(long)]
        out: PathBuf,
    },
    /// Create and print a compact DPoP (or DPoP-RT) proof.
    Proof {
        #[command(flatten)]
        request: RequestArgs,
        /// Where the key lives.
        #[arg(long, value_enum, default_value_t = SignerArg::Software)]
        signer: SignerArg,
        /// Key file (software: private JWK JSON, see `keygen`); a fresh key if omitted.
        #[arg(long)]
        key: Option<PathBuf>,
    },
    /// Verify a proof; prints one JSON line, exit 0 if valid, 1 if not.
    Verify {
        /// The compact proof.
        #[arg(long, allow_hyphen_values = true)]
        proof: String,
        #[command(flatten)]
        request: RequestArgs,
        /// Expected key thumbprint (`cnf.jkt` of the access token, or the RT's binding).
        #[arg(long, allow_hyphen_values = true)]
        jkt: Option<String>,
        /// Largest accepted age of `iat` in seconds.
        #[arg(long, allow_negative_numbers = true)]
        max_age: Option<i64>,
    },
}

/// Where a proof's key lives: a software key (a key file, or a fresh key), a key created in the
/// TPM the environment names (TCTI), or on the PKCS#11 token it names.
#[derive(Clone, Copy, ValueEnum)]
pub enum SignerArg {
    Software,
    Tpm,
    Pkcs11,
}

impl From<SignerArg> for SignerKind {
    fn from(s: SignerArg) -> Self {
        match s {
            SignerArg::Software => SignerKind::Software,
            SignerArg::Tpm => SignerKind::Tpm,
            SignerArg::Pkcs11 => SignerKind::Pkcs11,
        }
    }
}

/// The request a proof is made for (`proof`) or arrives with (`verify`).
#[derive(Args)]
pub struct RequestArgs {
    /// HTTP method.
    #[arg(long)]
    htm: String,
    /// Target URI (a proof's `htu` drops the query and fragment).
    #[arg(long)]
    htu: String,
    #[arg(long, value_enum, default_value_t = KindArg::Dpop)]
    kind: KindArg,
    /// Access token sent with the proof (`ath`; DPoP only).
    #[arg(long, allow_hyphen_values = true)]
    access_token: Option<String>,
    /// Refresh token presented in the same request (`rth`; DPoP-RT only).
    #[arg(long, allow_hyphen_values = true)]
    rt: Option<String>,
    /// Server nonce (the proof carries it).
    #[arg(long, allow_hyphen_values = true)]
    nonce: Option<String>,
    /// `iat` of a new proof, or the verification time; unix seconds (default: the system clock).
    #[arg(long, allow_negative_numbers = true)]
    now: Option<i64>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KindArg {
    Dpop,
    DpopRt,
}

impl From<KindArg> for ProofKind {
    fn from(k: KindArg) -> Self {
        match k {
            KindArg::Dpop => ProofKind::Dpop,
            KindArg::DpopRt => ProofKind::DpopRt,
        }
    }
}

impl RequestArgs {
    /// Checks the arguments that depend on the kind; returns `--now` or the system clock.
    fn now(&self) -> anyhow::Result<i64> {
        NormalizedUri::parse(&self.htu).with_context(|| format!("--htu {:?}", self.htu))?;
        if self.kind == KindArg::Dpop && self.rt.is_some() {
            bail!("--rt applies to --kind dpop-rt only");
        }
        if self.kind == KindArg::DpopRt && self.access_token.is_some() {
            bail!("--access-token applies to --kind dpop only");
        }
        if let Some(n) = self.now {
            return Ok(n);
        }
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .context("system clock before 1970")?;
        i64::try_from(d.as_secs()).context("system clock out of range")
    }
}

pub fn run(cmd: DpopCommand) -> anyhow::Result<Outcome> {
    match cmd {
        DpopCommand::Thumbprint { jwk } => {
            println!(
                "{}",
                Jwk::from_json_str(&jwk).context("--jwk")?.thumbprint()
            );
        }
        DpopCommand::Keygen { out } => {
            let key = leaklab_signers::write_new_key_file(&out)?;
            println!("{}", key.public_jwk().thumbprint());
        }
        DpopCommand::Proof {
            request: r,
            signer,
            key,
        } => {
            let iat = r.now()?;
            let mut signer = leaklab_signers::open(signer.into(), key.as_deref())?;
            let params = ProofParams {
                nonce: r.nonce.as_deref(),
                access_token: r.access_token.as_deref(),
                refresh_token: r.rt.as_deref(),
                ..ProofParams::new(r.kind.into(), &r.htm, &r.htu, iat)
            };
            let proof = proof::create(&params, signer.as_mut(), &mut rand::rngs::OsRng)?;
            println!("{proof}");
        }
        DpopCommand::Verify {
            proof,
            request: r,
            jkt,
            max_age,
        } => {
            let now = r.now()?;
            if max_age.is_some_and(|m| m < 0) {
                bail!("--max-age must not be negative");
            }
            let request_uri = NormalizedUri::parse(&r.htu)?;
            let policy = VerifyPolicy {
                max_age_secs: max_age.unwrap_or(VerifyPolicy::default().max_age_secs),
                ..VerifyPolicy::default()
            };
            let nonces: Vec<&str> = r.nonce.iter().map(String::as_str).collect();
            let headers = [proof.as_str()];
            let request = ProofRequest {
                nonce: if nonces.is_empty() {
                    NonceCheck::NotRequired
                } else {
                    NonceCheck::OneOf(&nonces)
                },
                access_token: r.access_token.as_deref(),
                expected_jkt: jkt.as_deref(),
                refresh_token: r.rt.as_deref(),
                ..ProofRequest::new(r.kind.into(), &headers, &r.htm, &request_uri)
            };
            let verdict = verify::verify(&request, &policy, now, &mut MemoryReplayStore::new(1));
            let (line, outcome) = match verdict {
                Ok(v) => (
                    serde_json::json!({"valid": true, "jkt": v.jkt}),
                    Outcome::Success,
                ),
                Err(r) => (
                    serde_json::json!({"valid": false, "error": r.oauth_error().as_str(), "reason": r.reason()}),
                    Outcome::Negative,
                ),
            };
            println!("{line}");
            return Ok(outcome);
        }
    }
    Ok(Outcome::Success)
}
