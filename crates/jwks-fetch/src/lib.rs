//! The I/O edge that fetches a client's JWKS and feeds the sans-IO
//! [`JwksCache`](leaklab_protocol::client_auth::JwksCache).
//!
//! **Stack.** `reqwest` (async, tokio, HTTP/1.1 only) over rustls with the aws-lc-rs crypto
//! provider, the stack the live testbed uses too. Calls need a tokio runtime with I/O
//! and time enabled.
//!
//! **Policy.**
//! * `https` only. Trust anchors are explicit: a PEM bundle (e.g. a private CA) and, optionally,
//!   the system roots (through `rustls-platform-verifier`; no bundled root list). Plain `http` is
//!   accepted only with [`FetchConfig::allow_plain_http`] and only to a loopback host, for tests.
//! * Only `200` is a JWKS. Redirects are not followed: a JWKS URL is registered configuration, and
//!   following a redirect would let the host move the trust anchor silently.
//! * Bounded: connect (TCP + TLS) and read timeouts, a total deadline for the whole fetch, a
//!   body cap (64 KiB by default; a larger `Content-Length` is refused before the body is read).
//!   Header limits are hyper's (100 header lines, a ~400 KiB head). Every failure is a typed
//!   [`FetchError`]; nothing the server sends can panic.
//! * No connection pooling: a JWKS is fetched once per max-age, long after an idle connection
//!   would have been closed; each fetch starts a fresh TCP + TLS connection. Proxies from the
//!   environment are ignored (a JWKS fetch must reach the registered host itself).
//! * Freshness comes from `Cache-Control` only (RFC 9111 §5.2,
//!   <https://www.rfc-editor.org/rfc/rfc9111#section-5.2>): `max-age=N` gives N seconds;
//!   `no-store` or `no-cache` give 0; an invalid `max-age` is treated as stale (0, §4.2.1); a
//!   repeated `max-age` uses the first one; values saturate at 2^31 (§1.2.2). `Expires` and
//!   `s-maxage` are ignored. [`JwksCache`] keeps one operator-chosen max-age, so the header's
//!   value is returned in [`FetchedJwks::max_age_secs`] for the caller to adopt or clamp.
//! * The body must be a JWKS document (RFC 7517 §5) as
//!   [`parse_jwks`](leaklab_protocol::client_auth::parse_jwks) accepts it; `Content-Type` is not
//!   checked (publishers use `application/json` and `application/jwk-set+json` alike).

use std::error::Error as StdError;
use std::net::IpAddr;
use std::time::Duration;

use leaklab_protocol::client_auth::{parse_jwks, JwksCache, JwksError, JwksKey};
use reqwest::header::{HeaderValue, ACCEPT, CACHE_CONTROL, LOCATION};
use reqwest::{redirect, Certificate, Client, Url};

/// Trust anchors, limits and timeouts of a [`JwksFetcher`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchConfig {
    /// TCP connect plus TLS handshake.
    pub connect_timeout: Duration,
    /// Longest wait for the response head, counted from the start of the request (connect
    /// included: reqwest's semantics), then for each piece of the body (a silent server).
    pub read_timeout: Duration,
    /// Whole fetch, body included (a server that trickles bytes).
    pub total_timeout: Duration,
    /// Largest body accepted.
    pub max_body_bytes: usize,
    /// PEM bundle of extra trust anchors (one or more `CERTIFICATE` blocks), e.g. a private CA.
    pub root_certs_pem: Vec<u8>,
    /// Also trust the operating system's roots.
    pub system_roots: bool,
    /// Accept `http://` URLs to loopback hosts (127.0.0.0/8, `::1`, `localhost`); for tests.
    pub allow_plain_http: bool,
}

impl Default for FetchConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(2),
            read_timeout: Duration::from_secs(3),
            total_timeout: Duration::from_secs(5),
            max_body_bytes: 64 * 1024,
            root_certs_pem: Vec::new(),
            system_roots: true,
            allow_plain_http: false,
        }
    }
}

/// Which wait ran out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimeoutPhase {
    /// [`FetchConfig::connect_timeout`] (TCP or TLS handshake).
    Connect,
    /// [`FetchConfig::read_timeout`].
    Read,
    /// [`FetchConfig::total_timeout`].
    Total,
}

