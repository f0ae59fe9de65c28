//! The I/O edge that fetches a client's JWKS over HTTP and feeds the sans-IO
//! [`JwksCache`](leaklab_protocol::client_auth::JwksCache).
//!
//! **Scope.** A small blocking HTTP/1.1 client over [`std::net::TcpStream`] for `http://` URLs
//! only. `https` is out of scope here: production deployments fetch JWKS documents over TLS with a
//! full HTTP stack. This edge exists so that the cache's strategy (a removed key verifies until
//! the cached copy ages out; see [`leaklab_protocol::client_auth`]) is exercised against a real
//! server on 127.0.0.1 rather than against hand-fed strings.
//!
//! **Design choices.**
//! * Every input from the server is bounded: a total deadline plus per-read, write and connect
//!   timeouts; caps on the header section, on each header line, on the number of header lines
//!   and on the body (64 KiB by default; with chunked framing the cap applies to the bytes on
//!   the wire). Every failure is a typed [`FetchError`]; nothing the server sends can panic.
//! * One request per connection (`Connection: close`). Bodies are framed by `Content-Length`,
//!   by `Transfer-Encoding: chunked`, or by the end of the connection
//!   (RFC 9112 §6.3, <https://www.rfc-editor.org/rfc/rfc9112#section-6.3>). A response with both
//!   `Transfer-Encoding` and `Content-Length` is framed by `Transfer-Encoding`, as §6.3 says.
//! * Only `200` is a JWKS. Redirects are not followed: a JWKS URL is registered configuration, and
//!   following a redirect would let the host move the trust anchor silently.
//! * Freshness comes from `Cache-Control` only (RFC 9111 §5.2,
//!   <https://www.rfc-editor.org/rfc/rfc9111#section-5.2>): `max-age=N` gives N seconds;
//!   `no-store` or `no-cache` give 0; an invalid `max-age` is treated as stale (0, §4.2.1); a
//!   repeated `max-age` uses the first one; values saturate at 2^31 (§1.2.2). `Expires` and
//!   `s-maxage` are ignored. [`JwksCache`] keeps one operator-chosen max-age, so the header's
//!   value is returned in [`FetchedJwks::max_age_secs`] for the caller to adopt or clamp.
//! * The body must be a JWKS document (RFC 7517 §5) as
//!   [`parse_jwks`](leaklab_protocol::client_auth::parse_jwks) accepts it; `Content-Type` is not
//!   checked (publishers use `application/json` and `application/jwk-set+json` alike).
//! * Host names are resolved with the system resolver, which has no timeout of its own; tests and
//!   the simulator use IP literals.

use std::io::{self, Read, Write};
use std::net::{Ipv6Addr, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use leaklab_protocol::client_auth::{parse_jwks, JwksCache, JwksError, JwksKey};

/// Limits and timeouts of one fetch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchConfig {
    /// Per address tried.
    pub connect_timeout: Duration,
    /// Per `read` call (a silent server).
    pub read_timeout: Duration,
    pub write_timeout: Duration,
    /// Whole fetch from the first connect attempt (a server that trickles bytes).
    pub total_timeout: Duration,
    /// Largest body accepted (decoded; wire bytes for chunked framing).
    pub max_body_bytes: usize,
    /// Largest header section (status line and header lines) accepted.
    pub max_header_bytes: usize,
    /// Longest single header line accepted.
    pub max_header_line_bytes: usize,
    /// Most header lines accepted (status line excluded).
    pub max_headers: usize,
}

impl Default for FetchConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(2),
            read_timeout: Duration::from_secs(2),
            write_timeout: Duration::from_secs(2),
            total_timeout: Duration::from_secs(5),
            max_body_bytes: 64 * 1024,
            max_header_bytes: 16 * 1024,
            max_header_line_bytes: 4 * 1024,
            max_headers: 64,
        }
    }
}

/// Which wait ran out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeoutPhase {
    Connect,
    Write,
    Read,
    /// [`FetchConfig::total_timeout`].
    Total,
}

