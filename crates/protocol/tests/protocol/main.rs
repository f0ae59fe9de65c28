//! Integration tests for the protocol core: one test binary with modules
//! (one link instead of one per file). Known-answer vectors are read from `tests/vectors/*.json`:
//! RFC 9449, RFC 7638, RFC 7662, RFC 8705 and DPoP-RT draft examples, each with its `source`.

mod common;

mod kat;

mod verify_checks;

mod token_endpoint;

mod tokens;

mod client_auth;
