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
