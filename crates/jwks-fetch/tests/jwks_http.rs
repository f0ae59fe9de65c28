//! The JWKS fetch edge against real servers on 127.0.0.1 (tokio + tokio-rustls, certificates from
//! a private CA made here with rcgen): the cache's "lag = cache age" rule end to end, the TLS and
//! scheme policy, and every fetch failure as a typed error.
//!
//! Each server handles a bounded number of connections and stops by itself when that budget is
//! spent, when its handle is dropped, or after `SERVER_LIFETIME`, whichever comes first. Every
//! wait inside it is bounded too.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use leaklab_jwks_fetch::{FetchConfig, FetchError, FetchedJwks, JwksFetcher, TimeoutPhase};
use leaklab_protocol::client_auth::{
    create_client_assertion, verify_client_assertion, AssertionPolicy, ClientAuthError, JwksCache,
    JwksError, KeyLookupError,
};
use leaklab_protocol::replay::MemoryReplayStore;
use leaklab_protocol::signer::{Signer, SoftwareSigner};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::json;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio::time::{sleep, timeout, Instant};
use tokio_rustls::TlsAcceptor;

const SERVER_LIFETIME: Duration = Duration::from_secs(20);
const T0: i64 = 1_700_000_000;
const CLIENT: &str = "agent-7";
const TOKEN_EP: &str = "https://as.example/token";

/// A private CA and a server certificate it issued for 127.0.0.1.
struct Pki {
    ca_pem: String,
    tls: Arc<rustls::ServerConfig>,
}

impl Pki {
    fn new(name: &str, server_san: &str) -> Pki {
        let mut ca = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        ca.distinguished_name
            .push(DnType::CommonName, format!("{name} test CA"));
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().expect("ca key"))
            .expect("ca cert");
        let leaf_key = KeyPair::generate().expect("leaf key");
        let leaf = CertificateParams::new(vec![server_san.to_owned()])
            .expect("leaf params")
            .signed_by(&leaf_key, &*ca)
            .expect("leaf cert");
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        let chain: Vec<CertificateDer<'static>> = vec![leaf.der().clone()];
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .expect("server config");
        Pki {
            ca_pem: ca.pem(),
            tls: Arc::new(tls),
        }
    }

    /// The usual test PKI: a certificate for 127.0.0.1 from "lab".
    fn lab() -> Pki {
        Pki::new("lab", "127.0.0.1")
    }
}

/// What a server does once it has read a request's header section.
enum Reply {
    /// Writes these bytes, then closes.
    Raw(Vec<u8>),
    /// Says nothing for this long, then closes.
    Silent(Duration),
    /// Writes the first bytes at once, then the second one at a time with this pause between
    /// them, then closes.
    Trickle(Vec<u8>, Vec<u8>, Duration),
}

type Respond = Box<dyn Fn() -> Reply + Send + Sync>;

/// A real server on 127.0.0.1, HTTPS with `tls` or plain HTTP without: reads each request's
/// header section, counts it, answers with `respond`, closes the connection.
struct Server {
    addr: SocketAddr,
    https: bool,
    requests: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Server {
    async fn start(
        tls: Option<Arc<rustls::ServerConfig>>,
        max_conns: usize,
        respond: Respond,
    ) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = requests.clone();
        let https = tls.is_some();
        let acceptor = tls.map(TlsAcceptor::from);
        let task = tokio::spawn(async move {
            let end = Instant::now() + SERVER_LIFETIME;
            for _ in 0..max_conns {
                let Ok(Ok((tcp, _))) = tokio::time::timeout_at(end, listener.accept()).await else {
                    return;
                };
                // One connection at a time: the client under test makes one request at a time.
                match &acceptor {
                    Some(acceptor) => {
                        let hs = timeout(Duration::from_secs(2), acceptor.accept(tcp)).await;
                        if let Ok(Ok(tls)) = hs {
                            serve(tls, &counter, &respond).await;
                        }
                    }
                    None => serve(tcp, &counter, &respond).await,
                }
            }
        });
        Server {
            addr,
            https,
            requests,
            task,
        }
    }

    async fn https(pki: &Pki, max_conns: usize, respond: Respond) -> Server {
        Server::start(Some(pki.tls.clone()), max_conns, respond).await
    }

