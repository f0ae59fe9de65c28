//! Sans-IO OAuth token-binding protocol core.
//!
//! Nothing in here performs I/O or reads a clock: time, randomness, replay state and policy are
//! passed in by the caller (the CLI, the benches, the simulator).

pub mod b64;
pub mod jwk;
