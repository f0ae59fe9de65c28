//! Fault and bad-input tests against the real servers: HTTPS on 127.0.0.1, SQLite state, the
//! injected clock set by the test. Every request loop here is bounded in count.

use std::sync::Arc;

use leaklab_protocol::proof::{self, ProofKind, ProofParams};
use leaklab_protocol::signer::{Signer, SoftwareSigner};
use leaklab_protocol::token_endpoint::{ClientMetadata, RtBinding};
use leaklab_testbed::ManualClock;
use leaklab_testbed::{Admin, ClientAuth, HttpClient, Refusal, Tokens};
use leaklab_testbed::{BedConfig, Testbed};
use leaklab_testbed::{ClientAuthMethod, ClientConfig, ReplayBackend, ReplayLimits};
use rand::rngs::OsRng;

const NOW: i64 = 1_900_000_000;

struct Lab {
    bed: Testbed,
    clock: ManualClock,
    http: HttpClient,
    admin: Admin,
    _dir: tempfile::TempDir,
}

async fn lab(tweak: impl FnOnce(&mut BedConfig)) -> Lab {
    let dir = tempfile::tempdir().unwrap();
    let mut config = BedConfig::new(dir.path());
    tweak(&mut config);
    let clock = ManualClock::new(NOW);
    let bed = Testbed::start(&config, Arc::new(clock.clone()))
        .await
        .unwrap();
    let http = HttpClient::new(&bed.pki.ca_pem(), None, true).unwrap();
    let admin = Admin {
        http: http.clone(),
        as_url: bed.as_url(),
        token: bed.admin_token.clone(),
    };
    Lab {
        bed,
        clock,
        http,
        admin,
        _dir: dir,
    }
}

fn dpop_client(id: &str, rotation: bool) -> ClientConfig {
    ClientConfig {
        client_id: id.into(),
        auth: ClientAuthMethod::None,
        metadata: ClientMetadata {
            dpop_bound_access_tokens: true,
            dpop_bound_refresh_tokens: false,
        },
        rotation,
        reuse_detection: rotation,
        certificate_bound_access_tokens: false,
    }
}

/// A `private_key_jwt` client with its JWKS at `jwks_uri` (bearer tokens, no rotation).
fn jwt_client(id: &str, jwks_uri: &str, check_host_revocation: bool) -> ClientConfig {
    ClientConfig {
        client_id: id.into(),
        auth: ClientAuthMethod::PrivateKeyJwt {
            jwks_uri: jwks_uri.into(),
            check_host_revocation,
        },
        metadata: ClientMetadata::default(),
        rotation: false,
        reuse_detection: false,
        certificate_bound_access_tokens: false,
    }
}

fn proof_at(
    key: &mut SoftwareSigner,
    kind: ProofKind,
    htm: &str,
    htu: &str,
    iat: i64,
    at: Option<&str>,
    rt: Option<&str>,
) -> String {
    let mut p = ProofParams::new(kind, htm, htu, iat);
    p.access_token = at;
    p.refresh_token = rt;
    proof::create(&p, key, &mut OsRng).unwrap()
}

impl Lab {
    fn now(&self) -> i64 {
        use leaklab_testbed::Clock;
        self.clock.now()
    }

    fn api(&self, instance: usize) -> String {
        format!("{}/api/records", self.bed.rs_urls()[instance])
    }

    /// Registers a DPoP client, provisions a grant, refreshes once with `key`: the access token.
    async fn dpop_token(&self, client: &str, key: &mut SoftwareSigner) -> (Tokens, String) {
        self.admin
            .register(&dpop_client(client, false))
            .await
            .unwrap();
        let (_, rt) = self
            .admin
            .provision(
                client,
                "alice",
                &RtBinding::DpopJkt(key.public_jwk().thumbprint()),
            )
            .await
            .unwrap();
        let p = proof_at(
            key,
            ProofKind::Dpop,
            "POST",
            &self.bed.token_url(),
            self.now(),
            None,
            None,
        );
        let tokens = self
            .http
            .refresh(
                &self.bed.token_url(),
                &rt,
                &ClientAuth::ClientId(client.into()),
                Some(&p),
                None,
            )
            .await
            .unwrap()
            .expect("refresh");
        (tokens, rt)
    }