impl std::fmt::Display for TimeoutPhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TimeoutPhase::Connect => "connect",
            TimeoutPhase::Read => "read",
            TimeoutPhase::Total => "total",
        })
    }
}

/// Why a fetcher could not be built or a JWKS fetch failed. `detail` strings carry the
/// underlying error chain (reqwest, hyper, rustls) as text, so this type does not tie callers to
/// those crates' versions.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    #[error("invalid JWKS trust anchors: {0}")]
    TrustAnchors(String),
    #[error("cannot build the JWKS HTTP client: {0}")]
    Client(String),
    #[error("bad JWKS URL: {0}")]
    BadUrl(String),
    #[error("JWKS URL must be https (plain http only with allow_plain_http, to a loopback host)")]
    PlainHttpRefused,
    #[error("cannot connect to the JWKS server: {detail}")]
    Connect { detail: String },
    #[error("TLS with the JWKS server failed: {detail}")]
    Tls { detail: String },
    #[error("JWKS fetch timed out ({0})")]
    Timeout(TimeoutPhase),
    #[error("JWKS server answered HTTP {code}, not 200")]
    Status { code: u16 },
    #[error(
        "JWKS server redirected (HTTP {code}) to {}; redirects are refused",
        location.as_deref().unwrap_or("no Location")
    )]
    Redirected { code: u16, location: Option<String> },
    #[error("JWKS response body exceeds {limit} bytes")]
    Oversized { limit: usize },
    #[error("JWKS HTTP exchange failed: {detail}")]
    Http { detail: String },
    #[error("JWKS body is not UTF-8")]
    NotUtf8,
    // The message carries the inner error; no `#[from]` source, so a chain prints it once.
    #[error("JWKS body: {0}")]
    Jwks(JwksError),
}

/// A fetched and validated JWKS document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchedJwks {
    /// The body as served (what [`JwksCache::store`] takes).
    pub document: String,
    /// Its usable keys.
    pub keys: Vec<JwksKey>,
    /// Freshness from `Cache-Control` (see the module doc); `None` when the response has none.
    pub max_age_secs: Option<i64>,
}

/// A configured JWKS client; cheap to share by reference across tasks.
#[derive(Clone, Debug)]
pub struct JwksFetcher {
    client: Client,
    total_timeout: Duration,
    max_body_bytes: usize,
    allow_plain_http: bool,
}

impl JwksFetcher {
    /// Builds the HTTP client. Fails on an unreadable PEM bundle, or when no trust anchor is
    /// configured and plain http is not allowed either (every fetch would fail).
    pub fn new(cfg: &FetchConfig) -> Result<JwksFetcher, FetchError> {
        let roots = if cfg.root_certs_pem.is_empty() {
            Vec::new()
        } else {
            let roots = Certificate::from_pem_bundle(&cfg.root_certs_pem)
                .map_err(|e| FetchError::TrustAnchors(chain(&e)))?;
            if roots.is_empty() {
                return Err(FetchError::TrustAnchors(
                    "root_certs_pem holds no CERTIFICATE block".into(),
                ));
            }
            roots
        };
        if roots.is_empty() && !cfg.system_roots && !cfg.allow_plain_http {
            return Err(FetchError::TrustAnchors(
                "no trust anchor: set root_certs_pem or system_roots".into(),
            ));
        }
        let builder = Self::builder(cfg);
        let builder = if cfg.system_roots {
            builder.tls_certs_merge(roots)
        } else {
            builder.tls_certs_only(roots)
        };
        Self::finish(cfg, builder)
    }

    /// Like [`JwksFetcher::new`] but with a rustls configuration of the caller's, which decides
    /// trust alone ([`FetchConfig::root_certs_pem`] and [`FetchConfig::system_roots`] are not
    /// used): e.g. a verifier that checks the host certificate against a CRL, or a time
    /// provider other than the system clock (rustls `ClientConfig::builder_with_details`).
    pub fn with_tls(
        cfg: &FetchConfig,
        tls: rustls::ClientConfig,
    ) -> Result<JwksFetcher, FetchError> {
        Self::finish(cfg, Self::builder(cfg).tls_backend_preconfigured(tls))
    }

