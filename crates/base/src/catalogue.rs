//! The strategy catalogue: what each token-binding strategy makes the legitimate agent sign, and
//! how often. The simulator's signing-load metrics and the capacity planner both ask this module,
//! so they cannot disagree.
//!
//! Counting rules (one place for each):
//! * **Refreshes**: each edge workload holds its own access token bound to its own key, so a
//!   workload makes one refresh per edge token per refresh interval (the AT lifetime when the
//!   client refreshes at expiry): `edges / refresh_interval` per agent.
//! * **Connections**: an mTLS client signs a TLS 1.3 `CertificateVerify` (RFC 8446 §4.4.3,
//!   <https://www.rfc-editor.org/rfc/rfc8446#section-4.4.3>) once per connection, not per call.
//!   Each edge keeps its connection to the resource server for `connection_lifetime` (a pool's
//!   maximum connection age), so an agent opens `edges / connection_lifetime` connections per
//!   second; a refresh opens its own connection to the token endpoint (refresh intervals are far
//!   longer than keep-alive idle timeouts).
//! * **Calls**: single DPoP signs one proof per API call (RFC 9449 §4,
//!   <https://www.rfc-editor.org/rfc/rfc9449#section-4>); split DPoP signs it with the edge's
//!   software key (draft-rosomakho-oauth-dpop-rt,
//!   <https://datatracker.ietf.org/doc/draft-rosomakho-oauth-dpop-rt/>).
//!
//! A signature lands on the HSM/TPM only when the key that makes it lives there; the rest are
//! software signatures.

use std::fmt;

/// A token-binding strategy family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Binding {
    /// Bearer tokens (RFC 6750): no key, no signature.
    Bearer,
    /// Certificate-bound tokens (RFC 8705): the client certificate's key signs each TLS handshake.
    Mtls,
    /// `private_key_jwt` client authentication (RFC 7523 §2.2) with keys published as a JWKS.
    Jwks,
    /// One DPoP key (RFC 9449) for refreshes and API calls.
    SingleDpop,
    /// DPoP-RT: the refresh token bound to a core key, access tokens to per-edge keys.
    SplitDpop,
}

impl Binding {
    pub const ALL: [Binding; 5] = [
        Binding::Bearer,
        Binding::Mtls,
        Binding::Jwks,
        Binding::SingleDpop,
        Binding::SplitDpop,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Binding::Bearer => "bearer",
            Binding::Mtls => "mtls",
            Binding::Jwks => "jwks",
            Binding::SingleDpop => "single-dpop",
            Binding::SplitDpop => "split-dpop",
        }
    }

    /// The binding with this name, if any.
    pub fn from_name(name: &str) -> Option<Binding> {
        Binding::ALL.into_iter().find(|b| b.name() == name)
    }

    /// Every signature the agent makes, per API call, per refresh and per connection, wherever
    /// the key lives.
    pub fn signs(self) -> Signs {
        let (per_call, per_refresh, per_connection) = match self {
            Binding::Bearer => (0.0, 0.0, 0.0),
            // A refresh opens a connection to the token endpoint (client authentication, RFC 8705
            // §2); edges sign once per connection to the resource server.
            Binding::Mtls => (0.0, 1.0, 1.0),
            // One client assertion per token request.
            Binding::Jwks => (0.0, 1.0, 0.0),
            // One proof per call and one per refresh.
            Binding::SingleDpop => (1.0, 1.0, 0.0),
            // A refresh carries a DPoP-RT proof (RT key) and a DPoP proof (the edge's new AT key).
            Binding::SplitDpop => (1.0, 2.0, 0.0),
        };
        Signs {
            per_call,
            per_refresh,
            per_connection,
        }
    }

    /// The signatures made with the core's key storage when that storage is an HSM/TPM. For
    /// single DPoP that is every signature (the key never leaves the device); for split DPoP only
    /// the DPoP-RT proof; for mTLS and JWKS the client key's signatures.
    pub fn device_signs(self) -> Signs {
        match self {
            Binding::SplitDpop => Signs {
                per_call: 0.0,
                per_refresh: 1.0,
                per_connection: 0.0,
            },
            other => other.signs(),
        }
    }

    /// What the device signs, in words.
    pub fn basis(self) -> &'static str {
        match self {
            Binding::Bearer => "no signatures",
            Binding::Mtls => {
                "device signs one TLS CertificateVerify per refresh and per edge connection"
            }
            Binding::Jwks => "device signs one private_key_jwt client assertion per refresh",
            Binding::SingleDpop => "device signs one DPoP proof per API call and one per refresh",
            Binding::SplitDpop => {
                "device signs one DPoP-RT proof per refresh; per-call proofs use edge software keys"
            }
        }
    }
}