impl std::fmt::Display for TimeoutPhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TimeoutPhase::Connect => "connect",
            TimeoutPhase::Write => "write",
            TimeoutPhase::Read => "read",
            TimeoutPhase::Total => "total",
        })
    }
}

/// Why a JWKS fetch failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("bad JWKS URL: {0}")]
    BadUrl(&'static str),
    #[error("cannot resolve JWKS host {host:?}: {source}")]
    Resolve { host: String, source: io::Error },
    #[error("JWKS host {host:?} resolved to no address")]
    NoAddress { host: String },
    #[error("cannot connect to JWKS server {addr}: {source}")]
    Connect { addr: SocketAddr, source: io::Error },
    #[error("JWKS fetch timed out ({0})")]
    Timeout(TimeoutPhase),
    #[error("JWKS fetch I/O error: {0}")]
    Io(io::Error),
    #[error("JWKS server closed the connection before sending a response")]
    EmptyResponse,
    #[error("JWKS server sent a malformed status line")]
    MalformedStatusLine,
    #[error("JWKS server answered HTTP {code} {reason:?}, not 200")]
    Status { code: u16, reason: String },
    #[error("JWKS response header section exceeds {0} bytes or is incomplete")]
    HeadersTooLarge(usize),
    #[error("JWKS response header line {line} exceeds {limit} bytes")]
    HeaderLineTooLong { line: usize, limit: usize },
    #[error("JWKS response has more than {0} header lines")]
    TooManyHeaders(usize),
    #[error("JWKS response header line {0} is malformed")]
    MalformedHeader(usize),
    #[error("JWKS response has an invalid Content-Length")]
    BadContentLength,
    #[error("JWKS response uses an unsupported Transfer-Encoding")]
    UnsupportedTransferEncoding,
    #[error("JWKS response has malformed chunked framing")]
    MalformedChunk,
    #[error("JWKS response body exceeds {0} bytes")]
    Oversized(usize),
    #[error("JWKS response ended early ({got} of {expected} body bytes)")]
    Truncated { expected: usize, got: usize },
    #[error("JWKS response ended inside its header section")]
    IncompleteHead,
    #[error("JWKS response ended inside its chunked body")]
    IncompleteChunked,
    #[error("JWKS body is not UTF-8")]
    NotUtf8,
    #[error("JWKS body: {0}")]
    Jwks(#[from] JwksError),
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

/// Fetches and validates the JWKS at `url` (`http://host[:port][/path][?query]`).
pub fn fetch_jwks(url: &str, cfg: &FetchConfig) -> Result<FetchedJwks, FetchError> {
    let target = HttpUrl::parse(url)?;
    let start = Instant::now();
    let deadline = start
        .checked_add(cfg.total_timeout)
        .or_else(|| start.checked_add(Duration::from_secs(3600)))
        .unwrap_or(start);
    let mut conn = Conn::open(&target, cfg, deadline)?;
    conn.send(target.request().as_bytes())?;
    let (head, rest) = conn.read_head(cfg)?;
    let head = parse_head(&head, cfg)?;
    if head.status != 200 {
        return Err(FetchError::Status {
            code: head.status,
            reason: head.reason,
        });
    }
    let body = match head.framing {
        Framing::Length(n) => conn.read_exact_body(rest, n)?,
        Framing::Eof => conn.read_to_eof(rest, cfg.max_body_bytes)?,
        Framing::Chunked => conn.read_chunked(rest, cfg.max_body_bytes)?,
    };
    let document = String::from_utf8(body).map_err(|_| FetchError::NotUtf8)?;
    let keys = parse_jwks(&document)?;
    Ok(FetchedJwks {
        document,
        keys,
        max_age_secs: head.max_age_secs,
    })
}

/// Fetches `url` into `cache` for `client_id` if [`JwksCache::refetch_due`] at `now`; returns the
/// fetched document, or `None` when the cached copy is still fresh (no request is made). On error
/// the old cached copy is kept (it stays unusable once aged out: the cache fails closed).
pub fn refresh_if_due(
    cache: &mut JwksCache,
    client_id: &str,
    url: &str,
    cfg: &FetchConfig,
    now: i64,
) -> Result<Option<FetchedJwks>, FetchError> {
    if !cache.refetch_due(client_id, now) {
        return Ok(None);
    }
    let fetched = fetch_jwks(url, cfg)?;
    cache.store(client_id, &fetched.document, now)?;
    Ok(Some(fetched))
}

/// A parsed `http://` URL.
#[derive(Clone, Debug, PartialEq, Eq)]
struct HttpUrl {
    /// Without IPv6 brackets.
    host: String,
    ipv6: bool,
    port: u16,
    /// Path and query, starting with `/`.
    target: String,
}

const MAX_URL_BYTES: usize = 2048;

impl HttpUrl {
    fn parse(url: &str) -> Result<HttpUrl, FetchError> {
        let bad = FetchError::BadUrl;
        if url.len() > MAX_URL_BYTES {
            return Err(bad("longer than 2048 bytes"));
        }
        let (scheme, rest) = url.split_once("://").ok_or(bad("no scheme"))?;
        if scheme.eq_ignore_ascii_case("https") {
            return Err(bad(
                "https is out of scope for this fetcher (production fetches JWKS over TLS)",
            ));
        }
        if !scheme.eq_ignore_ascii_case("http") {
            return Err(bad("scheme is not http"));
        }
        let rest = rest.split('#').next().unwrap_or("");
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, target) = rest.split_at(split);
        if authority.contains('@') {
            return Err(bad("userinfo is not supported"));
        }
        let (host, ipv6, port) = if let Some(inner) = authority.strip_prefix('[') {
            let (h, after) = inner.split_once(']').ok_or(bad("unclosed IPv6 bracket"))?;
            h.parse::<Ipv6Addr>()
                .map_err(|_| bad("invalid IPv6 address"))?;
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or(bad("junk after IPv6 address"))?),
            };
            (h, true, port)
        } else {
            match authority.split_once(':') {
                Some((h, p)) => (h, false, Some(p)),
                None => (authority, false, None),
            }
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        if !ipv6
            && !host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
        {
            return Err(bad("host has characters outside [A-Za-z0-9._-]"));
        }
        let port = match port {
            None => 80,
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                match p.parse::<u16>() {
                    Ok(0) | Err(_) => return Err(bad("port out of range")),
                    Ok(n) => n,
                }
            }
            Some(_) => return Err(bad("port is not a number")),
        };
        if !target.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(bad(
                "path has spaces, controls or non-ASCII (percent-encode them)",
            ));
        }
        let target = if target.starts_with('/') {
            target.to_owned()
        } else {
            format!("/{target}")
        };
        Ok(HttpUrl {
            host: host.to_owned(),
            ipv6,
            port,
            target,
        })
    }

    fn host_header(&self) -> String {
        let host = if self.ipv6 {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == 80 {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }

    fn request(&self) -> String {
        format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nAccept: application/jwk-set+json, application/json\r\n\
             User-Agent: leaklab-jwks-fetch\r\nConnection: close\r\n\r\n",
            self.target,
            self.host_header()
        )
    }
}