    fn builder(cfg: &FetchConfig) -> reqwest::ClientBuilder {
        Client::builder()
            .user_agent("leaklab-jwks-fetch")
            .redirect(redirect::Policy::none())
            .no_proxy()
            .https_only(!cfg.allow_plain_http)
            .http1_only()
            .pool_max_idle_per_host(0)
            .connect_timeout(nonzero(cfg.connect_timeout))
            .read_timeout(nonzero(cfg.read_timeout))
    }

    fn finish(
        cfg: &FetchConfig,
        builder: reqwest::ClientBuilder,
    ) -> Result<JwksFetcher, FetchError> {
        let client = builder.build().map_err(|e| FetchError::Client(chain(&e)))?;
        Ok(JwksFetcher {
            client,
            total_timeout: nonzero(cfg.total_timeout),
            max_body_bytes: cfg.max_body_bytes,
            allow_plain_http: cfg.allow_plain_http,
        })
    }

    /// Fetches and validates the JWKS at `url`.
    pub async fn fetch(&self, url: &str) -> Result<FetchedJwks, FetchError> {
        let url = self.check_url(url)?;
        tokio::time::timeout(self.total_timeout, self.fetch_checked(url))
            .await
            .unwrap_or(Err(FetchError::Timeout(TimeoutPhase::Total)))
    }

    /// Fetches `url` into `cache` for `client_id` if [`JwksCache::refetch_due`] at `now`; returns
    /// the fetched document, or `None` when the cached copy is still fresh (no request is made).
    /// On error the old cached copy is kept (it stays unusable once aged out: the cache fails
    /// closed).
    pub async fn refresh_if_due(
        &self,
        cache: &mut JwksCache,
        client_id: &str,
        url: &str,
        now: i64,
    ) -> Result<Option<FetchedJwks>, FetchError> {
        if !cache.refetch_due(client_id, now) {
            return Ok(None);
        }
        let fetched = self.fetch(url).await?;
        cache
            .store(client_id, &fetched.document, now)
            .map_err(FetchError::Jwks)?;
        Ok(Some(fetched))
    }

    /// Scheme and host policy, checked before any I/O.
    fn check_url(&self, url: &str) -> Result<Url, FetchError> {
        let parsed = Url::parse(url).map_err(|e| FetchError::BadUrl(e.to_string()))?;
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(FetchError::BadUrl("userinfo is not supported".into()));
        }
        match parsed.scheme() {
            "https" => {}
            "http" if self.allow_plain_http && is_loopback(&parsed) => {}
            "http" => return Err(FetchError::PlainHttpRefused),
            other => return Err(FetchError::BadUrl(format!("scheme {other:?} is not https"))),
        }
        if parsed.host().is_none() {
            return Err(FetchError::BadUrl("no host".into()));
        }
        Ok(parsed)
    }

    async fn fetch_checked(&self, url: Url) -> Result<FetchedJwks, FetchError> {
        let mut resp = self
            .client
            .get(url)
            .header(
                ACCEPT,
                HeaderValue::from_static("application/jwk-set+json, application/json"),
            )
            .send()
            .await
            .map_err(classify)?;
        let status = resp.status();
        if status.is_redirection() {
            return Err(FetchError::Redirected {
                code: status.as_u16(),
                location: resp.headers().get(LOCATION).map(printable),
            });
        }
        if status.as_u16() != 200 {
            return Err(FetchError::Status {
                code: status.as_u16(),
            });
        }
        let limit = self.max_body_bytes;
        let declared = resp.content_length().unwrap_or(0);
        if usize::try_from(declared).map_or(true, |n| n > limit) {
            return Err(FetchError::Oversized { limit });
        }
        let max_age_secs = max_age(resp.headers().get_all(CACHE_CONTROL));
        let mut body = Vec::with_capacity(usize::try_from(declared).unwrap_or(0));
        // Ends at the end of the body, at the cap, or at the read/total timeouts.
        while let Some(chunk) = resp.chunk().await.map_err(classify)? {
            if body.len().saturating_add(chunk.len()) > limit {
                return Err(FetchError::Oversized { limit });
            }
            body.extend_from_slice(&chunk);
        }
        let document = String::from_utf8(body).map_err(|_| FetchError::NotUtf8)?;
        let keys = parse_jwks(&document).map_err(FetchError::Jwks)?;
        Ok(FetchedJwks {
            document,
            keys,
            max_age_secs,
        })
    }
}

fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    }
}

/// A zero timeout would fire at once; 1 ms is the smallest useful wait.
fn nonzero(d: Duration) -> Duration {
    d.max(Duration::from_millis(1))
}

/// Maps a reqwest error to a [`FetchError`] by what went wrong, not by where it surfaced.
fn classify(e: reqwest::Error) -> FetchError {
    if let Some(tls) = rustls_cause(&e) {
        return FetchError::Tls {
            detail: tls.to_string(),
        };
    }
    if e.is_timeout() {
        return FetchError::Timeout(if e.is_connect() {
            TimeoutPhase::Connect
        } else {
            TimeoutPhase::Read
        });
    }
    if e.is_connect() {
        return FetchError::Connect { detail: chain(&e) };
    }
    FetchError::Http { detail: chain(&e) }
}

/// The rustls error in `e`'s source chain, if any. `io::Error` hides the error it wraps from
/// `source()`, so wrapped errors are unpacked with `get_ref`.
fn rustls_cause<'a>(e: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    let mut next: Option<&(dyn StdError + 'static)> = Some(e);
    // The chain is finite, but bound the walk anyway.
    for _ in 0..16 {
        let cur = next?;
        if let Some(r) = cur.downcast_ref::<rustls::Error>() {
            return Some(r);
        }
        if let Some(inner) = cur
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            if let Some(r) = inner.downcast_ref::<rustls::Error>() {
                return Some(r);
            }
            next = Some(inner);
            continue;
        }
        next = cur.source();
    }
    None
}

/// `e` and its sources, joined with ": " (repeats dropped), at most 512 bytes.
fn chain(e: &(dyn StdError + 'static)) -> String {
    let mut out = String::new();
    let mut next: Option<&(dyn StdError + 'static)> = Some(e);
    for _ in 0..16 {
        let Some(cur) = next else { break };
        let text = cur.to_string();
        if !out.contains(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
        next = cur.source();
    }
    if out.len() > 512 {
        let cut = (0..=512)
            .rev()
            .find(|&i| out.is_char_boundary(i))
            .unwrap_or(0);
        out.truncate(cut);
        out.push('…');
    }
    out
}

/// A header value for an error message: visible ASCII kept, the rest replaced, 256 bytes at most.
fn printable(v: &HeaderValue) -> String {
    v.as_bytes()
        .iter()
        .take(256)
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '?'
            }
        })
        .collect()
}

/// Freshness from all `Cache-Control` field lines. A value that is not visible ASCII is read as
/// `no-store`: when the publisher's intent is unreadable, the shorter lag is the safe guess.
fn max_age<'a>(values: impl IntoIterator<Item = &'a HeaderValue>) -> Option<i64> {
    let mut combined = String::new();
    for v in values {
        let Ok(text) = v.to_str() else {
            return Some(0);
        };
        if !combined.is_empty() {
            combined.push(',');
        }
        combined.push_str(text);
    }
    parse_cache_control(&combined)
}

/// RFC 9111 §1.2.2: delta-seconds too large to represent saturate at 2^31.
const MAX_DELTA_SECONDS: i64 = 1 << 31;

