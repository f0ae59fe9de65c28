//! The HTTPS edge every testbed server runs on: a TCP accept loop on 127.0.0.1, a TLS handshake
//! with a swappable rustls configuration (a reload picks up a newly published CRL for new
//! connections), and hyper's HTTP/1.1 connection driver with the abuse limits.
//!
//! Limits: TLS handshake timeout, header read timeout, a request-head buffer cap (hyper answers a
//! larger head with `431`), a body cap (axum's `DefaultBodyLimit`, per router) and a per-request
//! deadline. The verified client certificate, if any, reaches handlers as a [`PeerCertificate`]
//! request extension.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use rustls::ServerConfig;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// Connection limits of one server.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub handshake_timeout: Duration,
    pub header_read_timeout: Duration,
    /// Largest request head (request line + headers), bytes; hyper's floor is 8 KiB.
    pub max_head_bytes: usize,
    /// Largest request body, bytes.
    pub max_body_bytes: usize,
    /// Whole request, from head to response.
    pub request_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            handshake_timeout: Duration::from_secs(5),
            header_read_timeout: Duration::from_secs(5),
            max_head_bytes: 16 * 1024,
            max_body_bytes: 16 * 1024,
            request_timeout: Duration::from_secs(15),
        }
    }
}

/// The DER client certificate the TLS layer verified for this connection.
#[derive(Clone, Debug, Default)]
pub struct PeerCertificate(pub Option<Arc<Vec<u8>>>);

/// A TLS configuration that can be replaced while the server runs.
#[derive(Clone, Debug)]
pub struct TlsSwitch(Arc<RwLock<Arc<ServerConfig>>>);

impl TlsSwitch {
    pub fn new(config: Arc<ServerConfig>) -> Self {
        Self(Arc::new(RwLock::new(config)))
    }

    /// New connections use `config` from now on; open ones keep theirs.
    pub fn replace(&self, config: Arc<ServerConfig>) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = config;
    }

    fn current(&self) -> Arc<ServerConfig> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// A running server: its address and the handle that stops it.
#[derive(Debug)]
pub struct Running {
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Running {
    /// `https://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// Stops accepting and waits for the accept loop to end (open connections are dropped).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// Binds `127.0.0.1:port` (0: any free port); the address is known before the server's state
/// is built (the AS names itself in tokens).
pub async fn bind(port: u16) -> std::io::Result<TcpListener> {
    TcpListener::bind(("127.0.0.1", port)).await
}

/// Serves `router` over TLS on `listener`.
pub fn serve(
    listener: TcpListener,
    tls: TlsSwitch,
    router: Router,
    limits: Limits,
) -> std::io::Result<Running> {
    let addr = listener.local_addr()?;
    let (stop, mut stopped) = watch::channel(false);
    let router = router.layer(axum::extract::DefaultBodyLimit::max(limits.max_body_bytes));
    let task = tokio::spawn(async move {
        loop {
            let (tcp, _) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(c) => c,
                    // Out of descriptors and the like: back off instead of spinning.
                    Err(_) => { tokio::time::sleep(Duration::from_millis(10)).await; continue; }
                },
                _ = stopped.changed() => break,
            };
            let _ = tcp.set_nodelay(true);
            let acceptor = TlsAcceptor::from(tls.current());
            let router = router.clone();
            let mut conn_stop = stopped.clone();
            tokio::spawn(async move {
                let Ok(Ok(stream)) =
                    tokio::time::timeout(limits.handshake_timeout, acceptor.accept(tcp)).await
                else {
                    return;
                };
                let peer = PeerCertificate(
                    stream
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|c| c.first())
                        .map(|c| Arc::new(c.to_vec())),
                );
                let timeout = limits.request_timeout;
                let service = router
                    .map_request(
                        move |mut req: axum::extract::Request<hyper::body::Incoming>| {
                            req.extensions_mut().insert(peer.clone());
                            req
                        },
                    )
                    .map_future(move |fut| async move {
                        match tokio::time::timeout(timeout, fut).await {
                            Ok(r) => r,
                            Err(_) => Ok(crate::http::error_response(
                                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                                "temporarily_unavailable",
                                "request deadline exceeded",
                            )),
                        }
                    });
                let conn = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(limits.header_read_timeout)
                    .max_buf_size(limits.max_head_bytes.max(8192))
                    .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
                tokio::pin!(conn);
                tokio::select! {
                    _ = conn.as_mut() => {}
                    _ = conn_stop.changed() => {}
                }
            });
        }
    });
    Ok(Running { addr, stop, task })
}
