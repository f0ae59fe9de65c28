//! A negative test for every verification check, DPoP and DPoP-RT, plus round trips.
//!
//! Each case starts from a valid proof and request, breaks one thing, and expects one reason and
//! one OAuth error code. The last test asserts every reason the verifier can produce is covered.

use std::collections::BTreeSet;

use leaklab_protocol::oauth_error::OAuthError;
use leaklab_protocol::proof::{self, ProofKind, ProofParams};
use leaklab_protocol::replay::{MemoryReplayStore, ReplayStore};
use leaklab_protocol::signer::Signer;
use leaklab_protocol::uri::NormalizedUri;
use leaklab_protocol::verify::{
    verify, NonceCheck, ProofRejection, ProofRequest, VerifiedProof, VerifyPolicy,
};
use serde_json::{json, Value};

use crate::common::{key, raw_jws, rng};

const NOW: i64 = 1_700_000_000;
const HTU: &str = "https://server.example.com/token";
const RT: &str = "Q..Zkm29lexi8VnWg2zPW1x-tgGad0Ibc3s3EwM_Ni4-g";
const AT: &str = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU";

/// A request/proof pair; every field can be broken by a case.
struct Setup {
    kind: ProofKind,
    header: Value,
    claims: Value,
    signer: u8,
    /// Replaces the signed proof text if set.
    text: Option<String>,
    extra_headers: usize,
    htm: &'static str,
    htu: &'static str,
    nonces: Option<Vec<&'static str>>,
    access_token: Option<&'static str>,
    expected_jkt: Option<String>,
    refresh_token: Option<&'static str>,
    other_jti: Option<&'static str>,
    policy: VerifyPolicy,
    store: MemoryReplayStore,
}

impl Setup {
    fn new(kind: ProofKind) -> Self {
        let jwk = key(1).public_jwk().to_json();
        let mut claims = json!({"jti": "jti-1", "htm": "POST", "htu": HTU, "iat": NOW});
        if kind == ProofKind::DpopRt {
            claims["rth"] = proof::rth(RT).into();
        }
        Setup {
            kind,
            header: json!({"typ": kind.typ(), "alg": "ES256", "jwk": jwk}),
            claims,
            signer: 1,
            text: None,
            extra_headers: 0,
            htm: "POST",
            htu: HTU,
            nonces: None,
            access_token: None,
            expected_jkt: None,
            refresh_token: (kind == ProofKind::DpopRt).then_some(RT),
            other_jti: (kind == ProofKind::DpopRt).then_some("dpop-jti"),
            policy: VerifyPolicy::default(),
            store: MemoryReplayStore::new(16),
        }
    }

    fn proof(&self) -> String {
        self.text
            .clone()
            .unwrap_or_else(|| raw_jws(&self.header, &self.claims, &mut key(self.signer)))
    }

    fn run(&mut self) -> Result<VerifiedProof, ProofRejection> {
        let proof = self.proof();
        let mut headers = vec![proof.as_str()];
        headers.extend(std::iter::repeat_n(proof.as_str(), self.extra_headers));
        let htu = NormalizedUri::parse(self.htu).expect("request htu");
        let req = ProofRequest {
            nonce: match &self.nonces {
                Some(n) => NonceCheck::OneOf(n),
                None => NonceCheck::NotRequired,
            },
            access_token: self.access_token,
            expected_jkt: self.expected_jkt.as_deref(),
            refresh_token: self.refresh_token,
            other_jti: self.other_jti,
            ..ProofRequest::new(self.kind, &headers, self.htm, &htu)
        };
        let mut store = std::mem::replace(&mut self.store, MemoryReplayStore::new(0));
        let out = verify(&req, &self.policy, NOW, &mut store);
        self.store = store;
        out
    }
}

type Mutation = fn(&mut Setup);