    /// A fresh DPoP proof by `key` for `at`: `GET` of the public API URL (the first
    /// instance's, which both serve), issued now.
    fn api_proof(&self, key: &mut SoftwareSigner, at: &str) -> String {
        proof_at(
            key,
            ProofKind::Dpop,
            "GET",
            &self.api(0),
            self.now(),
            Some(at),
            None,
        )
    }

    async fn call(
        &self,
        instance: usize,
        at: &str,
        proof: Option<&str>,
    ) -> Result<serde_json::Value, Refusal> {
        self.http
            .call(&self.api(instance), at, proof)
            .await
            .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_refreshes_with_one_rotated_token_one_wins_and_the_family_is_revoked() {
    let lab = lab(|_| {}).await;
    let client = ClientConfig {
        metadata: ClientMetadata::default(),
        ..dpop_client("rotating", true)
    };
    lab.admin.register(&client).await.unwrap();
    let (_, rt) = lab
        .admin
        .provision("rotating", "bob", &RtBinding::None)
        .await
        .unwrap();
    let auth = ClientAuth::ClientId("rotating".into());
    let url = lab.bed.token_url();
    let mut attempts = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (http, url, rt, auth) = (lab.http.clone(), url.clone(), rt.clone(), auth.clone());
        attempts.spawn(async move { http.refresh(&url, &rt, &auth, None, None).await.unwrap() });
    }
    let answers = attempts.join_all().await;
    let winners: Vec<&Tokens> = answers.iter().filter_map(|a| a.as_ref().ok()).collect();
    assert_eq!(
        winners.len(),
        1,
        "exactly one of 8 concurrent refreshes wins: {answers:?}"
    );
    for a in answers.iter().filter_map(|a| a.as_ref().err()) {
        assert_eq!(a.error, "invalid_grant", "{a:?}");
    }
    // The losers presented a rotated token: reuse detection revoked the family, the winner's
    // new refresh token included.
    let new_rt = winners[0]
        .refresh_token
        .clone()
        .expect("rotated refresh token");
    let after = lab
        .http
        .refresh(&url, &new_rt, &auth, None, None)
        .await
        .unwrap();
    assert_eq!(after.unwrap_err().error, "invalid_grant");
    lab.bed.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proof_replayed_at_the_other_resource_server_instance_is_refused() {
    for backend in [ReplayBackend::Sqlite, ReplayBackend::Memory] {
        replayed_at_the_other_instance(backend).await;
    }
}

async fn replayed_at_the_other_instance(backend: ReplayBackend) {
    let lab = lab(|c| c.rs_replay = backend).await;
    let mut key = SoftwareSigner::generate(&mut OsRng);
    let (tokens, _) = lab.dpop_token("replay", &mut key).await;
    assert_eq!(tokens.token_type, "DPoP");
    // Both instances serve one public URL (the first one's); the proof names it.
    let p0 = lab.api_proof(&mut key, &tokens.access_token);
    assert!(lab.call(0, &tokens.access_token, Some(&p0)).await.is_ok());
    let other = lab
        .call(1, &tokens.access_token, Some(&p0))
        .await
        .unwrap_err();
    assert_eq!(
        (other.status, other.error.as_str()),
        (401, "invalid_dpop_proof")
    );
    assert!(
        other.description.contains("replay") || other.description.contains("jti"),
        "{backend:?}: {other:?}"
    );
    // A fresh proof works at either instance.
    let p1 = lab.api_proof(&mut key, &tokens.access_token);
    assert!(lab.call(1, &tokens.access_token, Some(&p1)).await.is_ok());
    lab.bed.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_clear_errors_and_the_servers_keep_answering() {
    let lab = lab(|_| {}).await;
    let mut key = SoftwareSigner::generate(&mut OsRng);
    let (tokens, _) = lab.dpop_token("bad-input", &mut key).await;
    let raw = lab.http.raw();
    let api = lab.api(0);

    // Oversized request head: refused by the HTTP layer with 431.
    let big = "x".repeat(20_000);
    let r = raw.get(&api).header("X-Big", &big).send().await.unwrap();
    assert_eq!(r.status(), 431);
    // Oversized body at the token endpoint: 413.
    let r = raw
        .post(lab.bed.token_url())
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("grant_type=refresh_token&refresh_token={big}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    // Malformed access token: 401 invalid_token with a challenge.
    let r = raw
        .get(&api)
        .header("Authorization", "DPoP not.a.jwt")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r
        .headers()
        .get("www-authenticate")
        .unwrap()
        .to_str()
        .unwrap()
        .contains("invalid_token"));
    // Malformed proof.
    let e = lab
        .call(0, &tokens.access_token, Some("a.b"))
        .await
        .unwrap_err();
    assert_eq!((e.status, e.error.as_str()), (401, "invalid_dpop_proof"));
    // Two Authorization headers.
    let r = raw
        .get(&api)
        .header("Authorization", "Bearer a")
        .header("Authorization", "Bearer b")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // A proof with a `crit` header parameter (RFC 7515 §4.1.11): refused.
    let crit = {
        let mut header = serde_json::Map::new();
        header.insert("typ".into(), "dpop+jwt".into());
        header.insert("alg".into(), "ES256".into());
        header.insert("jwk".into(), key.public_jwk().to_json());
        header.insert("crit".into(), serde_json::json!(["exp"]));
        let mut claims = serde_json::Map::new();
        claims.insert("jti".into(), "crit-1".into());
        claims.insert("htm".into(), "GET".into());
        claims.insert("htu".into(), api.clone().into());
        claims.insert("iat".into(), lab.now().into());
        claims.insert("ath".into(), proof::ath(&tokens.access_token).into());
        leaklab_protocol::jws::sign(header, &claims, &mut key).unwrap()
    };
    let e = lab
        .call(0, &tokens.access_token, Some(&crit))
        .await
        .unwrap_err();
    assert_eq!(e.error, "invalid_dpop_proof", "{e:?}");
    // Refused while parsing the JWS (`jws::parse` refuses any `crit`); without `crit` the same
    // proof is accepted (the good request at the end of this test).
    assert_eq!(e.description, "jwt_syntax", "{e:?}");
    // Token endpoint: repeated parameter, wrong content type, unknown grant.
    for (ctype, body, want) in [
        (
            "application/x-www-form-urlencoded",
            "grant_type=refresh_token&grant_type=refresh_token&refresh_token=x",
            "invalid_request",
        ),
        ("application/json", "{}", "invalid_request"),
        (
            "application/x-www-form-urlencoded",
            "grant_type=password",
            "unsupported_grant_type",
        ),
        (
            "application/x-www-form-urlencoded",
            "grant_type=refresh_token&refresh_token=nope&client_id=bad-input",
            "invalid_grant",
        ),
    ] {
        let r = raw
            .post(lab.bed.token_url())
            .header("Content-Type", ctype)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{body}");
        let v: serde_json::Value = r.json_or_null().await;
        assert_eq!(v["error"], want, "{body}: {v}");
    }
    // Still answering a good request.
    let p = proof_at(
        &mut key,
        ProofKind::Dpop,
        "GET",
        &api,
        lab.now(),
        Some(&tokens.access_token),
        None,
    );
    assert!(lab.call(0, &tokens.access_token, Some(&p)).await.is_ok());
    lab.bed.stop().await;
}

trait JsonOrNull {
    async fn json_or_null(self) -> serde_json::Value;
}

impl JsonOrNull for reqwest::Response {
    async fn json_or_null(self) -> serde_json::Value {
        serde_json::from_slice(&self.bytes().await.unwrap_or_default())
            .unwrap_or(serde_json::Value::Null)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proof_iat_is_accepted_exactly_within_the_window_and_skew() {
    let lab = lab(|c| {
        c.proof_max_age_secs = 300;
        c.proof_max_future_skew_secs = 10;
    })
    .await;
    let mut key = SoftwareSigner::generate(&mut OsRng);
    let (tokens, _) = lab.dpop_token("skew", &mut key).await;
    let now = lab.now();
    for (iat, ok) in [
        (now - 300, true),
        (now - 301, false),
        (now + 10, true),
        (now + 11, false),
    ] {
        let p = proof_at(
            &mut key,
            ProofKind::Dpop,
            "GET",
            &lab.api(0),
            iat,
            Some(&tokens.access_token),
            None,
        );
        let r = lab.call(0, &tokens.access_token, Some(&p)).await;
        assert_eq!(r.is_ok(), ok, "iat = now {:+}: {r:?}", iat - now);
    }
    lab.bed.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nonce_challenge_is_answered_in_a_bounded_loop() {
    let lab = lab(|c| c.nonce_lifetime_secs = Some(60)).await;
    let mut key = SoftwareSigner::generate(&mut OsRng);
    lab.admin
        .register(&dpop_client("noncey", false))
        .await
        .unwrap();
    let (_, rt) = lab
        .admin
        .provision(
            "noncey",
            "carol",
            &RtBinding::DpopJkt(key.public_jwk().thumbprint()),
        )
        .await
        .unwrap();
    let url = lab.bed.token_url();
    let auth = ClientAuth::ClientId("noncey".into());
    let mut nonce: Option<String> = None;
    let mut tokens = None;
    // At most three attempts: the first is refused with a nonce, the second must succeed.
    for attempt in 0..3 {
        let mut p = ProofParams::new(ProofKind::Dpop, "POST", &url, lab.now());
        p.nonce = nonce.as_deref();
        let proof = proof::create(&p, &mut key, &mut OsRng).unwrap();
        match lab
            .http
            .refresh(&url, &rt, &auth, Some(&proof), None)
            .await
            .unwrap()
        {
            Ok(t) => {
                tokens = Some((attempt, t));
                break;
            }
            Err(r) => {
                assert_eq!(r.error, "use_dpop_nonce", "{r:?}");
                nonce = Some(r.nonce.expect("DPoP-Nonce header"));
            }
        }
    }
    let (attempt, tokens) = tokens.expect("refresh with the server's nonce");
    assert_eq!(attempt, 1);
    // The nonce expires after one to two lifetimes.
    lab.clock.set(lab.now() + 121);
    let api = lab.api(0);
    let mut p = ProofParams::new(ProofKind::Dpop, "GET", &api, lab.now());
    p.nonce = nonce.as_deref();
    p.access_token = Some(&tokens.access_token);
    let proof = proof::create(&p, &mut key, &mut OsRng).unwrap();
    let stale = lab
        .call(0, &tokens.access_token, Some(&proof))
        .await
        .unwrap_err();
    assert_eq!(stale.error, "use_dpop_nonce");
    lab.bed.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_throwaway_keys_locks_out_only_its_grant_and_a_full_store_is_a_server_error() {
    let lab = lab(|c| {
        c.failures_per_minute = 20;
        c.replay = ReplayLimits {
            capacity: 1_000,
            per_owner: 6,
            ..ReplayLimits::default()
        };
    })
    .await;
    let mut alice_key = SoftwareSigner::generate(&mut OsRng);
    let (alice, _) = lab.dpop_token("flood-a", &mut alice_key).await;
    let mut bob_key = SoftwareSigner::generate(&mut OsRng);
    let (bob, _) = lab.dpop_token("flood-b", &mut bob_key).await;
    // 30 proofs with fresh keys and alice's token: key-binding failures, then 429.
    let mut statuses = Vec::new();
    for _ in 0..30 {
        let mut k = SoftwareSigner::generate(&mut OsRng);
        let p = lab.api_proof(&mut k, &alice.access_token);
        statuses.push(
            lab.call(0, &alice.access_token, Some(&p))
                .await
                .unwrap_err()
                .status,
        );
    }
    assert!(statuses[..20].iter().all(|s| *s == 401), "{statuses:?}");
    assert!(statuses[20..].iter().all(|s| *s == 429), "{statuses:?}");
    // Bob is not affected.
    let p = lab.api_proof(&mut bob_key, &bob.access_token);
    assert!(lab.call(0, &bob.access_token, Some(&p)).await.is_ok());
    // Bob's replay-store quota (6 live entries): the 7th valid proof is a 429, not a proof error.
    let mut last = None;
    for _ in 0..6 {
        let p = lab.api_proof(&mut bob_key, &bob.access_token);
        last = Some(lab.call(1, &bob.access_token, Some(&p)).await);
    }
    let refused = last.unwrap().unwrap_err();
    assert_eq!(
        (refused.status, refused.error.as_str()),
        (429, "slow_down"),
        "{refused:?}"
    );
    lab.bed.stop().await;

    // A store at capacity answers 503 temporarily_unavailable.
    let lab = self::lab(|c| {
        c.replay = ReplayLimits {
            capacity: 2,
            per_owner: 100,
            ..ReplayLimits::default()
        }
    })
    .await;
    let mut key = SoftwareSigner::generate(&mut OsRng);
    let (t, _) = lab.dpop_token("full", &mut key).await;
    let mut answers = Vec::new();
    for _ in 0..3 {
        let p = lab.api_proof(&mut key, &t.access_token);
        answers.push(
            lab.call(0, &t.access_token, Some(&p))
                .await
                .map(|_| 200)
                .unwrap_or_else(|r| r.status),
        );
    }
    assert_eq!(answers, vec![200, 200, 503]);
    lab.bed.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_introspection_and_provider_revoke_all() {
    let lab = lab(|c| c.at_revocation = leaklab_testbed::AtRevocation::Introspection).await;
    let mut key = SoftwareSigner::generate(&mut OsRng);
    let (tokens, rt) = lab.dpop_token("revocable", &mut key).await;
    let introspect = |token: String| {
        let raw = lab.http.raw().clone();
        let url = format!("{}/introspect", lab.bed.as_url());
        let admin = lab.bed.admin_token.clone();
        async move {
            let r = raw
                .post(url)
                .header("Authorization", format!("Bearer {admin}"))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(format!("token={token}"))
                .send()
                .await
                .unwrap();
            r.json_or_null().await
        }
    };
    let active = introspect(tokens.access_token.clone()).await;
    assert_eq!(active["active"], true, "{active}");
    assert_eq!(active["cnf"]["jkt"], key.public_jwk().thumbprint());
    // RFC 7009 revocation of the refresh token: the grant is gone, its access token inactive.
    let r = lab
        .http
        .raw()
        .post(format!("{}/revoke", lab.bed.as_url()))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("token={rt}&client_id=revocable"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        introspect(tokens.access_token.clone()).await["active"],
        false
    );
    let p = lab.api_proof(&mut key, &tokens.access_token);
    assert_eq!(
        lab.call(0, &tokens.access_token, Some(&p))
            .await
            .unwrap_err()
            .error,
        "invalid_token"
    );
    let p = proof_at(
        &mut key,
        ProofKind::Dpop,
        "POST",
        &lab.bed.token_url(),
        lab.now(),
        None,
        None,
    );
    let again = lab
        .http
        .refresh(
            &lab.bed.token_url(),
            &rt,
            &ClientAuth::ClientId("revocable".into()),
            Some(&p),
            None,
        )
        .await
        .unwrap();
    assert_eq!(again.unwrap_err().error, "invalid_grant");

    // The provider's revoke-all: another grant of another client stops at once.
    let mut k2 = SoftwareSigner::generate(&mut OsRng);
    let (t2, _) = lab.dpop_token("app", &mut k2).await;
    lab.admin.revoke_all("app").await.unwrap();
    let p = lab.api_proof(&mut k2, &t2.access_token);
    assert_eq!(
        lab.call(1, &t2.access_token, Some(&p))
            .await
            .unwrap_err()
            .error,
        "invalid_token"
    );
    lab.bed.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mtls_bound_tokens_stop_when_the_crl_is_published() {
    let lab = lab(|_| {}).await;
    let id = lab.bed.pki.issue_client("mtls-agent").unwrap();
    lab.admin
        .register(&ClientConfig {
            client_id: "mtls-agent".into(),
            auth: ClientAuthMethod::TlsClientAuth {
                x5t_s256: id.x5t_s256.clone(),
            },
            metadata: ClientMetadata::default(),
            rotation: false,
            reuse_detection: false,
            certificate_bound_access_tokens: true,
        })
        .await
        .unwrap();
    let (_, rt) = lab
        .admin
        .provision("mtls-agent", "dave", &RtBinding::ClientAuth)
        .await
        .unwrap();
    let with_cert = HttpClient::new(&lab.bed.pki.ca_pem(), Some(&id.pem), false).unwrap();
    let auth = ClientAuth::ClientId("mtls-agent".into());
    let t = with_cert
        .refresh(&lab.bed.token_url(), &rt, &auth, None, None)
        .await
        .unwrap()
        .unwrap();
    assert!(with_cert
        .call(&lab.api(0), &t.access_token, None)
        .await
        .unwrap()
        .is_ok());
    // Without the certificate the bound token is refused; without it the refresh too.
    assert_eq!(
        lab.http
            .call(&lab.api(0), &t.access_token, None)
            .await
            .unwrap()
            .unwrap_err()
            .status,
        401
    );
    assert_eq!(
        lab.http
            .refresh(&lab.bed.token_url(), &rt, &auth, None, None)
            .await
            .unwrap()
            .unwrap_err()
            .error,
        "invalid_client"
    );
    // Revoked and published: the TLS handshake refuses the certificate.
    lab.bed.pki.revoke(id.serial);
    lab.bed.publish_crl().unwrap();
    let refused = with_cert
        .refresh(&lab.bed.token_url(), &rt, &auth, None, None)
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(
        (refused.error.as_str(), refused.description.as_str()),
        ("tls_alert", "CertificateRevoked")
    );
    let refused = with_cert
        .call(&lab.api(0), &t.access_token, None)
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(refused.error, "tls_alert");
    lab.bed.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_key_jwt_through_the_fetched_jwks_until_the_key_is_removed() {
    let lab = lab(|c| c.jwks_max_age_secs = 3600).await;
    let mut key = SoftwareSigner::generate(&mut OsRng);
    let kid = key.public_jwk().thumbprint();
    let mut jwk = key.public_jwk().to_json();
    jwk["kid"] = kid.clone().into();
    lab.bed
        .jwks_docs
        .set("jwt-agent", serde_json::json!({"keys": [jwk]}).to_string());
    lab.admin
        .register(&jwt_client(
            "jwt-agent",
            &lab.bed.jwks_uri("jwt-agent"),
            false,
        ))
        .await
        .unwrap();
    let (_, rt) = lab
        .admin
        .provision("jwt-agent", "erin", &RtBinding::ClientAuth)
        .await
        .unwrap();
    let url = lab.bed.token_url();
    let assertion = |key: &mut SoftwareSigner, now: i64| {
        let a = leaklab_protocol::client_auth::create_client_assertion(
            key,
            Some(&kid),
            "jwt-agent",
            &url,
            now,
            60,
            &mut OsRng,
        )
        .unwrap();
        ClientAuth::Assertion(a)
    };
    let a = assertion(&mut key, lab.now());
    assert!(lab
        .http
        .refresh(&url, &rt, &a, None, None)
        .await
        .unwrap()
        .is_ok());
    // The same assertion again: a replay.
    assert_eq!(
        lab.http
            .refresh(&url, &rt, &a, None, None)
            .await
            .unwrap()
            .unwrap_err()
            .error,
        "invalid_client"
    );
    // Key removed from the JWKS: still accepted from the cache until it ages out.
    lab.bed.jwks_docs.set("jwt-agent", r#"{"keys":[]}"#.into());
    assert!(lab
        .http
        .refresh(&url, &rt, &assertion(&mut key, lab.now()), None, None)
        .await
        .unwrap()
        .is_ok());
    lab.clock.set(lab.now() + 3600);
    let refused = lab
        .http
        .refresh(&url, &rt, &assertion(&mut key, lab.now()), None, None)
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(refused.error, "invalid_client", "{refused:?}");
    lab.bed.stop().await;
}

/// The JWKS host's TLS key leaked: the attacker serves its own key under the host's name. The
/// provider fetches it on the unknown `kid` (at most once a minute), keeps it in its cache after
/// the certificate is revoked, and refuses the host at the next fetch: by the CRL when its
/// fetcher checks revocation, by the certificate's expiry on the provider's clock otherwise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hijacked_jwks_host_works_until_the_provider_refuses_its_certificate() {
    let lab = lab(|c| c.jwks_max_age_secs = 3600).await;
    let url = lab.bed.token_url();
    let t0 = lab.now();
    let expires = t0 + 7200;
    let jwk = |key: &SoftwareSigner| {
        let mut j = key.public_jwk().to_json();
        j["kid"] = key.public_jwk().thumbprint().into();
        j
    };
    let assertion = |key: &mut SoftwareSigner, client: &str, now: i64| {
        let kid = key.public_jwk().thumbprint();
        ClientAuth::Assertion(
            leaklab_protocol::client_auth::create_client_assertion(
                key,
                Some(&kid),
                client,
                &url,
                now,
                60,
                &mut OsRng,
            )
            .unwrap(),
        )
    };
    let mut legit = SoftwareSigner::generate(&mut OsRng);
    let mut thief = SoftwareSigner::generate(&mut OsRng);
    let mut clients = Vec::new();
    for (client, checks, not_after) in [("checks", true, None), ("expiry", false, Some(expires))] {
        let (serial, host) = lab.bed.start_jwks_host(not_after).await.unwrap();
        let doc = |keys: Vec<serde_json::Value>| serde_json::json!({ "keys": keys }).to_string();
        lab.bed.jwks_docs.set(client, doc(vec![jwk(&legit)]));
        lab.admin
            .register(&jwt_client(
                client,
                &format!("{}/jwks/{client}", host.base_url()),
                checks,
            ))
            .await
            .unwrap();
        let (_, rt) = lab
            .admin
            .provision(client, "frank", &RtBinding::ClientAuth)
            .await
            .unwrap();
        let a = assertion(&mut legit, client, t0);
        assert!(lab
            .http
            .refresh(&url, &rt, &a, None, None)
            .await
            .unwrap()
            .is_ok());
        clients.push((client, serial, host, rt));
    }
    let attempt = |rt: String, a: ClientAuth| {
        let (http, url) = (lab.http.clone(), url.clone());
        async move { http.refresh(&url, &rt, &a, None, None).await.unwrap() }
    };
    let refused = |r: Result<Tokens, Refusal>| {
        let r = r.unwrap_err();
        assert_eq!(r.error, "invalid_client", "{r:?}");
    };
    // An unknown kid makes the provider fetch again; the key is not there yet.
    for (client, _, _, rt) in &clients {
        refused(attempt(rt.clone(), assertion(&mut thief, client, t0)).await);
    }
    // The hijack: the attacker's key is served next to the agent's. Within a minute of the last
    // attempt the provider does not fetch again.
    for (client, _, _, _) in &clients {
        let keys = vec![jwk(&legit), jwk(&thief)];
        lab.bed
            .jwks_docs
            .set(client, serde_json::json!({ "keys": keys }).to_string());
    }
    lab.clock.set(t0 + 59);
    for (client, _, _, rt) in &clients {
        refused(attempt(rt.clone(), assertion(&mut thief, client, t0 + 59)).await);
    }
    // A minute later it fetches and takes the attacker's key.
    lab.clock.set(t0 + 60);
    for (client, _, _, rt) in &clients {
        let a = assertion(&mut thief, client, t0 + 60);
        assert!(attempt(rt.clone(), a).await.is_ok(), "{client}");
    }
    for (_, serial, _, _) in &clients {
        lab.bed.pki.revoke(*serial);
    }
    lab.bed.publish_crl().unwrap();
    // Revoked, but the cached copy still serves until it ages out.
    for (client, _, _, rt) in &clients {
        let a = assertion(&mut thief, client, t0 + 61);
        lab.clock.set(t0 + 61);
        assert!(attempt(rt.clone(), a).await.is_ok(), "{client}");
    }
    // Aged out: the checking fetcher refuses the revoked host; the other one does not check.
    let now = t0 + 60 + 3600;
    lab.clock.set(now);
    let (checks, expiry) = (&clients[0], &clients[1]);
    let refused = attempt(checks.3.clone(), assertion(&mut thief, checks.0, now))
        .await
        .unwrap_err();
    assert!(
        refused.description.contains("could not be fetched"),
        "{refused:?}"
    );
    assert!(
        attempt(expiry.3.clone(), assertion(&mut thief, expiry.0, now))
            .await
            .is_ok()
    );
    // Aged out again, past the certificate's expiry on the provider's clock.
    let now = t0 + 60 + 7200;
    assert!(now > expires);
    lab.clock.set(now);
    let refused = attempt(expiry.3.clone(), assertion(&mut thief, expiry.0, now))
        .await
        .unwrap_err();
    assert!(
        refused.description.contains("could not be fetched"),
        "{refused:?}"
    );
    for (_, _, host, _) in clients {
        host.stop().await;
    }
    lab.bed.stop().await;
}