    /// Serves each raw response of `responses` once, in order, over HTTPS.
    async fn canned(pki: &Pki, responses: Vec<Vec<u8>>) -> Server {
        let n = responses.len();
        let queue = Mutex::new(VecDeque::from(responses));
        Server::https(
            pki,
            n,
            Box::new(move || {
                Reply::Raw(queue.lock().expect("queue").pop_front().unwrap_or_default())
            }),
        )
        .await
    }

    fn url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}/.well-known/jwks.json", self.addr)
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    counter: &AtomicUsize,
    respond: &Respond,
) {
    if !read_request(&mut s).await {
        return;
    }
    counter.fetch_add(1, Ordering::SeqCst);
    let wait = Duration::from_secs(2);
    match respond() {
        Reply::Raw(bytes) => {
            let _ = timeout(wait, s.write_all(&bytes)).await;
        }
        Reply::Silent(d) => sleep(d).await,
        Reply::Trickle(head, bytes, pause) => {
            if !matches!(timeout(wait, s.write_all(&head)).await, Ok(Ok(()))) {
                return;
            }
            for b in bytes.iter().take(200) {
                if !matches!(timeout(wait, s.write_all(&[*b])).await, Ok(Ok(()))) {
                    return;
                }
                let _ = timeout(wait, s.flush()).await;
                sleep(pause).await;
            }
        }
    }
    // TLS: send close_notify, so a body framed by the end of the connection ends cleanly.
    let _ = timeout(wait, s.shutdown()).await;
}

/// Reads up to the end of the request's header section (bounded in bytes and time); false if
/// the client went away first.
async fn read_request<S: AsyncRead + Unpin>(s: &mut S) -> bool {
    let end = Instant::now() + Duration::from_secs(2);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 8192 {
        match tokio::time::timeout_at(end, s.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
            _ => return false,
        }
    }
    true
}

