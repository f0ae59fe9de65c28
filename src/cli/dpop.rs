//! `leaklab dpop …`: create, inspect and verify DPoP / DPoP-RT proofs (for people debugging DPoP
//! and for interop checks). This is the I/O edge: it reads the clock (unless `--now` is given),
//! OS randomness and key files, and prints; all protocol logic lives in `leaklab_protocol`.
//!
//! `verify` prints one JSON line: `{"valid":true,"jkt":…}` (exit 0) or
//! `{"valid":false,"error":<OAuth error code>,"reason":<failed check>}` (exit 1). Unusable
//! arguments (an unparsable `--htu`, bad JWK JSON, an unreadable key file) are errors (exit 2).

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Subcommand, ValueEnum};
use leaklab_protocol::jwk::Jwk;
use leaklab_protocol::proof::{self, ProofKind, ProofParams};
use leaklab_protocol::replay::MemoryReplayStore;
use leaklab_protocol::uri::NormalizedUri;
use leaklab_protocol::verify::{self, NonceCheck, ProofRequest, VerifyPolicy};
use leaklab_signers::{self, SignerKind};

use super::Outcome;

#[derive(Subcommand)]
pub enum DpopCommand {
    /// Print the RFC 7638 thumbprint of a JWK.
    Thumbprint {
        /// The JWK as JSON.
        #[arg(long)]
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
        /// HTTP method.
        #[arg(long)]
        htm: String,
        /// Target URI (query and fragment are stripped).
        #[arg(long)]
        htu: String,
        /// Access token sent with the proof (adds `ath`; DPoP only).
        #[arg(long)]
        access_token: Option<String>,
        /// Server nonce to include.
        #[arg(long)]
        nonce: Option<String>,
        /// Refresh token presented in the same request (adds `rth`; needs --kind dpop-rt).
        #[arg(long)]
        rt: Option<String>,
        #[arg(long, value_enum, default_value_t = KindArg::Dpop)]
        kind: KindArg,
        #[arg(long, value_enum, default_value_t = SignerArg::Software)]
        signer: SignerArg,
        /// Key file (software: private JWK JSON, see `keygen`); a fresh key if omitted.
        #[arg(long)]
        key: Option<PathBuf>,
        /// `iat` as unix seconds (default: the system clock).
        #[arg(long, allow_negative_numbers = true)]
        now: Option<i64>,
    },
    /// Verify a proof; prints one JSON line, exit 0 if valid, 1 if not.
    Verify {
        /// The compact proof.
        #[arg(long)]
        proof: String,
        /// Request method.
        #[arg(long)]
        htm: String,
        /// Request URI.
        #[arg(long)]
        htu: String,
        #[arg(long, value_enum, default_value_t = KindArg::Dpop)]
        kind: KindArg,
        /// Access token presented with the proof (requires a matching `ath`).
        #[arg(long)]
        access_token: Option<String>,
        /// Expected key thumbprint (`cnf.jkt` of the access token, or the RT's binding).
        #[arg(long)]
        jkt: Option<String>,
        /// Refresh token presented (DPoP-RT: requires a matching `rth`).
        #[arg(long)]
        rt: Option<String>,
        /// Nonce the server issued (the proof must carry it).
        #[arg(long)]
        nonce: Option<String>,
        /// Verification time, unix seconds (default: the system clock).
        #[arg(long, allow_negative_numbers = true)]
        now: Option<i64>,
        /// Largest accepted age of `iat` in seconds.
        #[arg(long, allow_negative_numbers = true)]
        max_age: Option<i64>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
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

fn system_now() -> anyhow::Result<i64> {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .context("system clock before 1970")?;
    i64::try_from(d.as_secs()).context("system clock out of range")
}

pub fn run(cmd: DpopCommand) -> anyhow::Result<Outcome> {
    match cmd {
        DpopCommand::Thumbprint { jwk } => {
            let value: serde_json::Value = serde_json::from_str(&jwk)
                .map_err(|e| anyhow::anyhow!("--jwk is not valid JSON: {e}"))?;
            let jwk = Jwk::from_json(&value).context("--jwk")?;
            println!("{}", jwk.thumbprint());
            Ok(Outcome::Success)
        }
        DpopCommand::Keygen { out } => {
            let key = signer::software::SoftwareSigner::generate(&mut rand::rngs::OsRng);
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options
                .open(&out)
                .with_context(|| format!("cannot create {}", out.display()))?;
            let text = format!("{}\n", key.to_private_jwk_json());
            std::io::Write::write_all(&mut file, text.as_bytes())
                .with_context(|| format!("writing {}", out.display()))?;
            println!("{}", signer::Signer::public_jwk(&key).thumbprint());
            Ok(Outcome::Success)
        }
        DpopCommand::Proof {
            htm,
            htu,
            access_token,
            nonce,
            rt,
            kind,
            signer: signer_kind,
            key,
            now,
        } => {
            NormalizedUri::parse(&htu).with_context(|| format!("--htu {htu:?}"))?;
            let iat = match now {
                Some(n) => n,
                None => system_now()?,
            };
            let mut signer =
                signer::open(signer_kind.into(), key.as_deref()).context("opening the signer")?;
            let params = ProofParams {
                nonce: nonce.as_deref(),
                access_token: access_token.as_deref(),
                refresh_token: rt.as_deref(),
                ..ProofParams::new(kind.into(), &htm, &htu, iat)
            };
            let proof = proof::create(&params, signer.as_mut(), &mut rand::rngs::OsRng)?;
            println!("{proof}");
            Ok(Outcome::Success)
        }
        DpopCommand::Verify {
            proof,
            htm,
            htu,
            kind,
            access_token,
            jkt,
            rt,
            nonce,
            now,
            max_age,
        } => {
            let kind = ProofKind::from(kind);
            if kind == ProofKind::Dpop && rt.is_some() {
                bail!("--rt applies to --kind dpop-rt only");
            }
            if kind == ProofKind::DpopRt && access_token.is_some() {
                bail!("--access-token applies to --kind dpop only");
            }
            let request_uri =
                NormalizedUri::parse(&htu).with_context(|| format!("--htu {htu:?}"))?;
            let now = match now {
                Some(n) => n,
                None => system_now()?,
            };
            let mut policy = VerifyPolicy::default();
            if let Some(max_age) = max_age {
                if max_age < 0 {
                    bail!("--max-age must not be negative");
                }
                policy.max_age_secs = max_age;
            }
            let nonces: Vec<&str> = nonce.iter().map(String::as_str).collect();
            let headers = [proof.as_str()];
            let request = ProofRequest {
                nonce: if nonces.is_empty() {
                    NonceCheck::NotRequired
                } else {
                    NonceCheck::OneOf(&nonces)
                },
                access_token: access_token.as_deref(),
                expected_jkt: jkt.as_deref(),
                refresh_token: rt.as_deref(),
                ..ProofRequest::new(kind, &headers, &htm, &request_uri)
            };
            let mut replay = MemoryReplayStore::new(1);
            match verify::verify(&request, &policy, now, &mut replay) {
                Ok(v) => {
                    println!("{}", serde_json::json!({"valid": true, "jkt": v.jkt}));
                    Ok(Outcome::Success)
                }
                Err(r) => {
                    println!(
                        "{}",
                        serde_json::json!({"valid": false, "error": r.oauth_error().as_str(), "reason": r.reason()})
                    );
                    Ok(Outcome::Negative)
                }
            }
        }
    }
}