/// (reason, mutation) pairs valid for both kinds.
fn common_cases() -> Vec<(&'static str, Mutation)> {
    vec![
        ("missing_header", |s| s.extra_headers = usize::MAX), // handled specially below
        ("header_count", |s| s.extra_headers = 1),
        ("size", |s| s.policy.max_proof_bytes = 100),
        ("jwt_syntax", |s| {
            s.text = Some("eyJhbGciOiJFUzI1NiJ9.e30".into())
        }),
        ("jwt_syntax", |s| s.text = Some("a.b.c.d".into())),
        ("jwt_syntax", |s| s.text = Some(format!("{} ", s.proof()))),
        ("jwt_syntax", |s| {
            let p = s.proof();
            s.text = Some(p[..p.rfind('.').expect("dot") + 1].to_string()); // alg:none shape
        }),
        ("jwt_syntax", |s| s.text = Some("W10.e30.AAAA".into())), // header is a JSON array
        ("typ", |s| s.header["typ"] = "jwt".into()),
        ("typ", |s| {
            s.header.as_object_mut().expect("object").remove("typ");
        }),
        ("typ", |s| {
            s.header["typ"] = if s.kind == ProofKind::Dpop {
                "dpop-rt+jwt"
            } else {
                "dpop+jwt"
            }
            .into()
        }),
        ("alg_missing", |s| {
            s.header.as_object_mut().expect("object").remove("alg");
        }),
        ("alg_not_asymmetric", |s| s.header["alg"] = "none".into()),
        ("alg_not_asymmetric", |s| s.header["alg"] = "HS256".into()),
        ("alg_not_asymmetric", |s| {
            s.policy.allowed_algs.push("HS256".into()); // even if misconfigured
            s.header["alg"] = "HS256".into();
        }),
        ("alg_not_allowed", |s| s.header["alg"] = "RS256".into()),
        ("alg_unsupported", |s| {
            s.policy.allowed_algs.push("PS256".into());
            s.header["alg"] = "PS256".into();
        }),
        ("jwk_missing", |s| {
            s.header.as_object_mut().expect("object").remove("jwk");
        }),
        ("jwk_private", |s| {
            s.header["jwk"]["d"] = leaklab_protocol::b64::encode([1u8; 32]).into()
        }),
        ("jwk_invalid", |s| {
            s.header["jwk"].as_object_mut().expect("object").remove("y");
        }),
        ("jwk_invalid", |s| s.header["jwk"] = json!({"kty": "foo"})),
        ("signature", |s| s.signer = 2), // signed by another key than the header jwk
        ("signature", |s| {
            // Flip one signature character away from the end (keeps the base64url canonical).
            let mut p = s.proof().into_bytes();
            let i = p.len() - 5;
            p[i] = if p[i] == b'A' { b'B' } else { b'A' };
            s.text = Some(String::from_utf8(p).expect("ascii"));
        }),
        ("signature", |s| {
            s.header["jwk"] = json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"})
        }),
        ("required_claims", |s| {
            s.claims.as_object_mut().expect("object").remove("jti");
        }),
        ("required_claims", |s| {
            s.claims.as_object_mut().expect("object").remove("htm");
        }),
        ("required_claims", |s| {
            s.claims.as_object_mut().expect("object").remove("htu");
        }),
        ("required_claims", |s| {
            s.claims.as_object_mut().expect("object").remove("iat");
        }),
        ("required_claims", |s| s.claims["iat"] = "1700000000".into()),
        ("htm", |s| s.claims["htm"] = "GET".into()),
        ("htm", |s| s.claims["htm"] = "post".into()),
        ("htu_invalid", |s| s.claims["htu"] = "/token".into()),
        ("htu", |s| {
            s.claims["htu"] = "https://server.example.com/other".into()
        }),
        ("htu", |s| {
            s.claims["htu"] = "http://server.example.com/token".into()
        }),
        ("htu", |s| {
            s.claims["htu"] = "https://server.example.com:8443/token".into()
        }),
        ("nonce_missing", |s| s.nonces = Some(vec!["n-1"])),
        ("nonce_mismatch", |s| {
            s.nonces = Some(vec!["n-1", "n-2"]);
            s.claims["nonce"] = "n-0".into();
        }),
        ("iat_too_old", |s| s.claims["iat"] = (NOW - 61).into()),
        ("iat_in_future", |s| s.claims["iat"] = (NOW + 11).into()),
        ("key_binding", |s| {
            s.expected_jkt = Some(key(2).public_jwk().thumbprint())
        }),
        ("jti_replay", |s| {
            let htu = NormalizedUri::parse(HTU).expect("htu");
            let k = leaklab_protocol::replay::ReplayKey::proof(htu.as_str(), "jti-1");
            s.store
                .check_and_insert(k, NOW - 5, NOW + 100)
                .expect("seed store");
        }),
        ("replay_store_full", |s| s.store = MemoryReplayStore::new(0)),
    ]
}

