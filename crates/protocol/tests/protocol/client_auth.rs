//! private_key_jwt client assertions through the sans-IO JWKS cache.

use leaklab_protocol::client_auth::{
    create_client_assertion, parse_jwks, verify_client_assertion, AssertionPolicy, ClientAuthError,
    JwksCache, JwksError, KeyLookupError,
};
use leaklab_protocol::oauth_error::OAuthError;
use leaklab_protocol::replay::MemoryReplayStore;
use leaklab_protocol::signer::Signer;
use serde_json::json;

use crate::common::{key, raw_jws, rng};

const NOW: i64 = 1_700_000_000;
const CLIENT: &str = "client-1";
const TOKEN_EP: &str = "https://as.example/token";

fn jwks(keys: &[(u8, &str)]) -> String {
    let keys: Vec<_> = keys
        .iter()
        .map(|(n, kid)| {
            let mut j = key(*n).public_jwk().to_json();
            j["kid"] = (*kid).into();
            j["use"] = "sig".into();
            j
        })
        .collect();
    json!({ "keys": keys }).to_string()
}

fn assertion(signer: u8, kid: &str, now: i64) -> String {
    create_client_assertion(
        &mut key(signer),
        Some(kid),
        CLIENT,
        TOKEN_EP,
        now,
        60,
        &mut rng(now as u64 + signer as u64),
    )
    .expect("sign")
}

fn check(
    a: &str,
    cache: &JwksCache,
    store: &mut MemoryReplayStore,
    now: i64,
) -> Result<(), ClientAuthError> {
    verify_client_assertion(
        a,
        CLIENT,
        TOKEN_EP,
        &AssertionPolicy::default(),
        cache,
        store,
        now,
    )
    .map(|_| ())
}

#[test]
fn removed_key_keeps_verifying_until_the_cache_ages_out() {
    let max_age = 300;
    let mut cache = JwksCache::new(max_age);
    let mut store = MemoryReplayStore::new(64);
    assert!(cache.refetch_due(CLIENT, NOW));
    assert_eq!(
        check(&assertion(1, "k1", NOW), &cache, &mut store, NOW).map_err(|e| e.reason()),
        Err("jwks_refetch_due")
    );
    assert_eq!(
        cache.store(CLIENT, &jwks(&[(1, "k1"), (2, "k2")]), NOW),
        Ok(2)
    );
    check(&assertion(1, "k1", NOW), &cache, &mut store, NOW).expect("k1 verifies");
    // The client removes k1 (leak) at NOW+10 and publishes a new JWKS, but the AS does not
    // refetch before the max-age: k1 keeps verifying.
    let published = jwks(&[(2, "k2")]);
    let t = NOW + max_age - 1;
    assert!(!cache.refetch_due(CLIENT, t));
    check(&assertion(1, "k1", t), &cache, &mut store, t).expect("stale key still accepted");
    // Aged out: the cache demands a refetch, then k1 is gone.
    let t = NOW + max_age;
    assert!(cache.refetch_due(CLIENT, t));
    assert_eq!(
        check(&assertion(1, "k1", t), &cache, &mut store, t),
        Err(ClientAuthError::Key(KeyLookupError::RefetchDue))
    );
    cache.store(CLIENT, &published, t).expect("store");
    assert_eq!(
        check(&assertion(1, "k1", t), &cache, &mut store, t),
        Err(ClientAuthError::Key(KeyLookupError::UnknownKid(Some(
            "k1".into()
        ))))
    );
    check(&assertion(2, "k2", t), &cache, &mut store, t).expect("k2 verifies");
}

