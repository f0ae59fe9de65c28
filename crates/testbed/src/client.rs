//! The client side over HTTPS (reqwest on rustls): token refreshes and API calls as the agent,
//! the attacker and the load generator make them. Proofs are built by the protocol core; this
//! module only carries them.

use std::time::Duration;

use reqwest::{Certificate, Identity, StatusCode};
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    #[error("HTTP client setup: {0}")]
    Setup(String),
    #[error("request to {url}: {source}")]
    Transport { url: String, source: reqwest::Error },
    #[error("response from {url} is not the expected JSON: {reason}")]
    Body { url: String, reason: String },
}

/// A successful token response (RFC 6749 §5.1).
#[derive(Clone, Debug, Deserialize)]
pub struct Tokens {
    pub access_token: String,
    pub token_type: String,
    #[serde(default)]
    pub refresh_token: Option<String>,
    pub expires_in: i64,
}

/// A server that refuses the client's certificate in the TLS handshake (e.g. one its CRL
/// revokes) has refused the request: status 0 and error `tls_alert` with the alert. Other
/// alerts and transport failures stay errors (a broken setup must not read as a refusal).
fn refused_handshake<T>(
    url: &str,
    source: reqwest::Error,
) -> Result<Result<T, Refusal>, ClientError> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&source);
    while let Some(e) = cause {
        let tls = e.downcast_ref::<rustls::Error>();
        if let Some(rustls::Error::AlertReceived(
            alert @ (rustls::AlertDescription::CertificateRevoked
            | rustls::AlertDescription::BadCertificate
            | rustls::AlertDescription::CertificateExpired
            | rustls::AlertDescription::CertificateUnknown
            | rustls::AlertDescription::UnknownCA
            | rustls::AlertDescription::CertificateRequired),
        )) = tls
        {
            return Ok(Err(Refusal {
                status: 0,
                error: "tls_alert".into(),
                description: format!("{alert:?}"),
                nonce: None,
            }));
        }
        // `io::Error::source` skips the error it wraps (and the connector wraps rustls's
        // io::Error in another): step into a wrapped error itself.
        cause = match e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    Err(ClientError::Transport {
        url: url.to_owned(),
        source,
    })
}

/// A refusal: status and OAuth error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub error: String,
    pub description: String,
    /// A nonce the server asked for (`DPoP-Nonce` / `DPoP-RT-Nonce`).
    pub nonce: Option<String>,
}

/// How the client authenticates at the token endpoint.
#[derive(Clone, Debug)]
pub enum ClientAuth {
    /// Public client, or mTLS (the certificate is in the HTTP client's identity).
    ClientId(String),
    /// `private_key_jwt`.
    Assertion(String),
}

/// One HTTP client: trust anchor, optional client certificate.
#[derive(Clone, Debug)]
pub struct HttpClient {
    inner: reqwest::Client,
}

impl HttpClient {
    /// `ca_pem`: the testbed CA. `identity_pem`: certificate + key for mTLS. `pooled`: keep
    /// connections open (load); without it every request makes a fresh TLS handshake, so a
    /// certificate revoked by a newly published CRL is refused at once.
    pub fn new(
        ca_pem: &str,
        identity_pem: Option<&str>,
        pooled: bool,
    ) -> Result<Self, ClientError> {
        let setup = |e: reqwest::Error| ClientError::Setup(e.to_string());
        let mut b = reqwest::Client::builder()
            .tls_certs_only([Certificate::from_pem(ca_pem.as_bytes()).map_err(setup)?])
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(20));
        if !pooled {
            b = b.pool_max_idle_per_host(0);
        }
        if let Some(id) = identity_pem {
            // TLS 1.2 for a client with a certificate: there the server's verdict on the
            // certificate comes before the handshake ends, so a revoked one fails the handshake
            // with the server's alert. In TLS 1.3 the client's handshake is over when it sends
            // its certificate, and the server's alert races the request: the connection was
            // seen closed before the request ("connection was not ready", no alert) in about
            // one run in six of the mTLS live test.
            b = b
                .identity(Identity::from_pem(id.as_bytes()).map_err(setup)?)
                .max_tls_version(reqwest::tls::Version::TLS_1_2);
        }
        Ok(Self {
            inner: b.build().map_err(setup)?,
        })
    }

    /// A refresh-token grant request.
    pub async fn refresh(
        &self,
        token_url: &str,
        refresh_token: &str,
        auth: &ClientAuth,
        dpop: Option<&str>,
        dpop_rt: Option<&str>,
    ) -> Result<Result<Tokens, Refusal>, ClientError> {
        let mut form = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ];
        match auth {
            ClientAuth::ClientId(id) => form.push(("client_id", id)),
            ClientAuth::Assertion(a) => {
                form.push((
                    "client_assertion_type",
                    leaklab_protocol::client_auth::CLIENT_ASSERTION_TYPE,
                ));
                form.push(("client_assertion", a));
            }
        }
        let mut req = self.inner.post(token_url).form(&form);
        if let Some(p) = dpop {
            req = req.header("DPoP", p);
        }
        if let Some(p) = dpop_rt {
            req = req.header("DPoP-RT", p);
        }
        match req.send().await {
            Ok(resp) => answer(token_url, resp).await,
            Err(source) => refused_handshake(token_url, source),
        }
    }

    /// An API call with an access token (`DPoP` scheme when a proof is given).
    pub async fn call(
        &self,
        url: &str,
        access_token: &str,
        dpop: Option<&str>,
    ) -> Result<Result<Value, Refusal>, ClientError> {
        let scheme = if dpop.is_some() { "DPoP" } else { "Bearer" };
        let mut req = self
            .inner
            .get(url)
            .header("Authorization", format!("{scheme} {access_token}"));
        if let Some(p) = dpop {
            req = req.header("DPoP", p);
        }
        let resp = match req.send().await {
            Ok(resp) => resp,
            Err(source) => return refused_handshake(url, source),
        };
        answer(url, resp).await
    }

    /// The raw client, for admin JSON calls and tests.
    pub fn raw(&self) -> &reqwest::Client {
        &self.inner
    }
}