fn response(head: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 200 OK\r\n{head}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

fn cfg(pki: &Pki) -> FetchConfig {
    FetchConfig {
        // Generous enough for a loaded CI machine; the timeout tests set their own where it matters.
        connect_timeout: Duration::from_secs(1),
        read_timeout: Duration::from_secs(1),
        total_timeout: Duration::from_secs(3),
        root_certs_pem: pki.ca_pem.clone().into_bytes(),
        system_roots: false,
        ..FetchConfig::default()
    }
}

fn fetcher(pki: &Pki) -> JwksFetcher {
    JwksFetcher::new(&cfg(pki)).expect("fetcher")
}

fn key(n: u8) -> SoftwareSigner {
    SoftwareSigner::from_scalar(&[n; 32]).expect("valid scalar")
}

fn jwks(keys: &[(u8, &str)]) -> String {
    let keys: Vec<_> = keys
        .iter()
        .map(|(n, kid)| {
            let mut j = key(*n).public_jwk().to_json();
            j["kid"] = (*kid).into();
            j
        })
        .collect();
    json!({ "keys": keys }).to_string()
}

async fn fetch_canned(pki: &Pki, raw: Vec<u8>) -> Result<FetchedJwks, FetchError> {
    let server = Server::canned(pki, vec![raw]).await;
    fetcher(pki).fetch(&server.url()).await
}

/// A fresh assertion by key `n` / `kid`, created at `now`, verified at `now`.
fn authenticate(
    n: u8,
    kid: &str,
    cache: &JwksCache,
    replay: &mut MemoryReplayStore,
    now: i64,
) -> Result<(), ClientAuthError> {
    let mut rng = ChaCha20Rng::seed_from_u64(((now as u64) << 8) | u64::from(n));
    let a = create_client_assertion(&mut key(n), Some(kid), CLIENT, TOKEN_EP, now, 60, &mut rng)
        .expect("sign");
    verify_client_assertion(
        &a,
        CLIENT,
        TOKEN_EP,
        &AssertionPolicy::default(),
        cache,
        replay,
        now,
    )
    .map(|_| ())
}

/// An assertion verifies through fetch + cache; after the vendor removes the key the cached copy
/// keeps accepting it until it is `max-age` old, then the refetch refuses it: the rotation lag
/// equals the cache age.
#[tokio::test]
async fn removed_key_verifies_until_cached_copy_ages_out() {
    let pki = Pki::lab();
    let doc = Arc::new(Mutex::new(jwks(&[(7, "old")])));
    let served = doc.clone();
    let server = Server::https(
        &pki,
        8,
        Box::new(move || {
            let body = served.lock().expect("doc").clone();
            let head = "Content-Type: application/jwk-set+json\r\nCache-Control: max-age=600\r\n";
            Reply::Raw(response(head, body.as_bytes()))
        }),
    )
    .await;
    let url = server.url();
    let fetcher = fetcher(&pki);
    let mut replay = MemoryReplayStore::new(1000);

    // The first fetch tells the operator the publisher's max-age; the cache adopts it.
    let first = fetcher.fetch(&url).await.expect("fetch");
    assert_eq!(first.max_age_secs, Some(600));
    assert_eq!(first.keys.len(), 1);
    let mut cache = JwksCache::new(first.max_age_secs.expect("max-age"));
    assert_eq!(cache.store(CLIENT, &first.document, T0), Ok(1));
    assert_eq!(server.requests(), 1);
    let fresh = fetcher.refresh_if_due(&mut cache, CLIENT, &url, T0).await;
    assert!(fresh.expect("fresh").is_none());
    assert_eq!(authenticate(7, "old", &cache, &mut replay, T0), Ok(()));

    // The vendor rotates: the served JWKS now holds only the new key.
    *doc.lock().expect("doc") = jwks(&[(8, "new")]);

    // Inside the max-age: no refetch, the removed key still verifies, the new one is unknown
    // (an unknown kid does not trigger a refetch).
    for now in [T0 + 1, T0 + 300, T0 + 599] {
        let fresh = fetcher.refresh_if_due(&mut cache, CLIENT, &url, now).await;
        assert!(fresh.expect("fresh").is_none());
        assert_eq!(authenticate(7, "old", &cache, &mut replay, now), Ok(()));
        assert_eq!(
            authenticate(8, "new", &cache, &mut replay, now),
            Err(ClientAuthError::Key(KeyLookupError::UnknownKid(Some(
                "new".into()
            ))))
        );
    }
    assert_eq!(server.requests(), 1, "no refetch before max-age");

    // At fetched_at + max-age the cache asks for a refetch; the edge fetches from the server.
    let now = T0 + 600;
    assert_eq!(
        authenticate(7, "old", &cache, &mut replay, now),
        Err(ClientAuthError::Key(KeyLookupError::RefetchDue))
    );
    let refetched = fetcher
        .refresh_if_due(&mut cache, CLIENT, &url, now)
        .await
        .expect("refetch")
        .expect("refetch was due");
    assert_eq!(server.requests(), 2);
    assert_eq!(refetched.keys[0].kid.as_deref(), Some("new"));
    assert_eq!(
        authenticate(7, "old", &cache, &mut replay, now),
        Err(ClientAuthError::Key(KeyLookupError::UnknownKid(Some(
            "old".into()
        ))))
    );
    assert_eq!(authenticate(8, "new", &cache, &mut replay, now), Ok(()));
}

/// A failed refetch keeps the aged-out copy, which stays unusable: the cache fails closed.
#[tokio::test]
async fn failed_refetch_fails_closed() {
    let pki = Pki::lab();
    let server = Server::canned(
        &pki,
        vec![b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n".to_vec()],
    )
    .await;
    let mut cache = JwksCache::new(600);
    assert_eq!(cache.store(CLIENT, &jwks(&[(7, "old")]), T0), Ok(1));
    let e = fetcher(&pki)
        .refresh_if_due(&mut cache, CLIENT, &server.url(), T0 + 600)
        .await
        .unwrap_err();
    assert_eq!(e, FetchError::Status { code: 500 });
    let mut replay = MemoryReplayStore::new(10);
    assert_eq!(
        authenticate(7, "old", &cache, &mut replay, T0 + 600),
        Err(ClientAuthError::Key(KeyLookupError::RefetchDue))
    );
}

#[tokio::test]
async fn framing_and_cache_control_variants() {
    let pki = Pki::lab();
    let body = jwks(&[(7, "a"), (8, "b")]);
    // Chunked, with an extension and a trailer; no-store means max-age 0.
    let mut wire =
        b"HTTP/1.1 200 OK\r\nCache-Control: no-store\r\nTransfer-Encoding: chunked\r\n\r\n"
            .to_vec();
    for part in body.as_bytes().chunks(10) {
        wire.extend_from_slice(format!("{:x};x=y\r\n", part.len()).as_bytes());
        wire.extend_from_slice(part);
        wire.extend_from_slice(b"\r\n");
    }
    wire.extend_from_slice(b"0\r\nX-Trailer: 1\r\n\r\n");
    let f = fetch_canned(&pki, wire).await.expect("chunked");
    assert_eq!((f.document.as_str(), f.keys.len()), (body.as_str(), 2));
    assert_eq!(f.max_age_secs, Some(0));

    // Read to the end of the connection (no Content-Length), no Cache-Control.
    let mut wire = b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n".to_vec();
    wire.extend_from_slice(body.as_bytes());
    let f = fetch_canned(&pki, wire).await.expect("eof-framed");
    assert_eq!((f.keys.len(), f.max_age_secs), (2, None));

    let f = fetch_canned(
        &pki,
        response("Cache-Control: no-cache, max-age=60\r\n", body.as_bytes()),
    )
    .await
    .expect("no-cache");
    assert_eq!(f.max_age_secs, Some(0));

    // Two Cache-Control field lines are one list.
    let f = fetch_canned(
        &pki,
        response(
            "Cache-Control: public\r\nCache-Control: max-age=42\r\n",
            body.as_bytes(),
        ),
    )
    .await
    .expect("two lines");
    assert_eq!(f.max_age_secs, Some(42));
}

#[tokio::test]
async fn error_statuses_and_redirects_are_typed() {
    let pki = Pki::lab();
    let e = fetch_canned(
        &pki,
        b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5\r\n\r\noops!".to_vec(),
    )
    .await
    .unwrap_err();
    assert_eq!(e, FetchError::Status { code: 500 });
    assert!(e.to_string().contains("500"), "{e}");

    // A redirect is refused, not followed: the server sees exactly one request.
    let server = Server::canned(
        &pki,
        vec![
            b"HTTP/1.1 302 Found\r\nLocation: https://evil.example/jwks\r\nContent-Length: 0\r\n\r\n"
                .to_vec(),
            response("", jwks(&[(9, "evil")]).as_bytes()),
        ],
    )
    .await;
    let e = fetcher(&pki).fetch(&server.url()).await.unwrap_err();
    assert_eq!(
        e,
        FetchError::Redirected {
            code: 302,
            location: Some("https://evil.example/jwks".into())
        }
    );
    assert!(
        e.to_string().contains("to https://evil.example/jwks;"),
        "{e}"
    );
    assert_eq!(server.requests(), 1);
    let e = fetch_canned(&pki, b"HTTP/1.1 204 No Content\r\n\r\n".to_vec())
        .await
        .unwrap_err();
    assert_eq!(e, FetchError::Status { code: 204 });
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let pki = Pki::lab();
    let limit = FetchConfig::default().max_body_bytes;
    let big = vec![b' '; 100_000];
    // Declared too large: refused before reading the body.
    let e = fetch_canned(&pki, response("", &big)).await.unwrap_err();
    assert_eq!(e, FetchError::Oversized { limit });
    // Not declared: refused once the cap is passed.
    let mut wire = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_vec();
    wire.extend_from_slice(&big);
    let e = fetch_canned(&pki, wire).await.unwrap_err();
    assert_eq!(e, FetchError::Oversized { limit });
    // Chunked: refused once the cap is passed.
    let mut wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for part in big.chunks(8192) {
        wire.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
        wire.extend_from_slice(part);
        wire.extend_from_slice(b"\r\n");
    }
    wire.extend_from_slice(b"0\r\n\r\n");
    let e = fetch_canned(&pki, wire).await.unwrap_err();
    assert_eq!(e, FetchError::Oversized { limit });
    // Exactly at the cap is fine as far as size goes (it is not a JWKS, though).
    let e = fetch_canned(&pki, response("", &big[..limit]))
        .await
        .unwrap_err();
    assert_eq!(e, FetchError::Jwks(JwksError::NotJson));
}

#[tokio::test]
async fn garbage_is_a_typed_error() {
    let pki = Pki::lab();
    let many: String = (0..200).map(|i| format!("X-{i}: v\r\n")).collect();
    type Check = fn(&FetchError) -> bool;
    let cases: Vec<(Vec<u8>, Check)> = vec![
        (response("", b"<html>not json</html>"), |e| {
            *e == FetchError::Jwks(JwksError::NotJson)
        }),
        (response("", br#"{"kids":[]}"#), |e| {
            *e == FetchError::Jwks(JwksError::NoKeys)
        }),
        (
            response(
                "",
                json!({"keys": [key(7).to_private_jwk_json()]})
                    .to_string()
                    .as_bytes(),
            ),
            |e| *e == FetchError::Jwks(JwksError::PrivateKey(0)),
        ),
        (response("", b"{\"keys\":[\xff]}"), |e| {
            *e == FetchError::NotUtf8
        }),
        // Malformed or incomplete HTTP: hyper refuses it, the edge reports it.
        (b"\x00\xff\xfegarbage\r\n\r\n".to_vec(), |e| {
            matches!(e, FetchError::Http { .. })
        }),
        (b"HTTP/1.1 OK\r\n\r\n".to_vec(), |e| {
            matches!(e, FetchError::Http { .. })
        }),
        (
            b"HTTP/1.1 200 OK\r\nthis is not a header\r\n\r\n".to_vec(),
            |e| matches!(e, FetchError::Http { .. }),
        ),
        (format!("HTTP/1.1 200 OK\r\n{many}\r\n").into_bytes(), |e| {
            matches!(e, FetchError::Http { .. })
        }),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n".to_vec(),
            |e| matches!(e, FetchError::Http { .. }),
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n".to_vec(),
            |e| matches!(e, FetchError::Http { .. }),
        ),
        (Vec::new(), |e| matches!(e, FetchError::Http { .. })),
        (b"HTTP/1.1 200 OK\r\nA: 1".to_vec(), |e| {
            matches!(e, FetchError::Http { .. })
        }),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"keys\"".to_vec(),
            |e| matches!(e, FetchError::Http { .. }),
        ),
    ];
    let n = cases.len();
    let (raws, checks): (Vec<_>, Vec<_>) = cases.into_iter().unzip();
    let server = Server::canned(&pki, raws).await;
    let fetcher = fetcher(&pki);
    for (i, check) in checks.into_iter().enumerate() {
        let e = fetcher
            .fetch(&server.url())
            .await
            .expect_err("garbage must be refused");
        assert!(check(&e), "case {i}: {e:?}");
        assert!(!e.to_string().is_empty());
    }
    assert_eq!(server.requests(), n);
}

