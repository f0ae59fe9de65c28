//! The JWKS fetch edge against real HTTP servers on 127.0.0.1 (std `TcpListener` in a thread):
//! the cache's "lag = cache age" rule end to end, and every fetch failure as a typed error.
//!
//! Each server handles a bounded number of connections and stops by itself when that budget is
//! spent, when its handle is dropped, or after `SERVER_LIFETIME`, whichever comes first.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use leaklab_jwks_fetch::{fetch_jwks, refresh_if_due, FetchConfig, FetchError, TimeoutPhase};
use leaklab_protocol::client_auth::{
    create_client_assertion, verify_client_assertion, AssertionPolicy, ClientAuthError, JwksCache,
    JwksError, KeyLookupError,
};
use leaklab_protocol::replay::MemoryReplayStore;
use leaklab_protocol::signer::SoftwareSigner;
use leaklab_signers::Signer;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use serde_json::json;

const SERVER_LIFETIME: Duration = Duration::from_secs(20);
const T0: i64 = 1_700_000_000;
const CLIENT: &str = "agent-7";
const TOKEN_EP: &str = "https://as.example/token";

/// A real HTTP server: reads each request's header section, counts it, lets `respond` write the
/// raw response, closes the connection.
struct Server {
    addr: SocketAddr,
    requests: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Server {
    fn start(max_conns: usize, respond: impl Fn(&mut TcpStream) + Send + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let addr = listener.local_addr().expect("local addr");
        let requests = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (req, st) = (requests.clone(), stop.clone());
        let handle = thread::spawn(move || {
            let end = Instant::now() + SERVER_LIFETIME;
            let mut served = 0;
            while served < max_conns && !st.load(Ordering::SeqCst) && Instant::now() < end {
                match listener.accept() {
                    Ok((mut stream, _)) => {
                        served += 1;
                        let _ = stream.set_nonblocking(false);
                        let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
                        let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
                        read_request(&mut stream);
                        req.fetch_add(1, Ordering::SeqCst);
                        respond(&mut stream);
                        let _ = stream.flush();
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Server {
            addr,
            requests,
            stop,
            handle: Some(handle),
        }
    }

    /// Serves each response of `responses` once, in order.
    fn canned(responses: Vec<Vec<u8>>) -> Server {
        let n = responses.len();
        let queue = Mutex::new(VecDeque::from(responses));
        Server::start(n, move |s| {
            if let Some(r) = queue.lock().expect("queue").pop_front() {
                let _ = s.write_all(&r);
            }
        })
    }

    fn url(&self) -> String {
        format!("http://{}/.well-known/jwks.json", self.addr)
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Reads up to the end of the request's header section (bounded).
fn read_request(s: &mut TcpStream) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 8192 {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
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

fn cfg() -> FetchConfig {
    FetchConfig {
        connect_timeout: Duration::from_millis(300),
        read_timeout: Duration::from_millis(300),
        write_timeout: Duration::from_millis(300),
        total_timeout: Duration::from_secs(3),
        ..FetchConfig::default()
    }
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

fn fetch_canned(raw: Vec<u8>) -> Result<leaklab_jwks_fetch::FetchedJwks, FetchError> {
    let server = Server::canned(vec![raw]);
    fetch_jwks(&server.url(), &cfg())
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

/// (a) + (b): an assertion verifies through fetch + cache; after the vendor removes the key the
/// cached copy keeps accepting it until it is `max-age` old, then the refetch refuses it.
#[test]
fn removed_key_verifies_until_cached_copy_ages_out() {
    let doc = Arc::new(Mutex::new(jwks(&[(7, "old")])));
    let served = doc.clone();
    let server = Server::start(8, move |s| {
        let body = served.lock().expect("doc").clone();
        let head = "Content-Type: application/jwk-set+json\r\nCache-Control: max-age=600\r\n";
        let _ = s.write_all(&response(head, body.as_bytes()));
    });
    let url = server.url();
    let mut replay = MemoryReplayStore::new(1000);

    // The first fetch tells the operator the publisher's max-age; the cache adopts it.
    let first = fetch_jwks(&url, &cfg()).expect("fetch");
    assert_eq!(first.max_age_secs, Some(600));
    assert_eq!(first.keys.len(), 1);
    let mut cache = JwksCache::new(first.max_age_secs.expect("max-age"));
    assert_eq!(cache.store(CLIENT, &first.document, T0), Ok(1));
    assert_eq!(server.requests(), 1);
    assert!(refresh_if_due(&mut cache, CLIENT, &url, &cfg(), T0)
        .expect("fresh")
        .is_none());
    assert_eq!(authenticate(7, "old", &cache, &mut replay, T0), Ok(()));

    // The vendor rotates: the served JWKS now holds only the new key.
    *doc.lock().expect("doc") = jwks(&[(8, "new")]);

    // Inside the max-age: no refetch, the removed key still verifies, the new one is unknown
    // (an unknown kid does not trigger a refetch).
    for now in [T0 + 1, T0 + 300, T0 + 599] {
        assert!(refresh_if_due(&mut cache, CLIENT, &url, &cfg(), now)
            .expect("fresh")
            .is_none());
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
    let refetched = refresh_if_due(&mut cache, CLIENT, &url, &cfg(), now)
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

#[test]
fn framing_and_cache_control_variants() {
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
    let f = fetch_canned(wire).expect("chunked");
    assert_eq!((f.document.as_str(), f.keys.len()), (body.as_str(), 2));
    assert_eq!(f.max_age_secs, Some(0));

    // Read to EOF (no Content-Length), no Cache-Control, bare-LF line endings.
    let mut wire = b"HTTP/1.0 200 OK\nContent-Type: application/json\n\n".to_vec();
    wire.extend_from_slice(body.as_bytes());
    let f = fetch_canned(wire).expect("eof-framed");
    assert_eq!((f.keys.len(), f.max_age_secs), (2, None));

    let f = fetch_canned(response(
        "Cache-Control: no-cache, max-age=60\r\n",
        body.as_bytes(),
    ))
    .expect("no-cache");
    assert_eq!(f.max_age_secs, Some(0));
}

#[test]
fn server_error_status_is_typed() {
    let e = fetch_canned(
        b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5\r\n\r\noops!".to_vec(),
    )
    .unwrap_err();
    assert!(
        matches!(&e, FetchError::Status { code: 500, reason } if reason == "Internal Server Error"),
        "{e:?}"
    );
    assert!(e.to_string().contains("500"));
    let e =
        fetch_canned(b"HTTP/1.1 302 Found\r\nLocation: http://evil/\r\n\r\n".to_vec()).unwrap_err();
    assert!(matches!(e, FetchError::Status { code: 302, .. }), "{e:?}");
}

#[test]
fn oversized_bodies_are_refused() {
    let limit = FetchConfig::default().max_body_bytes;
    let big = vec![b' '; 100_000];
    // Declared too large: refused before reading the body.
    let e = fetch_canned(response("", &big)).unwrap_err();
    assert!(matches!(e, FetchError::Oversized(l) if l == limit), "{e:?}");
    // Not declared: refused once the cap is passed.
    let mut wire = b"HTTP/1.1 200 OK\r\n\r\n".to_vec();
    wire.extend_from_slice(&big);
    let e = fetch_canned(wire).unwrap_err();
    assert!(matches!(e, FetchError::Oversized(l) if l == limit), "{e:?}");
    // Chunked: a chunk size beyond the cap.
    let e =
        fetch_canned(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffff\r\n".to_vec())
            .unwrap_err();
    assert!(matches!(e, FetchError::Oversized(l) if l == limit), "{e:?}");
}

#[test]
fn garbage_heads_are_typed_errors() {
    let many: String = (0..100).map(|i| format!("X-{i}: v\r\n")).collect();
    let long = format!("X-Long: {}\r\n", "a".repeat(5000));
    let endless = format!(
        "HTTP/1.1 200 OK\r\n{}",
        "X-Pad: 0123456789\r\n".repeat(2000)
    );
    let cases: Vec<(Vec<u8>, fn(&FetchError) -> bool)> = vec![
        (b"\x00\xff\xfegarbage\r\n\r\n".to_vec(), |e| {
            matches!(e, FetchError::MalformedStatusLine)
        }),
        (b"HTTP/1.1 OK\r\n\r\n".to_vec(), |e| {
            matches!(e, FetchError::MalformedStatusLine)
        }),
        (
            b"HTTP/1.1 200 OK\r\nthis is not a header\r\n\r\n".to_vec(),
            |e| matches!(e, FetchError::MalformedHeader(1)),
        ),
        (
            b"HTTP/1.1 200 OK\r\nA: 1\r\nBad Name: x\r\n\r\n".to_vec(),
            |e| matches!(e, FetchError::MalformedHeader(2)),
        ),
        (
            b"HTTP/1.1 200 OK\r\nA: 1\r\n folded\r\n\r\n".to_vec(),
            |e| matches!(e, FetchError::MalformedHeader(2)),
        ),
        (b"HTTP/1.1 200 OK\r\nA: x\x00y\r\n\r\n".to_vec(), |e| {
            matches!(e, FetchError::MalformedHeader(1))
        }),
        (format!("HTTP/1.1 200 OK\r\n{many}\r\n").into_bytes(), |e| {
            matches!(e, FetchError::TooManyHeaders(64))
        }),
        (format!("HTTP/1.1 200 OK\r\n{long}\r\n").into_bytes(), |e| {
            matches!(e, FetchError::HeaderLineTooLong { line: 1, .. })
        }),
        (endless.into_bytes(), |e| {
            matches!(e, FetchError::HeadersTooLarge(_))
        }),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n".to_vec(),
            |e| matches!(e, FetchError::BadContentLength),
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n".to_vec(),
            |e| matches!(e, FetchError::BadContentLength),
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n".to_vec(),
            |e| matches!(e, FetchError::UnsupportedTransferEncoding),
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n".to_vec(),
            |e| matches!(e, FetchError::MalformedChunk),
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab".to_vec(),
            |e| matches!(e, FetchError::IncompleteChunked),
        ),
        (Vec::new(), |e| matches!(e, FetchError::EmptyResponse)),
        (b"HTTP/1.1 200 OK\r\nA: 1".to_vec(), |e| {
            matches!(e, FetchError::IncompleteHead)
        }),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"keys\"".to_vec(),
            |e| {
                matches!(
                    e,
                    FetchError::Truncated {
                        expected: 100,
                        got: 7
                    }
                )
            },
        ),
        (response("", b"<html>not json</html>"), |e| {
            matches!(e, FetchError::Jwks(JwksError::NotJson))
        }),
        (response("", br#"{"kids":[]}"#), |e| {
            matches!(e, FetchError::Jwks(JwksError::NoKeys))
        }),
        (
            response(
                "",
                json!({"keys": [key(7).to_private_jwk_json()]})
                    .to_string()
                    .as_bytes(),
            ),
            |e| matches!(e, FetchError::Jwks(JwksError::PrivateKey(0))),
        ),
        (response("", b"{\"keys\":[\xff]}"), |e| {
            matches!(e, FetchError::NotUtf8)
        }),
    ];
    let n = cases.len();
    let (raws, checks): (Vec<_>, Vec<_>) = cases.into_iter().unzip();
    let server = Server::canned(raws);
    for (i, check) in checks.into_iter().enumerate() {
        let e = fetch_jwks(&server.url(), &cfg()).expect_err("garbage must be refused");
        assert!(check(&e), "case {i}: {e:?}");
        assert!(!e.to_string().is_empty());
    }
    assert_eq!(server.requests(), n);
}

/// Random mutations of a valid response: every outcome is a value (Ok or a typed error).
#[test]
fn mutated_responses_never_panic() {
    use rand::Rng;
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
    let server = Server::canned(raws);
    let mut refused = 0;
    for _ in 0..48 {
        if fetch_jwks(&server.url(), &cfg()).is_err() {
            refused += 1;
        }
    }
    assert!(refused > 0);
    assert_eq!(server.requests(), 48);
}

#[test]
fn connection_refused_is_typed() {
    let addr = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    }; // listener dropped: the port is closed
    let e = fetch_jwks(&format!("http://{addr}/jwks"), &cfg()).unwrap_err();
    assert!(
        matches!(&e, FetchError::Connect { addr: a, .. } if *a == addr),
        "{e:?}"
    );
}

#[test]
fn silent_server_times_out() {
    let server = Server::start(1, |_| thread::sleep(Duration::from_millis(1000)));
    let e = fetch_jwks(&server.url(), &cfg()).unwrap_err();
    assert!(
        matches!(e, FetchError::Timeout(TimeoutPhase::Read)),
        "{e:?}"
    );
}

#[test]
fn trickling_server_hits_the_total_deadline() {
    let server = Server::start(1, |s| {
        for b in b"HTTP/1.1 200 OK\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
            .iter()
            .take(40)
        {
            if s.write_all(&[*b]).is_err() {
                return;
            }
            thread::sleep(Duration::from_millis(50));
        }
    });
    let cfg = FetchConfig {
        total_timeout: Duration::from_millis(500),
        ..cfg()
    };
    let e = fetch_jwks(&server.url(), &cfg).unwrap_err();
    assert!(
        matches!(e, FetchError::Timeout(TimeoutPhase::Total)),
        "{e:?}"
    );
}

#[test]
fn urls_outside_scope_are_refused_without_io() {
    for url in [
        "https://vendor.example/jwks",
        "file:///etc/passwd",
        "http://u@h/",
        "nonsense",
    ] {
        let e = fetch_jwks(url, &cfg()).unwrap_err();
        assert!(matches!(e, FetchError::BadUrl(_)), "{url}: {e:?}");
    }
    let e = fetch_jwks("https://vendor.example/jwks", &cfg()).unwrap_err();
    assert!(e.to_string().contains("https is out of scope"), "{e}");
}