/// Freshness lifetime from the combined `Cache-Control` value (see the module doc).
fn parse_cache_control(value: &str) -> Option<i64> {
    let mut max_age = None;
    let mut no_reuse = false;
    for directive in value.split(',') {
        let directive = directive.trim();
        let (name, arg) = match directive.split_once('=') {
            Some((n, a)) => (n.trim(), Some(a.trim())),
            None => (directive, None),
        };
        if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
            no_reuse = true;
        } else if name.eq_ignore_ascii_case("max-age") && max_age.is_none() {
            let arg = arg.unwrap_or("");
            let arg = arg
                .strip_prefix('"')
                .and_then(|a| a.strip_suffix('"'))
                .unwrap_or(arg);
            let secs = if !arg.is_empty() && arg.bytes().all(|b| b.is_ascii_digit()) {
                arg.parse::<i64>()
                    .unwrap_or(MAX_DELTA_SECONDS)
                    .min(MAX_DELTA_SECONDS)
            } else {
                0 // invalid: stale (RFC 9111 §4.2.1)
            };
            max_age = Some(secs);
        }
    }
    if no_reuse {
        Some(0)
    } else {
        max_age
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control() {
        assert_eq!(parse_cache_control(""), None);
        assert_eq!(parse_cache_control("public, max-age=600"), Some(600));
        assert_eq!(parse_cache_control("MAX-AGE=\"30\""), Some(30));
        assert_eq!(parse_cache_control("max-age=600, no-store"), Some(0));
        assert_eq!(parse_cache_control("no-cache=\"set-cookie\""), Some(0));
        assert_eq!(parse_cache_control("max-age=abc"), Some(0));
        assert_eq!(parse_cache_control("max-age=-5"), Some(0));
        assert_eq!(parse_cache_control("max-age=10,max-age=99"), Some(10));
        assert_eq!(
            parse_cache_control("max-age=99999999999999999999999"),
            Some(MAX_DELTA_SECONDS)
        );
    }

    #[test]
    fn cache_control_across_field_lines() {
        let lines = [
            HeaderValue::from_static("public"),
            HeaderValue::from_static("max-age=60"),
        ];
        assert_eq!(max_age(&lines), Some(60));
        let unreadable = [HeaderValue::from_bytes(b"max-age=60, \xff").expect("obs-text")];
        assert_eq!(max_age(&unreadable), Some(0));
        assert_eq!(max_age(&[]), None);
    }

    /// Only the URL policy is under test: a client without trust anchors will do.
    fn fetcher(allow_plain_http: bool) -> JwksFetcher {
        JwksFetcher {
            client: Client::builder()
                .tls_certs_only(Vec::new())
                .build()
                .expect("client"),
            total_timeout: Duration::from_secs(1),
            max_body_bytes: 1024,
            allow_plain_http,
        }
    }

    #[test]
    fn url_policy() {
        let strict = fetcher(false);
        let loose = fetcher(true);
        assert!(strict.check_url("https://vendor.example/jwks").is_ok());
        assert!(loose.check_url("http://127.0.0.1:8080/jwks").is_ok());
        assert!(loose.check_url("http://127.9.9.9/jwks").is_ok());
        assert!(loose.check_url("http://[::1]:80/jwks").is_ok());
        assert!(loose.check_url("http://LOCALHOST/jwks").is_ok());
        for (f, url) in [
            (&strict, "http://127.0.0.1/jwks"),
            (&loose, "http://10.0.0.1/jwks"),
            (&loose, "http://vendor.example/jwks"),
            (&loose, "http://localhost.vendor.example/jwks"),
        ] {
            assert_eq!(f.check_url(url), Err(FetchError::PlainHttpRefused), "{url}");
        }
        for url in [
            "file:///etc/passwd",
            "ftp://vendor.example/jwks",
            "https://u:p@vendor.example/jwks",
            "https://u@vendor.example/jwks",
            "nonsense",
            "https://",
            "https://h:65536/",
        ] {
            assert!(
                matches!(loose.check_url(url), Err(FetchError::BadUrl(_))),
                "{url}"
            );
        }
    }

    #[test]
    fn config_errors() {
        let none = FetchConfig {
            system_roots: false,
            ..FetchConfig::default()
        };
        assert!(matches!(
            JwksFetcher::new(&none),
            Err(FetchError::TrustAnchors(_))
        ));
        for pem in [&b"not a pem"[..], b"-----BEGIN CERTIFICATE-----\n!!\n"] {
            let bad = FetchConfig {
                root_certs_pem: pem.to_vec(),
                ..none.clone()
            };
            assert!(
                matches!(JwksFetcher::new(&bad), Err(FetchError::TrustAnchors(_))),
                "{pem:?}"
            );
        }
    }
}