/// Random mutations of a valid response: every outcome is a value (Ok or a typed error).
#[tokio::test]
async fn mutated_responses_never_panic() {
    use rand::Rng;
    let pki = Pki::lab();
    let valid = response(
        "Cache-Control: max-age=600\r\n",
        jwks(&[(7, "a")]).as_bytes(),
    );
    let mut rng = ChaCha20Rng::seed_from_u64(9);
    let raws: Vec<Vec<u8>> = (0..48)
        .map(|_| {
            let mut r = valid.clone();
            for _ in 0..rng.gen_range(1..6) {
                let i = rng.gen_range(0..r.len());
                match rng.gen_range(0..3) {
                    0 => r[i] = rng.gen(),
                    1 => {
                        r.truncate(i);
                        break;
                    }
                    _ => r.insert(i, b"\r\n:; \x00"[rng.gen_range(0..6)]),
                }
            }
            r
        })
        .collect();
    let server = Server::canned(&pki, raws).await;
    let fetcher = fetcher(&pki);
    let mut refused = 0;
    for _ in 0..48 {
        if fetcher.fetch(&server.url()).await.is_err() {
            refused += 1;
        }
    }
    assert!(refused > 0);
    assert_eq!(server.requests(), 48);
}

#[tokio::test]
async fn certificate_from_another_ca_is_refused() {
    let trusted = Pki::lab();
    let other = Pki::new("rogue", "127.0.0.1");
    let body = jwks(&[(7, "a")]);
    let server = Server::https(
        &other,
        1,
        Box::new(move || Reply::Raw(response("", body.as_bytes()))),
    )
    .await;
    let e = fetcher(&trusted).fetch(&server.url()).await.unwrap_err();
    assert!(
        matches!(&e, FetchError::Tls { detail } if detail.contains("certificate")),
        "{e:?}"
    );
    assert_eq!(
        server.requests(),
        0,
        "no request crosses a refused handshake"
    );
}

