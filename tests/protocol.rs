//! Integration tests for the protocol core and the `dpop` CLI: one test binary with modules
//! (one link instead of one per file). Known-answer vectors are read from `tests/vectors/*.json`.

#[path = "protocol/common.rs"]
mod common;

#[path = "protocol/kat.rs"]
mod kat;

#[path = "protocol/verify_checks.rs"]
mod verify_checks;

#[path = "protocol/token_endpoint.rs"]
mod token_endpoint;

#[path = "protocol/tokens.rs"]
mod tokens;

#[path = "protocol/client_auth.rs"]
mod client_auth;

#[path = "protocol/cli.rs"]
mod cli;