impl fmt::Display for Binding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Signatures per unit of traffic.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Signs {
    pub per_call: f64,
    pub per_refresh: f64,
    pub per_connection: f64,
}

impl Signs {
    pub const NONE: Signs = Signs {
        per_call: 0.0,
        per_refresh: 0.0,
        per_connection: 0.0,
    };

    /// Signatures per second for the given traffic.
    pub fn rate(&self, traffic: &Traffic) -> SignRates {
        SignRates {
            calls: self.per_call * traffic.calls_per_s(),
            refreshes: self.per_refresh * traffic.refreshes_per_s(),
            connections: self.per_connection * traffic.connections_per_s(),
        }
    }
}

/// One agent's (or one customer grant's) traffic.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Traffic {
    /// Edge workloads, each with its own access token and key.
    pub edges: f64,
    /// API calls per second per edge.
    pub calls_per_s_per_edge: f64,
    /// Seconds between two refreshes of one edge's access token.
    pub refresh_interval_s: f64,
    /// Seconds an edge keeps one connection to the resource server.
    pub connection_lifetime_s: f64,
}

impl Traffic {
    pub fn calls_per_s(&self) -> f64 {
        self.edges * self.calls_per_s_per_edge
    }

    /// One refresh per edge token per refresh interval.
    pub fn refreshes_per_s(&self) -> f64 {
        self.edges / self.refresh_interval_s
    }

    pub fn connections_per_s(&self) -> f64 {
        self.edges / self.connection_lifetime_s
    }

    /// The same traffic from `n` agents.
    pub fn times(&self, n: f64) -> Traffic {
        Traffic {
            edges: self.edges * n,
            ..*self
        }
    }
}

/// Signatures per second, by what caused them.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct SignRates {
    pub calls: f64,
    pub refreshes: f64,
    pub connections: f64,
}

impl SignRates {
    pub fn total(&self) -> f64 {
        self.calls + self.refreshes + self.connections
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRAFFIC: Traffic = Traffic {
        edges: 4.0,
        calls_per_s_per_edge: 1.0,
        refresh_interval_s: 900.0,
        connection_lifetime_s: 3600.0,
    };

    #[test]
    fn refreshes_count_one_per_edge_token() {
        // 100,000 agents x 4 edges with 15-minute ATs: 444 refreshes/s.
        let fleet = TRAFFIC.times(100_000.0);
        assert!((fleet.refreshes_per_s() - 444.44).abs() < 0.01);
    }

    #[test]
    fn device_signs_are_a_subset_of_all_signs() {
        for b in Binding::ALL {
            let (all, dev) = (b.signs(), b.device_signs());
            assert!(dev.per_call <= all.per_call && dev.per_refresh <= all.per_refresh);
            assert!(dev.per_connection <= all.per_connection, "{b}");
        }
        assert_eq!(
            Binding::Mtls.device_signs().rate(&TRAFFIC).connections,
            4.0 / 3600.0
        );
        assert_eq!(Binding::SplitDpop.device_signs().rate(&TRAFFIC).calls, 0.0);
    }

    #[test]
    fn names_round_trip() {
        for b in Binding::ALL {
            assert_eq!(Binding::from_name(b.name()), Some(b));
        }
        assert_eq!(Binding::from_name("dpop"), None);
    }
}