#[tokio::test]
async fn certificate_for_another_host_is_refused() {
    // Issued by the trusted CA, but for a name, not for 127.0.0.1.
    let pki = Pki::new("lab", "jwks.vendor.example");
    let server = Server::https(&pki, 1, Box::new(|| Reply::Raw(response("", b"{}")))).await;
    let e = fetcher(&pki).fetch(&server.url()).await.unwrap_err();
    assert!(matches!(e, FetchError::Tls { .. }), "{e:?}");
    assert_eq!(server.requests(), 0);
}

#[tokio::test]
async fn plain_http_only_when_allowed() {
    let pki = Pki::lab();
    let body = jwks(&[(7, "a")]);
    let server = Server::start(
        None,
        2,
        Box::new(move || Reply::Raw(response("", body.as_bytes()))),
    )
    .await;
    assert!(server.url().starts_with("http://127.0.0.1:"));
    let e = fetcher(&pki).fetch(&server.url()).await.unwrap_err();
    assert_eq!(e, FetchError::PlainHttpRefused);
    assert_eq!(server.requests(), 0, "refused without I/O");

    let loose = JwksFetcher::new(&FetchConfig {
        allow_plain_http: true,
        ..cfg(&pki)
    })
    .expect("fetcher");
    let f = loose
        .fetch(&server.url())
        .await
        .expect("allowed on loopback");
    assert_eq!(f.keys.len(), 1);
    assert_eq!(server.requests(), 1);
    // Allowed means loopback only.
    let e = loose.fetch("http://192.0.2.1/jwks").await.unwrap_err();
    assert_eq!(e, FetchError::PlainHttpRefused);
}