fn dpop_only_cases() -> Vec<(&'static str, Mutation)> {
    vec![
        ("ath_missing", |s| s.access_token = Some(AT)),
        ("ath_mismatch", |s| {
            s.access_token = Some(AT);
            s.claims["ath"] = proof::ath("another token").into();
        }),
    ]
}

fn dpop_rt_only_cases() -> Vec<(&'static str, Mutation)> {
    vec![
        ("rth_missing", |s| {
            s.claims.as_object_mut().expect("object").remove("rth");
        }),
        ("rth_mismatch", |s| {
            s.claims["rth"] = proof::rth("another refresh token").into()
        }),
        ("rth_unexpected", |s| s.refresh_token = None), // e.g. at code exchange
        ("jti_not_distinct", |s| s.other_jti = Some("jti-1")),
    ]
}

fn expected_error(kind: ProofKind, reason: &str) -> OAuthError {
    match (kind, reason) {
        (ProofKind::Dpop, "nonce_missing" | "nonce_mismatch") => OAuthError::UseDpopNonce,
        (ProofKind::DpopRt, "nonce_missing" | "nonce_mismatch") => OAuthError::UseDpopRtNonce,
        (ProofKind::Dpop, "key_binding") => OAuthError::InvalidToken,
        (ProofKind::Dpop, _) => OAuthError::InvalidDpopProof,
        (ProofKind::DpopRt, _) => OAuthError::InvalidDpopRtProof,
    }
}

