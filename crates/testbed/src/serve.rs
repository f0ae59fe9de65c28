//! `testbed serve`: the AS and two RS instances on 127.0.0.1 for an outside client, with one
//! registered test client and a fresh refresh token, described by one JSON line.
//!
//! The test client (`testbed-client`) is public and DPoP-bound (`dpop_bound_access_tokens`). Its
//! first refresh token is provisioned unbound: the first refresh that carries a `DPoP-RT` proof
//! binds every later refresh token to that key (the DPoP-RT upgrade path, which needs rotation),
//! and from then on a refresh without that key's `DPoP-RT` proof is refused.

use std::path::{Path, PathBuf};

use leaklab_base::duration::{parse_duration, Policy};
use leaklab_protocol::token_endpoint::{ClientMetadata, RtBinding};
use serde::Deserialize;
use serde_json::json;

use crate::bed::{BedConfig, Testbed};
use crate::store::{ClientAuthMethod, ClientConfig};

pub const CLIENT_ID: &str = "testbed-client";

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeConfigError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}: {message}")]
    Invalid { file: String, message: String },
}

/// The `[testbed]` table of a serve config file (every key optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    testbed: Table,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    at_lifetime: Option<String>,
    proof_window: Option<String>,
    /// A duration, or "none".
    nonce_lifetime: Option<String>,
    /// `expiry` or `introspection`.
    at_revocation: Option<String>,
    rotation: Option<bool>,
    reuse_detection: Option<bool>,
    port: Option<u16>,
}

/// What `testbed serve` runs with.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub bed: BedConfig,
    pub rotation: bool,
    pub reuse_detection: bool,
}

impl ServeConfig {
    /// Defaults: 1 h access tokens, 5 min proof window, no nonces, rotation with reuse
    /// detection, a free port.
    pub fn defaults(state_dir: &Path) -> Self {
        Self {
            bed: BedConfig::new(state_dir),
            rotation: true,
            reuse_detection: true,
        }
    }

    /// Reads a config file (TOML, table `[testbed]`); errors name the file and the key.
    pub fn from_file(path: &Path, state_dir: &Path) -> Result<Self, ServeConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ServeConfigError::Read {
            file: file.clone(),
            source,
        })?;
        let invalid = |message: String| ServeConfigError::Invalid {
            file: file.clone(),
            message,
        };
        let parsed: File = toml::from_str(&text).map_err(|e| {
            invalid(format!(
                "{} (keys of [testbed]: at_lifetime, proof_window, nonce_lifetime, at_revocation, rotation, reuse_detection, port)",
                e.message()
            ))
        })?;
        let t = parsed.testbed;
        let mut c = Self::defaults(state_dir);
        let secs = |key: &str, v: &str| {
            parse_duration(v, Policy::UnitRequiredPositive)
                .map(|s| s.round() as i64)
                .map_err(|e| invalid(format!("key `testbed.{key}`: value {v:?}: {}", e.reason())))
        };
        if let Some(v) = &t.at_lifetime {
            c.bed.at_lifetime_secs = secs("at_lifetime", v)?;
        }
        if let Some(v) = &t.proof_window {
            c.bed.proof_max_age_secs = secs("proof_window", v)?;
        }
        if let Some(v) = &t.nonce_lifetime {
            c.bed.nonce_lifetime_secs = if v == "none" {
                None
            } else {
                Some(secs("nonce_lifetime", v)?)
            };
        }
        if let Some(v) = &t.at_revocation {
            c.bed.at_revocation = match v.as_str() {
                "expiry" => crate::resource_server::AtRevocation::Expiry,
                "introspection" => crate::resource_server::AtRevocation::Introspection,
                other => {
                    return Err(invalid(format!(
                        "key `testbed.at_revocation`: value {other:?}: allowed: \"expiry\", \"introspection\""
                    )))
                }
            };
        }
        if let Some(v) = t.rotation {
            c.rotation = v;
        }
        if let Some(v) = t.reuse_detection {
            c.reuse_detection = v;
        }
        if let Some(p) = t.port {
            c.bed.as_port = p;
        }
        if c.reuse_detection && !c.rotation {
            return Err(invalid(
                "key `testbed.reuse_detection`: needs `rotation = true`".into(),
            ));
        }
        Ok(c)
    }
}

/// Registers the test client (again, after a restart) and provisions a fresh grant; returns the
/// JSON line an outside client starts from.
pub async fn announce(
    bed: &Testbed,
    config: &ServeConfig,
    state_dir: &Path,
) -> Result<serde_json::Value, crate::store::StoreError> {
    let store = &bed.as_state.store;
    store.register_client(&ClientConfig {
        client_id: CLIENT_ID.into(),
        auth: ClientAuthMethod::None,
        metadata: ClientMetadata {
            dpop_bound_access_tokens: true,
            dpop_bound_refresh_tokens: false,
        },
        rotation: config.rotation,
        reuse_detection: config.reuse_detection,
        certificate_bound_access_tokens: false,
    })?;
    let now = bed.as_state.clock.now();
    let (family, rt) = store.provision_grant(CLIENT_ID, "outside-user", &RtBinding::None, now)?;
    let as_url = bed.as_url();
    let rs = bed.rs_urls();
    Ok(json!({
        "issuer": as_url,
        "token_endpoint": format!("{as_url}/token"),
        "revocation_endpoint": format!("{as_url}/revoke"),
        "introspection_endpoint": format!("{as_url}/introspect"),
        "jwks_uri": format!("{as_url}/jwks"),
        "resource_servers": rs,
        "api": format!("{}/api/records", rs[0]),
        "client_id": CLIENT_ID,
        "refresh_token": rt,
        "grant": family,
        "rt_binding": "none until the first refresh with a DPoP-RT proof binds it to that key",
        "dpop_algs": ["ES256"],
        "at_lifetime_s": config.bed.at_lifetime_secs,
        "proof_window_s": config.bed.proof_max_age_secs,
        "nonce_lifetime_s": config.bed.nonce_lifetime_secs,
        "ca_pem": bed.pki.ca_pem(),
        "admin_token": bed.admin_token,
        "state_dir": PathBuf::from(state_dir),
    }))
}