#[tokio::test]
async fn urls_outside_scope_are_refused_without_io() {
    let pki = Pki::lab();
    let fetcher = fetcher(&pki);
    for url in [
        "file:///etc/passwd",
        "ftp://127.0.0.1/jwks",
        "https://u@127.0.0.1/",
        "nonsense",
    ] {
        let e = fetcher.fetch(url).await.unwrap_err();
        assert!(matches!(e, FetchError::BadUrl(_)), "{url}: {e:?}");
    }
}

#[tokio::test]
async fn connection_refused_is_typed() {
    let pki = Pki::lab();
    let addr = {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        l.local_addr().expect("addr")
    }; // listener dropped: the port is closed
       // The head's wait counts from the start of the request, connect included: keep it longer.
    let fetcher = JwksFetcher::new(&FetchConfig {
        connect_timeout: Duration::from_millis(200),
        read_timeout: Duration::from_secs(2),
        ..cfg(&pki)
    })
    .expect("fetcher");
    let e = fetcher
        .fetch(&format!("https://{addr}/jwks"))
        .await
        .unwrap_err();
    assert!(matches!(e, FetchError::Connect { .. }), "{e:?}");
}

#[tokio::test]
async fn silent_server_times_out() {
    let pki = Pki::lab();
    let server = Server::https(&pki, 1, Box::new(|| Reply::Silent(Duration::from_secs(4)))).await;
    let started = Instant::now();
    let e = fetcher(&pki).fetch(&server.url()).await.unwrap_err();
    assert_eq!(e, FetchError::Timeout(TimeoutPhase::Read));
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn silent_tls_handshake_times_out_at_connect() {
    let pki = Pki::lab();
    // Accepts TCP but never speaks TLS.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let hold = tokio::spawn(async move {
        let conn: Option<TcpStream> = timeout(Duration::from_secs(5), listener.accept())
            .await
            .ok()
            .and_then(Result::ok)
            .map(|(s, _)| s);
        sleep(Duration::from_secs(3)).await;
        drop(conn);
    });
    // The head's wait counts from the start of the request, connect included: keep it longer.
    let fetcher = JwksFetcher::new(&FetchConfig {
        connect_timeout: Duration::from_millis(200),
        read_timeout: Duration::from_secs(2),
        ..cfg(&pki)
    })
    .expect("fetcher");
    let e = fetcher
        .fetch(&format!("https://{addr}/jwks"))
        .await
        .unwrap_err();
    hold.abort();
    assert_eq!(e, FetchError::Timeout(TimeoutPhase::Connect));
}

/// A server that keeps each read short but never finishes: only the total deadline stops it.
#[tokio::test]
async fn trickling_server_hits_the_total_deadline() {
    let pki = Pki::lab();
    let server = Server::https(
        &pki,
        1,
        Box::new(|| {
            let head = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n".to_vec();
            Reply::Trickle(head, vec![b' '; 100], Duration::from_millis(50))
        }),
    )
    .await;
    let fetcher = JwksFetcher::new(&FetchConfig {
        total_timeout: Duration::from_millis(800),
        ..cfg(&pki)
    })
    .expect("fetcher");
    let started = Instant::now();
    let e = fetcher.fetch(&server.url()).await.unwrap_err();
    assert_eq!(e, FetchError::Timeout(TimeoutPhase::Total));
    assert!(started.elapsed() < Duration::from_secs(2));
}