async fn answer<T: serde::de::DeserializeOwned>(
    url: &str,
    resp: reqwest::Response,
) -> Result<Result<T, Refusal>, ClientError> {
    let status = resp.status();
    let nonce = ["dpop-nonce", "dpop-rt-nonce"]
        .iter()
        .find_map(|h| resp.headers().get(*h))
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = resp
        .bytes()
        .await
        .map_err(|source| ClientError::Transport {
            url: url.to_owned(),
            source,
        })?;
    if status == StatusCode::OK {
        return serde_json::from_slice(&body)
            .map(Ok)
            .map_err(|e| ClientError::Body {
                url: url.to_owned(),
                reason: e.to_string(),
            });
    }
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let text = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    Ok(Err(Refusal {
        status: status.as_u16(),
        error: text("error"),
        description: text("error_description"),
        nonce,
    }))
}

/// The provider's admin API (loopback, admin bearer token).
#[derive(Clone, Debug)]
pub struct Admin {
    pub http: HttpClient,
    pub as_url: String,
    pub token: String,
}

impl Admin {
    async fn post(&self, path: &str, body: Option<Value>) -> Result<Value, ClientError> {
        let url = format!("{}{path}", self.as_url);
        let mut req = self
            .http
            .inner
            .post(&url)
            .header("Authorization", format!("Bearer {}", self.token));
        if let Some(b) = body {
            req = req
                .header("Content-Type", "application/json")
                .body(b.to_string());
        }
        let resp = req.send().await.map_err(|source| ClientError::Transport {
            url: url.clone(),
            source,
        })?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|source| ClientError::Transport {
                url: url.clone(),
                source,
            })?;
        if !status.is_success() {
            return Err(ClientError::Body {
                url,
                reason: format!("{status}: {}", String::from_utf8_lossy(&bytes)),
            });
        }
        Ok(serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    pub async fn register(&self, client: &crate::store::ClientConfig) -> Result<(), ClientError> {
        let body = serde_json::to_value(client).map_err(|e| ClientError::Setup(e.to_string()))?;
        self.post("/admin/clients", Some(body)).await.map(|_| ())
    }

    /// Provisions a grant; returns (family, refresh token).
    pub async fn provision(
        &self,
        client_id: &str,
        sub: &str,
        binding: &leaklab_protocol::token_endpoint::RtBinding,
    ) -> Result<(i64, String), ClientError> {
        let v = self
            .post(
                "/admin/grants",
                Some(
                    serde_json::json!({"client_id": client_id, "sub": sub, "rt_binding": binding}),
                ),
            )
            .await?;
        match (v["family"].as_i64(), v["refresh_token"].as_str()) {
            (Some(f), Some(rt)) => Ok((f, rt.to_owned())),
            _ => Err(ClientError::Body {
                url: format!("{}/admin/grants", self.as_url),
                reason: v.to_string(),
            }),
        }
    }

    pub async fn revoke_grant(&self, family: i64) -> Result<(), ClientError> {
        self.post(&format!("/admin/grants/{family}/revoke"), None)
            .await
            .map(|_| ())
    }

    pub async fn revoke_all(&self, client_id: &str) -> Result<(), ClientError> {
        self.post(&format!("/admin/clients/{client_id}/revoke-all"), None)
            .await
            .map(|_| ())
    }

    pub async fn expire_jwks(&self, client_id: &str) -> Result<(), ClientError> {
        self.post(
            &format!("/admin/clients/{client_id}/jwks-cache/expire"),
            None,
        )
        .await
        .map(|_| ())
    }
}
