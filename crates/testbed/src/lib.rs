//! The live testbed: an authorization server and resource servers over HTTPS on 127.0.0.1
//! (tokio, axum, rustls), durable state in SQLite, a private PKI, an agent and an attacker, and
//! the leak drill that plays a scenario's draws against them.
//!
//! Module map:
//! * [`clock`]: the injected protocol clock (wall, or stepped by the drill).
//! * [`pki`]: CA, server and client certificates, CRLs (rcgen).
//! * [`tls`]: the HTTPS edge (accept loop, TLS, limits, client certificate to handlers).
//! * [`store`]: SQLite state of the AS and the shared replay store.
//! * [`access`]: access-token validation (`jsonwebtoken`).
//! * [`nonce`], [`quota`]: server nonces and per-client failure quotas.
//! * [`auth_server`], [`resource_server`]: the two servers' routes.
//! * [`bed`]: one testbed (PKI, AS, two RS instances, JWKS host) started together.
//! * [`client`]: the HTTP client side (refresh, calls) shared by agent, attacker and load.
//! * [`drill`]: the leak drill; [`load`]: the closed-loop load generator.

// Handlers return a finished HTTP response as their error (the axum idiom); boxing each one
// would only add an allocation per refused request.
#![allow(clippy::result_large_err)]

pub mod access;
pub mod auth_server;
pub mod bed;
pub mod client;
pub mod clock;
pub mod drill;
pub mod http;
pub mod load;
pub mod nonce;
pub mod pki;
pub mod quota;
pub mod resource_server;
pub mod serve;
pub mod store;
pub mod tls;
