//! Sans-IO OAuth token-binding protocol core.
//!
//! Nothing in here performs I/O or reads a clock: time (`now`, unix seconds), randomness, replay
//! state and policy are passed in by the caller (the CLI, the benches, the simulator). Each
//! function captures `now` once per call, so one verification sees one instant.
//!
//! Module map (one place per concept):
//! * [`b64`]: base64url and the SHA-256 hash construction behind `ath`, `rth`, `jkt`, `x5t#S256`.
//! * [`jwk`]: public JWKs and RFC 7638 thumbprints.
//! * [`jws`]: compact JWS parsing, signing through a [`crate::signer::Signer`] and ES256
//!   verification; used by DPoP proofs, access-token JWTs and client assertions alike.
//! * [`uri`]: the RFC 3986 §6.2.2/§6.2.3 normaliser used for `htu`.
//! * [`replay`]: the `jti` replay-store trait and a bounded in-memory store.
//! * [`proof`]: DPoP / DPoP-RT proof creation; [`verify`]: the RFC 9449 §4.3 checks (+ DPoP-RT).
//! * [`token_endpoint`]: the AS binding decision for a token request (DPoP and DPoP-RT).
//! * [`access_token`]: RFC 9068 `at+jwt` access tokens with `cnf`; [`introspection`]: RFC 7662.
//! * [`challenge`]: `WWW-Authenticate` challenges; [`oauth_error`]: the OAuth error codes.
//! * [`client_auth`]: `private_key_jwt` (RFC 7523) through a sans-IO JWKS cache.
//!
//! A client makes a DPoP proof for a resource-server call; the server verifies it at its own
//! `now` against its replay store, and a second use of the same proof is refused:
//!
//! ```
//! use leaklab_protocol::proof::{self, ProofKind, ProofParams};
//! use leaklab_protocol::replay::MemoryReplayStore;
//! use leaklab_protocol::signer::SoftwareSigner;
//! use leaklab_protocol::uri::NormalizedUri;
//! use leaklab_protocol::verify::{self, ProofRequest, VerifyPolicy};
//!
//! let mut rng = rand::rngs::OsRng;
//! let mut key = SoftwareSigner::generate(&mut rng);
//! let now = 1_700_000_000; // unix seconds: time is the caller's, never read here
//! let url = "https://rs.example/api";
//! let mut params = ProofParams::new(ProofKind::Dpop, "GET", url, now);
//! params.access_token = Some("the-access-token");
//! let jws = proof::create(&params, &mut key, &mut rng)?;
//!
//! let htu = NormalizedUri::parse(url)?;
//! let headers = [jws.as_str()];
//! let mut request = ProofRequest::new(ProofKind::Dpop, &headers, "GET", &htu);
//! request.access_token = Some("the-access-token");
//! let mut replay = MemoryReplayStore::new(1024);
//! let proof = verify::verify(&request, &VerifyPolicy::default(), now + 2, &mut replay)?;
//! assert_eq!(proof.jkt.len(), 43); // RFC 7638 SHA-256 thumbprint, base64url
//!
//! let again = verify::verify(&request, &VerifyPolicy::default(), now + 3, &mut replay);
//! assert_eq!(again.unwrap_err().reason(), "jti_replay");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod access_token;
pub mod b64;
pub mod challenge;
pub mod client_auth;
pub mod introspection;
pub mod jwk;
pub mod jws;
pub mod oauth_error;
pub mod proof;
pub mod replay;
pub mod signer;
pub mod token_endpoint;
pub mod uri;
pub mod verify;
