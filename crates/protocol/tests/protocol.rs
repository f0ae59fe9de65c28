//! Integration tests for the protocol core: one test binary with modules
//! (one link instead of one per file). Known-answer vectors are read from `tests/vectors/*.json`.

#[path = "common.rs"]
mod common;

#[path = "kat.rs"]
mod kat;

#[path = "verify_checks.rs"]
mod verify_checks;

#[path = "token_endpoint.rs"]
mod token_endpoint;

#[path = "tokens.rs"]
mod tokens;

#[path = "client_auth.rs"]
mod client_auth;

