//! # leaklab
//!
//! A simulation and benchmarking lab for containing leaked OAuth tokens.
//!
//! * [`protocol`]: a sans-IO core for RFC 9449 DPoP, draft-rosomakho-oauth-dpop-rt (DPoP-RT),
//!   RFC 7638 thumbprints, `cnf` confirmation, RFC 7662 introspection, RFC 8705 and
//!   `private_key_jwt` bindings. No I/O and no wall clock: the caller passes `now`.
//! * [`signer`]: ES256 signers behind one trait: software P-256, TPM 2.0 (`tpm` feature),
//!   PKCS#11 (`pkcs11` feature).
//! * [`sim`]: the discrete-event time-to-disable (TTD) simulator, leaklab's main job.
//! * [`capacity`]: a queueing model for sizing HSM/TPM signing capacity.
//! * [`report`]: the edges: tidy tables (Parquet/CSV through polars), plots (plotters), atomic
//!   output directories.

pub mod capacity;
pub mod jwks_fetch;
pub mod protocol;
#[cfg(feature = "report")]
pub mod report;
pub mod signer;
pub mod sim;