/// One connection with the fetch's deadline.
struct Conn {
    stream: TcpStream,
    deadline: Instant,
    read_timeout: Duration,
}

const READ_CHUNK: usize = 4096;

impl Conn {
    fn open(url: &HttpUrl, cfg: &FetchConfig, deadline: Instant) -> Result<Conn, FetchError> {
        let addrs: Vec<SocketAddr> = (url.host.as_str(), url.port)
            .to_socket_addrs()
            .map_err(|source| FetchError::Resolve {
                host: url.host.clone(),
                source,
            })?
            .collect();
        let mut last = None;
        for addr in &addrs {
            let wait = remaining(deadline)?.min(cfg.connect_timeout);
            match TcpStream::connect_timeout(addr, wait) {
                Ok(stream) => {
                    stream
                        .set_write_timeout(Some(nonzero(cfg.write_timeout)))
                        .map_err(FetchError::Io)?;
                    return Ok(Conn {
                        stream,
                        deadline,
                        read_timeout: nonzero(cfg.read_timeout),
                    });
                }
                Err(e) if is_timeout(&e) => last = Some(FetchError::Timeout(TimeoutPhase::Connect)),
                Err(source) => {
                    last = Some(FetchError::Connect {
                        addr: *addr,
                        source,
                    })
                }
            }
        }
        Err(last.unwrap_or(FetchError::NoAddress {
            host: url.host.clone(),
        }))
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), FetchError> {
        remaining(self.deadline)?;
        self.stream.write_all(bytes).map_err(|e| {
            if is_timeout(&e) {
                FetchError::Timeout(TimeoutPhase::Write)
            } else {
                FetchError::Io(e)
            }
        })
    }