#[test]
fn every_assertion_check() {
    let mut cache = JwksCache::new(3600);
    cache
        .store(CLIENT, &jwks(&[(1, "k1")]), NOW)
        .expect("store");
    let signed = |claims: serde_json::Value| {
        raw_jws(&json!({"alg": "ES256", "kid": "k1"}), &claims, &mut key(1))
    };
    let base =
        json!({"iss": CLIENT, "sub": CLIENT, "aud": TOKEN_EP, "exp": NOW + 60, "jti": "a-1"});
    let with = |k: &str, v: serde_json::Value| {
        let mut c = base.clone();
        c[k] = v;
        signed(c)
    };
    let without = |k: &str| {
        let mut c = base.clone();
        c.as_object_mut().expect("object").remove(k);
        signed(c)
    };
    let cases: Vec<(String, &str)> = vec![
        ("x".repeat(9000), "size"),
        ("a.b".into(), "jwt_syntax"),
        (
            raw_jws(&json!({"alg": "HS256", "kid": "k1"}), &base, &mut key(1)),
            "alg",
        ),
        (
            raw_jws(&json!({"alg": "ES256", "kid": "nope"}), &base, &mut key(1)),
            "unknown_kid",
        ),
        (
            raw_jws(&json!({"alg": "ES256", "kid": "k1"}), &base, &mut key(2)),
            "signature",
        ),
        (with("iss", "other".into()), "iss"),
        (with("sub", "other".into()), "sub"),
        (with("aud", "https://as.example/other".into()), "aud"),
        (with("aud", json!(["https://rs.example"])), "aud"),
        (without("exp"), "required_claims"),
        (without("jti"), "required_claims"),
        (with("exp", (NOW - 20).into()), "exp"),
        (with("exp", (NOW + 3600).into()), "exp_lifetime"),
        (with("nbf", (NOW + 100).into()), "nbf"),
    ];
    for (a, reason) in cases {
        let mut store = MemoryReplayStore::new(8);
        let e = check(&a, &cache, &mut store, NOW).expect_err(reason);
        assert_eq!(e.reason(), reason, "{e}");
        assert_eq!(e.oauth_error(), OAuthError::InvalidClient);
    }
    // Accepted: aud as an array, no kid with a single-key JWKS; then replay and a full store.
    let mut store = MemoryReplayStore::new(1);
    check(
        &with("aud", json!(["x", TOKEN_EP])),
        &cache,
        &mut store,
        NOW,
    )
    .expect("valid");
    let no_kid = raw_jws(
        &json!({"alg": "ES256"}),
        &json!({"iss": CLIENT, "sub": CLIENT, "aud": TOKEN_EP, "exp": NOW + 60, "jti": "a-2"}),
        &mut key(1),
    );
    assert_eq!(
        check(&no_kid, &cache, &mut MemoryReplayStore::new(1), NOW),
        Ok(())
    );
    assert_eq!(
        check(
            &with("aud", json!(["x", TOKEN_EP])),
            &cache,
            &mut store,
            NOW
        )
        .map_err(|e| e.reason()),
        Err("jti_replay")
    );
    assert_eq!(
        check(&no_kid, &cache, &mut store, NOW).map_err(|e| e.reason()),
        Err("replay_store_full")
    );
}

#[test]
fn jwks_documents() {
    assert_eq!(parse_jwks("not json"), Err(JwksError::NotJson));
    assert_eq!(parse_jwks("{}"), Err(JwksError::NoKeys));
    let mut private = key(1).public_jwk().to_json();
    private["d"] = "AAAA".into();
    assert_eq!(
        parse_jwks(&json!({"keys": [private]}).to_string()),
        Err(JwksError::PrivateKey(0))
    );
    // Unknown key types are skipped, not fatal.
    let doc = json!({"keys": [{"kty": "foo"}, key(1).public_jwk().to_json()]}).to_string();
    assert_eq!(parse_jwks(&doc).expect("parses").len(), 1);
    // Two keys and no kid: ambiguous.
    let mut cache = JwksCache::new(60);
    cache
        .store(CLIENT, &jwks(&[(1, "a"), (2, "b")]), NOW)
        .expect("store");
    assert_eq!(
        cache.lookup(CLIENT, None, NOW),
        Err(KeyLookupError::UnknownKid(None))
    );
    assert_eq!(
        cache.lookup(CLIENT, Some("b"), NOW).expect("b"),
        key(2).public_jwk()
    );
}
