//! The live testbed, leaklab's protocol edge: an authorization server and resource servers over
//! HTTPS on 127.0.0.1 (tokio, axum, rustls), durable state in SQLite, a private PKI, the client
//! side the agent, attacker and load share, closed-loop load, and `testbed serve` for outside
//! clients. The leak drill that plays a scenario against it is `leaklab-drill`.
//!
//! Modules (private; the API is re-exported below):
//! * `clock`: the injected protocol clock (wall, or stepped by the drill).
//! * `pki`: CA, server and client certificates, CRLs (rcgen).
//! * `tls`: the HTTPS edge (accept loop, TLS, limits, client certificate to handlers).
//! * `store`: SQLite state of the AS and the shared replay store.
//! * `access`: access-token validation (`jsonwebtoken`).
//! * `nonce`, `quota`: server nonces and per-client failure quotas.
//! * `auth_server`, `resource_server`: the two servers' routes.
//! * `bed`: one testbed (PKI, AS, two RS instances, JWKS host) started together.
//! * `client`: the HTTP client side (refresh, calls) shared by agent, attacker and load.
//! * `load`: the closed-loop load generator; `serve`: the servers for outside clients.

// Handlers return a finished HTTP response as their error (the axum idiom); boxing each one
// would only add an allocation per refused request.
#![allow(clippy::result_large_err)]

mod access;
mod auth_server;
mod bed;
mod client;
mod clock;
mod http;
mod load;
mod nonce;
mod pki;
mod quota;
mod resource_server;
mod serve;
mod store;
mod tls;

pub use auth_server::AsError;
pub use bed::{BedConfig, BedError, JwksDocs, Testbed};
pub use client::{Admin, ClientAuth, ClientError, HttpClient, Refusal, Tokens};
pub use clock::{Clock, ManualClock, SharedClock, SystemClock};
pub use load::{
    cpu_seconds, median, run as run_load, LoadError, LoadOptions, LoadRow, Reference, Slice,
    MAX_REQUESTS, SERVER_THREAD,
};
pub use pki::{ClientIdentity, Pki, PkiError};
pub use resource_server::AtRevocation;
pub use serve::{announce, ServeConfig, ServeConfigError, CLIENT_ID};
pub use store::{ClientAuthMethod, ClientConfig, ReplayBackend, ReplayLimits, StoreError};
pub use tls::{Limits, Running};

/// A signer shared between tasks (the agent's core and, while it holds the core host, the
/// drill's attacker; the load generator's clients).
pub type SharedSigner = std::sync::Arc<std::sync::Mutex<Box<dyn leaklab_protocol::signer::Signer>>>;