    /// Reads up to `READ_CHUNK` bytes and appends them; returns 0 at EOF.
    fn read_more(&mut self, buf: &mut Vec<u8>) -> Result<usize, FetchError> {
        let left = remaining(self.deadline)?;
        let (wait, phase) = if left < self.read_timeout {
            (left, TimeoutPhase::Total)
        } else {
            (self.read_timeout, TimeoutPhase::Read)
        };
        self.stream
            .set_read_timeout(Some(wait))
            .map_err(FetchError::Io)?;
        let mut chunk = [0u8; READ_CHUNK];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(n) => {
                    buf.extend_from_slice(chunk.get(..n).unwrap_or(&[]));
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if is_timeout(&e) => return Err(FetchError::Timeout(phase)),
                Err(e) => return Err(FetchError::Io(e)),
            }
        }
    }

    /// Reads up to and including the empty line ending the header section; returns the header
    /// section (without the empty line) and the bytes read past it.
    fn read_head(&mut self, cfg: &FetchConfig) -> Result<(Vec<u8>, Vec<u8>), FetchError> {
        let mut buf = Vec::new();
        loop {
            if let Some((head_end, body_start)) = find_head_end(&buf) {
                if head_end > cfg.max_header_bytes {
                    return Err(FetchError::HeadersTooLarge(cfg.max_header_bytes));
                }
                let rest = buf.get(body_start..).unwrap_or(&[]).to_vec();
                buf.truncate(head_end);
                return Ok((buf, rest));
            }
            if buf.len() > cfg.max_header_bytes {
                return Err(FetchError::HeadersTooLarge(cfg.max_header_bytes));
            }
            if self.read_more(&mut buf)? == 0 {
                return Err(if buf.is_empty() {
                    FetchError::EmptyResponse
                } else {
                    FetchError::IncompleteHead
                });
            }
        }
    }

    fn read_exact_body(&mut self, mut body: Vec<u8>, len: usize) -> Result<Vec<u8>, FetchError> {
        body.truncate(len);
        while body.len() < len {
            if self.read_more(&mut body)? == 0 {
                return Err(FetchError::Truncated {
                    expected: len,
                    got: body.len(),
                });
            }
        }
        body.truncate(len);
        Ok(body)
    }

    fn read_to_eof(&mut self, mut body: Vec<u8>, max: usize) -> Result<Vec<u8>, FetchError> {
        loop {
            if body.len() > max {
                return Err(FetchError::Oversized(max));
            }
            if self.read_more(&mut body)? == 0 {
                return Ok(body);
            }
        }
    }

    fn read_chunked(&mut self, mut wire: Vec<u8>, max: usize) -> Result<Vec<u8>, FetchError> {
        loop {
            if let Some(body) = decode_chunked(&wire, max)? {
                return Ok(body);
            }
            if wire.len() > max {
                return Err(FetchError::Oversized(max));
            }
            if self.read_more(&mut wire)? == 0 {
                return Err(FetchError::IncompleteChunked);
            }
        }
    }
}

fn remaining(deadline: Instant) -> Result<Duration, FetchError> {
    match deadline.checked_duration_since(Instant::now()) {
        Some(d) if !d.is_zero() => Ok(d),
        _ => Err(FetchError::Timeout(TimeoutPhase::Total)),
    }
}