fn run_cases(kind: ProofKind, cases: Vec<(&'static str, Mutation)>) -> BTreeSet<&'static str> {
    let mut seen = BTreeSet::new();
    for (i, (reason, mutate)) in cases.into_iter().enumerate() {
        let mut s = Setup::new(kind);
        // The baseline passes.
        assert!(Setup::new(kind).run().is_ok(), "{kind:?} baseline");
        mutate(&mut s);
        let result = if s.extra_headers == usize::MAX {
            let htu = NormalizedUri::parse(HTU).expect("htu");
            verify(
                &ProofRequest::new(kind, &[], "POST", &htu),
                &s.policy,
                NOW,
                &mut s.store,
            )
        } else {
            s.run()
        };
        let err = result.expect_err(&format!("{kind:?} case #{i} ({reason}) should fail"));
        assert_eq!(err.reason(), reason, "{kind:?} case #{i}: {err}");
        assert_eq!(
            err.oauth_error(),
            expected_error(kind, reason),
            "{kind:?} case #{i} ({reason})"
        );
        seen.insert(reason);
    }
    seen
}

#[test]
fn every_dpop_check_has_a_negative_case() {
    let mut cases = common_cases();
    cases.extend(dpop_only_cases());
    run_cases(ProofKind::Dpop, cases);
}

#[test]
fn every_dpop_rt_check_has_a_negative_case() {
    let mut cases = common_cases();
    cases.extend(dpop_rt_only_cases());
    run_cases(ProofKind::DpopRt, cases);
}

#[test]
fn all_reasons_are_covered() {
    let mut seen = BTreeSet::new();
    let mut dpop = common_cases();
    dpop.extend(dpop_only_cases());
    seen.extend(run_cases(ProofKind::Dpop, dpop));
    seen.extend(run_cases(ProofKind::DpopRt, dpop_rt_only_cases()));
    let all = [
        "missing_header",
        "header_count",
        "size",
        "jwt_syntax",
        "typ",
        "alg_missing",
        "alg_not_asymmetric",
        "alg_not_allowed",
        "alg_unsupported",
        "jwk_missing",
        "jwk_private",
        "jwk_invalid",
        "signature",
        "required_claims",
        "htm",
        "htu_invalid",
        "htu",
        "nonce_missing",
        "nonce_mismatch",
        "iat_too_old",
        "iat_in_future",
        "ath_missing",
        "ath_mismatch",
        "rth_missing",
        "rth_mismatch",
        "rth_unexpected",
        "jti_not_distinct",
        "key_binding",
        "jti_replay",
        "replay_store_full",
    ];
    let all: BTreeSet<&str> = all.into_iter().collect();
    assert_eq!(seen, all);
}

#[test]
fn accepted_variants() {
    // htu normalisation (RFC 3986 §6.2.2/6.2.3) on the proof side, query/fragment ignored.
    for htu in [
        "HTTPS://Server.Example.COM:443/./token",
        "https://server.example.com/a/../token?x=1#y",
        "https://server.example.com/%74oken",
    ] {
        let mut s = Setup::new(ProofKind::Dpop);
        s.claims["htu"] = htu.into();
        s.run().unwrap_or_else(|e| panic!("{htu}: {e}"));
    }
    // iat window boundaries are inclusive; a fractional NumericDate is accepted.
    for iat in [json!(NOW - 60), json!(NOW + 10), json!(NOW as f64 + 0.5)] {
        let mut s = Setup::new(ProofKind::Dpop);
        s.claims["iat"] = iat.clone();
        s.run().unwrap_or_else(|e| panic!("{iat}: {e}"));
    }
    // A matching nonce, ath and key binding.
    let mut s = Setup::new(ProofKind::Dpop);
    s.nonces = Some(vec!["n-1", "n-2"]);
    s.claims["nonce"] = "n-2".into();
    s.access_token = Some(AT);
    s.claims["ath"] = proof::ath(AT).into();
    s.expected_jkt = Some(key(1).public_jwk().thumbprint());
    let v = s.run().expect("valid");
    assert_eq!(v.nonce.as_deref(), Some("n-2"));
    // DPoP-RT without an RT and without rth (code exchange).
    let mut s = Setup::new(ProofKind::DpopRt);
    s.refresh_token = None;
    s.claims.as_object_mut().expect("object").remove("rth");
    assert_eq!(s.run().expect("valid").rth, None);
}

/// A malformed authority in the proof's `htu` is refused, never normalised into a match
/// (`docs/protocol-notes.md#htu-comparison`).
#[test]
fn malformed_htu_authority_is_refused() {
    for htu in [
        "https://server.example.com:8443:443/token",
        "https://server.example.com]/token",
        "https://[server.example.com/token",
        "https://user@server.example.com/token",
        "https://server.example.com:99999/token",
    ] {
        let mut s = Setup::new(ProofKind::Dpop);
        s.claims["htu"] = htu.into();
        let e = s.run().expect_err(htu);
        assert_eq!(e.reason(), "htu_invalid", "{htu}");
        assert_eq!(e.oauth_error(), OAuthError::InvalidDpopProof, "{htu}");
    }
}

#[test]
fn failed_checks_do_not_burn_the_jti() {
    let mut s = Setup::new(ProofKind::Dpop);
    s.nonces = Some(vec!["n-1"]);
    s.claims["nonce"] = "n-1".into();
    s.htm = "GET";
    assert_eq!(s.run().expect_err("htm").reason(), "htm");
    s.htm = "POST";
    s.run()
        .expect("the same proof still passes after a rejected attempt");
    assert_eq!(s.run().expect_err("replay").reason(), "jti_replay");
}

#[test]
fn created_proofs_round_trip() {
    let mut signer = key(3);
    let mut r = rng(1);
    let htu = NormalizedUri::parse("https://rs.example/api").expect("htu");
    // DPoP at a resource server with ath, nonce and cnf.jkt.
    let params = ProofParams {
        access_token: Some(AT),
        nonce: Some("nn"),
        ..ProofParams::new(ProofKind::Dpop, "GET", "https://rs.example/api?q=1#f", NOW)
    };
    let p = proof::create(&params, &mut signer, &mut r).expect("create");
    let jkt = signer.public_jwk().thumbprint();
    let headers = [p.as_str()];
    let req = ProofRequest {
        nonce: NonceCheck::OneOf(&["nn"]),
        access_token: Some(AT),
        expected_jkt: Some(&jkt),
        ..ProofRequest::new(ProofKind::Dpop, &headers, "GET", &htu)
    };
    let mut store = MemoryReplayStore::new(4);
    let v = verify(&req, &VerifyPolicy::default(), NOW, &mut store).expect("verifies");
    assert_eq!(v.jkt, jkt);
    assert_eq!(v.jti.len(), 22, "128-bit jti");
    // DPoP-RT with rth.
    let params = ProofParams {
        refresh_token: Some(RT),
        ..ProofParams::new(ProofKind::DpopRt, "POST", HTU, NOW)
    };
    let p = proof::create(&params, &mut signer, &mut r).expect("create");
    let token_uri = NormalizedUri::parse(HTU).expect("htu");
    let headers = [p.as_str()];
    let req = ProofRequest {
        refresh_token: Some(RT),
        expected_jkt: Some(&jkt),
        other_jti: Some(&v.jti),
        ..ProofRequest::new(ProofKind::DpopRt, &headers, "POST", &token_uri)
    };
    let v = verify(&req, &VerifyPolicy::default(), NOW, &mut store).expect("verifies");
    assert_eq!(v.rth.as_deref(), Some(proof::rth(RT).as_str()));
    // Misuse is refused at creation.
    let bad = ProofParams {
        access_token: Some(AT),
        ..ProofParams::new(ProofKind::DpopRt, "POST", HTU, NOW)
    };
    assert!(proof::create(&bad, &mut signer, &mut r).is_err());
    let bad = ProofParams {
        refresh_token: Some(RT),
        ..ProofParams::new(ProofKind::Dpop, "POST", HTU, NOW)
    };
    assert!(proof::create(&bad, &mut signer, &mut r).is_err());
}

#[test]
fn signatures_verify_over_many_keys_and_messages() {
    // Enough signatures that r or s values with leading zero bytes occur (p ~ 1/128 each): the
    // fixed-width r || s encoding must round-trip through the verifier.
    let mut r = rng(9);
    let htu = NormalizedUri::parse(HTU).expect("htu");
    let mut store = MemoryReplayStore::new(2048);
    let mut short = 0;
    for i in 0..600u32 {
        let mut signer = key((i % 250 + 1) as u8);
        let p = proof::create(
            &ProofParams::new(ProofKind::Dpop, "POST", HTU, NOW),
            &mut signer,
            &mut r,
        )
        .expect("create");
        let sig = leaklab_protocol::b64::decode(p.rsplit('.').next().expect("sig")).expect("b64");
        if sig[0] == 0 || sig[32] == 0 {
            short += 1;
        }
        let headers = [p.as_str()];
        verify(
            &ProofRequest::new(ProofKind::Dpop, &headers, "POST", &htu),
            &VerifyPolicy::default(),
            NOW,
            &mut store,
        )
        .unwrap_or_else(|e| panic!("#{i}: {e}"));
    }
    assert!(short > 0, "no short r/s in 600 signatures");
}
