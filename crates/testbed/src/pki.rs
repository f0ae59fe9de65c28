//! The testbed's private PKI (rcgen): a CA, the servers' certificate for 127.0.0.1, client
//! certificates for mTLS (RFC 8705) and the CA's certificate revocation list. Revoking a
//! certificate and publishing the CRL are separate steps, as at a real CA; servers pick the
//! published CRL up when they rebuild their TLS configuration ([`crate::tls::TlsSwitch`]).

use std::sync::{Arc, Mutex};

use leaklab_protocol::access_token::x5t_s256;
use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, CertificateRevocationListParams,
    CertifiedIssuer, DnType, IsCa, KeyIdMethod, KeyPair, KeyUsagePurpose, RevocationReason,
    RevokedCertParams, SerialNumber,
};
use rustls::pki_types::{
    CertificateDer, CertificateRevocationListDer, PrivateKeyDer, PrivatePkcs8KeyDer,
};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PkiError {
    #[error("certificate generation: {0}")]
    Rcgen(#[from] rcgen::Error),
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    #[error("client certificate verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
    #[error("certificate validity: {0}")]
    Time(String),
}

/// A client certificate and its key, as a client needs them.
#[derive(Clone, Debug)]
pub struct ClientIdentity {
    pub serial: u64,
    pub cert_der: CertificateDer<'static>,
    /// Certificate and PKCS#8 key, PEM, concatenated (what `reqwest::Identity::from_pem` takes).
    pub pem: String,
    /// RFC 8705 §3.1 `x5t#S256` of the certificate.
    pub x5t_s256: String,
}

struct CaState {
    next_serial: u64,
    revoked: Vec<u64>,
    crl_number: u64,
    published: CertificateRevocationListDer<'static>,
}

/// The CA, the server identity and the revocation state.
pub struct Pki {
    ca: CertifiedIssuer<'static, KeyPair>,
    server_chain: Vec<CertificateDer<'static>>,
    server_key: Vec<u8>,
    state: Mutex<CaState>,
}

impl std::fmt::Debug for Pki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pki").finish_non_exhaustive()
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

impl Pki {
    /// A fresh CA and a server certificate for `127.0.0.1` and `localhost`.
    pub fn new() -> Result<Pki, PkiError> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params
            .distinguished_name
            .push(DnType::CommonName, "leaklab testbed CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate()?)?;
        let server_key = KeyPair::generate()?;
        let server = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])?
            .signed_by(&server_key, &*ca)?;
        let empty = Self::sign_crl(&ca, &[], 1)?;
        Ok(Pki {
            server_chain: vec![server.der().clone()],
            server_key: server_key.serialize_der(),
            ca,
            state: Mutex::new(CaState {
                next_serial: 1000,
                revoked: Vec::new(),
                crl_number: 1,
                published: empty,
            }),
        })
    }

    fn sign_crl(
        ca: &CertifiedIssuer<'static, KeyPair>,
        revoked: &[u64],
        number: u64,
    ) -> Result<CertificateRevocationListDer<'static>, PkiError> {
        let params = CertificateRevocationListParams {
            this_update: date_time_ymd(2025, 1, 1),
            next_update: date_time_ymd(2099, 1, 1),
            crl_number: SerialNumber::from(number),
            issuing_distribution_point: None,
            revoked_certs: revoked
                .iter()
                .map(|&s| RevokedCertParams {
                    serial_number: SerialNumber::from(s),
                    revocation_time: date_time_ymd(2025, 1, 1),
                    reason_code: Some(RevocationReason::KeyCompromise),
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        };
        Ok(params.signed_by(&**ca)?.der().clone())
    }

    fn next_serial(&self) -> u64 {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.next_serial += 1;
        s.next_serial
    }

    /// The CA certificate, PEM (the trust anchor clients need).
    pub fn ca_pem(&self) -> String {
        self.ca.pem()
    }

    /// Issues a client certificate (for mTLS client authentication) with a fresh key.
    pub fn issue_client(&self, name: &str) -> Result<ClientIdentity, PkiError> {
        let serial = self.next_serial();
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(DnType::CommonName, name);
        params.serial_number = Some(SerialNumber::from(serial));
        let cert = params.signed_by(&key, &*self.ca)?;
        Ok(ClientIdentity {
            serial,
            x5t_s256: x5t_s256(cert.der()),
            pem: format!("{}{}", cert.pem(), key.serialize_pem()),
            cert_der: cert.der().clone(),
        })
    }

    /// A server identity of its own for `127.0.0.1` (a host whose certificate can be revoked or
    /// expire apart from the testbed's servers), valid until `not_after` (unix seconds; `None`:
    /// rcgen's far-future default): its serial and a TLS configuration without client auth.
    pub fn issue_server(
        &self,
        not_after: Option<i64>,
    ) -> Result<(u64, Arc<ServerConfig>), PkiError> {
        let serial = self.next_serial();
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(vec!["127.0.0.1".to_owned()])?;
        params.serial_number = Some(SerialNumber::from(serial));
        params.not_before = date_time_ymd(2000, 1, 1);
        if let Some(t) = not_after {
            // X.509 validity ends by 9999-12-31 (RFC 5280 §4.1.2.5).
            let secs = u64::try_from(t)
                .ok()
                .filter(|s| *s <= 253_402_300_799)
                .ok_or_else(|| {
                    PkiError::Time(format!("{t} is not a time between 1970 and 9999"))
                })?;
            params.not_after = date_time_ymd(1970, 1, 1) + std::time::Duration::from_secs(secs);
        }
        let cert = params.signed_by(&key, &*self.ca)?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let mut config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(vec![cert.der().clone()], key)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok((serial, Arc::new(config)))
    }

    /// The currently published CRL.
    pub fn published_crl(&self) -> CertificateRevocationListDer<'static> {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .published
            .clone()
    }

    /// Marks a certificate revoked at the CA; servers see it after [`Pki::publish_crl`] and a
    /// reload of their TLS configuration.
    pub fn revoke(&self, serial: u64) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if !s.revoked.contains(&serial) {
            s.revoked.push(serial);
        }
    }

    /// Signs and publishes a CRL listing every certificate revoked so far.
    pub fn publish_crl(&self) -> Result<(), PkiError> {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.crl_number += 1;
        s.published = Self::sign_crl(&self.ca, &s.revoked, s.crl_number)?;
        Ok(())
    }

    /// A server TLS configuration with the currently published CRL: client certificates are
    /// optional (bearer and DPoP clients send none) but, when sent, must chain to the CA and not
    /// be on the CRL.
    pub fn server_config(&self) -> Result<Arc<ServerConfig>, PkiError> {
        let crl = self.published_crl();
        let mut roots = RootCertStore::empty();
        roots.add(self.ca.der().clone())?;
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
            .with_crls([crl])
            .only_check_end_entity_revocation()
            .allow_unauthenticated()
            .build()?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server_key.clone()));
        let mut config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_client_cert_verifier(verifier)
            .with_single_cert(self.server_chain.clone(), key)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}