/// Socket timeouts of zero are rejected by the OS interface; use 1 ms instead.
fn nonzero(d: Duration) -> Duration {
    d.max(Duration::from_millis(1))
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Where the header section ends: (end of the last header line, start of the body). Lines end
/// in CRLF or, leniently (RFC 9112 §2.2), a bare LF.
fn find_head_end(buf: &[u8]) -> Option<(usize, usize)> {
    let mut i = 0;
    while i < buf.len() {
        if buf.get(i) == Some(&b'\n') {
            match buf.get(i + 1) {
                Some(b'\n') => return Some((i + 1, i + 2)),
                Some(b'\r') if buf.get(i + 2) == Some(&b'\n') => return Some((i + 1, i + 3)),
                _ => {}
            }
        }
        i += 1;
    }
    None
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    Length(usize),
    Chunked,
    Eof,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Head {
    status: u16,
    reason: String,
    framing: Framing,
    max_age_secs: Option<i64>,
}

/// RFC 9110 §5.6.2 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn parse_head(head: &[u8], cfg: &FetchConfig) -> Result<Head, FetchError> {
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let (status, reason) = parse_status_line(lines.next().unwrap_or(&[]))?;
    let mut content_length: Option<usize> = None;
    let mut transfer_encoding: Option<String> = None;
    let mut cache_control = String::new();
    for (i, line) in lines.enumerate() {
        let n = i + 1;
        if line.is_empty() {
            // The trailing LF of the last header line leaves one empty piece.
            continue;
        }
        if n > cfg.max_headers {
            return Err(FetchError::TooManyHeaders(cfg.max_headers));
        }
        if line.len() > cfg.max_header_line_bytes {
            return Err(FetchError::HeaderLineTooLong {
                line: n,
                limit: cfg.max_header_line_bytes,
            });
        }
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or(FetchError::MalformedHeader(n))?;
        let (name, value) = line.split_at(colon);
        let value = value.get(1..).unwrap_or(&[]);
        // No whitespace before the colon, no obs-fold (RFC 9112 §5.1, §5.2); field values carry
        // no CR, LF or NUL (RFC 9110 §5.5).
        if name.is_empty()
            || !name.iter().all(|&b| is_tchar(b))
            || value.iter().any(|&b| b == b'\r' || b == 0)
        {
            return Err(FetchError::MalformedHeader(n));
        }
        let value = value.trim_ascii();
        if name.eq_ignore_ascii_case(b"content-length") {
            let len = parse_content_length(value, cfg.max_body_bytes)?;
            if content_length.is_some_and(|old| old != len) {
                return Err(FetchError::BadContentLength);
            }
            content_length = Some(len);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            let v = std::str::from_utf8(value).map_err(|_| FetchError::MalformedHeader(n))?;
            let te = transfer_encoding.get_or_insert_with(String::new);
            if !te.is_empty() {
                te.push(',');
            }
            te.push_str(v);
        } else if name.eq_ignore_ascii_case(b"cache-control") {
            let v = std::str::from_utf8(value).map_err(|_| FetchError::MalformedHeader(n))?;
            if !cache_control.is_empty() {
                cache_control.push(',');
            }
            cache_control.push_str(v);
        }
    }
    let framing = match (transfer_encoding, content_length) {
        (Some(te), _) => {
            let codings: Vec<String> = te
                .split(',')
                .map(|c| c.trim().to_ascii_lowercase())
                .filter(|c| !c.is_empty())
                .collect();
            if codings == ["chunked"] {
                Framing::Chunked
            } else {
                return Err(FetchError::UnsupportedTransferEncoding);
            }
        }
        (None, Some(n)) => Framing::Length(n),
        (None, None) => Framing::Eof,
    };
    Ok(Head {
        status,
        reason,
        framing,
        max_age_secs: parse_cache_control(&cache_control),
    })
}

/// `HTTP/1.x SP 3DIGIT SP [reason]` (RFC 9112 §4). The reason is kept, sanitised and
/// shortened, for error messages only.
fn parse_status_line(line: &[u8]) -> Result<(u16, String), FetchError> {
    let bad = FetchError::MalformedStatusLine;
    let rest = line.strip_prefix(b"HTTP/1.").ok_or(bad)?;
    let (minor, rest) = rest.split_first().ok_or(FetchError::MalformedStatusLine)?;
    if !minor.is_ascii_digit() {
        return Err(FetchError::MalformedStatusLine);
    }
    let rest = rest
        .strip_prefix(b" ")
        .ok_or(FetchError::MalformedStatusLine)?;
    let (code, reason) = rest.split_at(rest.len().min(3));
    if code.len() != 3 || !code.iter().all(u8::is_ascii_digit) {
        return Err(FetchError::MalformedStatusLine);
    }
    let code = code
        .iter()
        .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'));
    if code < 100 {
        return Err(FetchError::MalformedStatusLine);
    }
    let reason = match reason {
        [] => &[][..],
        [b' ', r @ ..] => r,
        _ => return Err(FetchError::MalformedStatusLine),
    };
    let reason: String = reason
        .iter()
        .take(64)
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '?'
            }
        })
        .collect();
    Ok((code, reason))
}

/// `1*DIGIT`, or a list of identical values (RFC 9112 §6.3 item 5).
fn parse_content_length(value: &[u8], max: usize) -> Result<usize, FetchError> {
    let mut out: Option<usize> = None;
    for part in value.split(|&b| b == b',') {
        let part = part.trim_ascii();
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return Err(FetchError::BadContentLength);
        }
        let mut n: usize = 0;
        for d in part {
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add(usize::from(d - b'0')))
                .ok_or(FetchError::Oversized(max))?;
        }
        if out.is_some_and(|o| o != n) {
            return Err(FetchError::BadContentLength);
        }
        out = Some(n);
    }
    let n = out.ok_or(FetchError::BadContentLength)?;
    if n > max {
        return Err(FetchError::Oversized(max));
    }
    Ok(n)
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

/// Decodes a complete chunked body (RFC 9112 §7.1) from `wire`; `Ok(None)` when more bytes are
/// needed. Chunk extensions and trailer fields are skipped.
fn decode_chunked(wire: &[u8], max: usize) -> Result<Option<Vec<u8>>, FetchError> {
    const MAX_CHUNK_LINE: usize = 1024;
    let mut pos = 0usize;
    let mut body = Vec::new();
    // The next line from `pos` (without its line ending) and the position after it.
    let next_line = |pos: usize| -> Result<Option<(&[u8], usize)>, FetchError> {
        let rest = wire.get(pos..).unwrap_or(&[]);
        match rest.iter().position(|&b| b == b'\n') {
            Some(i) if i > MAX_CHUNK_LINE => Err(FetchError::MalformedChunk),
            Some(i) => {
                let line = rest.get(..i).unwrap_or(&[]);
                Ok(Some((
                    line.strip_suffix(b"\r").unwrap_or(line),
                    pos + i + 1,
                )))
            }
            None if rest.len() > MAX_CHUNK_LINE => Err(FetchError::MalformedChunk),
            None => Ok(None),
        }
    };
    loop {
        let Some((line, after)) = next_line(pos)? else {
            return Ok(None);
        };
        let size = line
            .split(|&b| b == b';')
            .next()
            .unwrap_or(&[])
            .trim_ascii();
        if size.is_empty() || size.len() > 16 || !size.iter().all(u8::is_ascii_hexdigit) {
            return Err(FetchError::MalformedChunk);
        }
        let size = std::str::from_utf8(size)
            .ok()
            .and_then(|s| u64::from_str_radix(s, 16).ok())
            .and_then(|s| usize::try_from(s).ok())
            .ok_or(FetchError::MalformedChunk)?;
        pos = after;
        if size == 0 {
            // Trailer section, ended by an empty line.
            loop {
                let Some((line, after)) = next_line(pos)? else {
                    return Ok(None);
                };
                pos = after;
                if line.is_empty() {
                    return Ok(Some(body));
                }
            }
        }
        if body.len().saturating_add(size) > max {
            return Err(FetchError::Oversized(max));
        }
        let end = pos.checked_add(size).ok_or(FetchError::MalformedChunk)?;
        let Some(data) = wire.get(pos..end) else {
            return Ok(None);
        };
        body.extend_from_slice(data);
        pos = end;
        match (wire.get(pos), wire.get(pos + 1)) {
            (Some(b'\r'), Some(b'\n')) => pos += 2,
            (Some(b'\n'), _) => pos += 1,
            (Some(b'\r'), None) | (None, _) => return Ok(None),
            _ => return Err(FetchError::MalformedChunk),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = HttpUrl::parse("http://127.0.0.1:8080/a/jwks.json?x=1#frag").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("127.0.0.1", 8080));
        assert_eq!(u.target, "/a/jwks.json?x=1");
        assert_eq!(u.host_header(), "127.0.0.1:8080");
        let u = HttpUrl::parse("HTTP://[::1]").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.target.as_str()),
            ("::1", 80, "/")
        );
        assert_eq!(u.host_header(), "[::1]");
        assert_eq!(HttpUrl::parse("http://h?q").unwrap().target, "/?q");
        for bad in [
            "https://example.com/jwks",
            "ftp://x/",
            "127.0.0.1/jwks",
            "http://",
            "http://:80/",
            "http://u@h/",
            "http://h:0/",
            "http://h:65536/",
            "http://h:/",
            "http://h:8x/",
            "http://[::1/",
            "http://[zz]/",
            "http://[::1]x/",
            "http://h h/",
            "http://h/a b",
            "http://h/\u{e9}",
        ] {
            assert!(
                matches!(HttpUrl::parse(bad), Err(FetchError::BadUrl(_))),
                "{bad}"
            );
        }
    }

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
    fn status_lines() {
        assert_eq!(parse_status_line(b"HTTP/1.1 200 OK").unwrap().0, 200);
        assert_eq!(parse_status_line(b"HTTP/1.0 404").unwrap().0, 404);
        for bad in [
            &b""[..],
            b"HTTP/2 200 OK",
            b"HTTP/1.1 20 OK",
            b"HTTP/1.1 2000",
            b"HTTP/1.1 099 x",
        ] {
            assert!(parse_status_line(bad).is_err());
        }
    }

    #[test]
    fn chunked() {
        let wire = b"4;ext=1\r\nWiki\r\n5\r\npedia\r\n0\r\nTrailer: x\r\n\r\n";
        assert_eq!(decode_chunked(wire, 100).unwrap().unwrap(), b"Wikipedia");
        for cut in 0..wire.len() {
            assert!(
                decode_chunked(&wire[..cut], 100).unwrap().is_none(),
                "{cut}"
            );
        }
        assert!(matches!(
            decode_chunked(b"zz\r\n", 100),
            Err(FetchError::MalformedChunk)
        ));
        assert!(matches!(
            decode_chunked(b"4\r\nWikiXX", 100),
            Err(FetchError::MalformedChunk)
        ));
        assert!(matches!(
            decode_chunked(b"ffffffffffffffff\r\n", 100),
            Err(FetchError::Oversized(100))
        ));
    }

    #[test]
    fn content_length() {
        assert_eq!(parse_content_length(b"12", 100).unwrap(), 12);
        assert_eq!(parse_content_length(b"12, 12", 100).unwrap(), 12);
        assert!(matches!(
            parse_content_length(b"12, 13", 100),
            Err(FetchError::BadContentLength)
        ));
        assert!(matches!(
            parse_content_length(b"+1", 100),
            Err(FetchError::BadContentLength)
        ));
        assert!(matches!(
            parse_content_length(b"", 100),
            Err(FetchError::BadContentLength)
        ));
        assert!(matches!(
            parse_content_length(b"101", 100),
            Err(FetchError::Oversized(100))
        ));
        assert!(matches!(
            parse_content_length(b"999999999999999999999999999", 100),
            Err(FetchError::Oversized(100))
        ));
    }
}
