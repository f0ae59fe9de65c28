//! Access-token JWTs (RFC 9068) with cnf, introspection (V10), challenges (V12), x5t#S256 (V16).

use leaklab_protocol::access_token::{
    self, AccessTokenClaims, AccessTokenError, AtValidation, Audience, Confirmation,
};
use leaklab_protocol::challenge::{www_authenticate, Challenge};
use leaklab_protocol::introspection::{ActiveToken, Introspection};
use leaklab_protocol::jwk::Jwk;
use leaklab_protocol::jws;
use leaklab_protocol::oauth_error::OAuthError;
use leaklab_protocol::signer::Signer;
use serde_json::Value;

use crate::common::{key, vector, vectors};

const NOW: i64 = 1_700_000_000;

fn claims(cnf: Option<Confirmation>) -> AccessTokenClaims {
    AccessTokenClaims {
        iss: "https://as.example".into(),
        exp: NOW + 300,
        aud: Audience::One("https://rs.example".into()),
        sub: "alice".into(),
        client_id: "c1".into(),
        iat: NOW,
        jti: "at-1".into(),
        scope: Some("read".into()),
        cnf,
    }
}

fn validation(algs: &[String]) -> AtValidation<'_> {
    AtValidation {
        issuer: "https://as.example",
        audience: "https://rs.example",
        allowed_algs: algs,
        leeway_secs: 0,
        max_bytes: 8192,
    }
}

#[test]
fn at_jwt_round_trip_with_jkt_and_x5t() {
    let algs = vec!["ES256".to_string()];
    let mut as_key = key(10);
    let as_jwk = as_key.public_jwk().clone();
    let client_jkt = key(1).public_jwk().thumbprint();
    let cert_der = b"\x30\x82fake-der-certificate";
    for cnf in [
        Confirmation::Jkt(client_jkt.clone()),
        Confirmation::X5tS256(access_token::x5t_s256(cert_der)),
    ] {
        let c = claims(Some(cnf.clone()));
        let token = access_token::issue(&c, &mut as_key, Some("as-key-1")).expect("issue");
        let parsed = jws::parse(&token).expect("jws");
        assert_eq!(parsed.header_str("typ"), Some("at+jwt"));
        assert_eq!(parsed.header_str("kid"), Some("as-key-1"));
        let got = access_token::verify(&token, &as_jwk, &validation(&algs), NOW).expect("verifies");
        assert_eq!(got, c);
        let cnf = got.cnf.expect("cnf");
        assert_eq!(
            cnf.matches_jkt(&client_jkt),
            matches!(cnf, Confirmation::Jkt(_))
        );
        assert_eq!(
            cnf.matches_certificate(cert_der),
            matches!(cnf, Confirmation::X5tS256(_))
        );
        assert!(!cnf.matches_certificate(b"other"));
    }
}

#[test]
fn at_jwt_rejections() {
    let algs = vec!["ES256".to_string()];
    let mut as_key = key(10);
    let as_jwk = as_key.public_jwk().clone();
    let token = access_token::issue(&claims(None), &mut as_key, None).expect("issue");
    let v = validation(&algs);
    assert_eq!(
        access_token::verify(&token, &as_jwk, &v, NOW + 300),
        Err(AccessTokenError::Expired)
    );
    assert!(matches!(
        access_token::verify(&token, key(11).public_jwk(), &v, NOW),
        Err(AccessTokenError::Signature(_))
    ));
    let wrong_iss = AtValidation {
        issuer: "https://evil.example",
        ..validation(&algs)
    };
    assert_eq!(
        access_token::verify(&token, &as_jwk, &wrong_iss, NOW),
        Err(AccessTokenError::Issuer)
    );
    let wrong_aud = AtValidation {
        audience: "https://other.example",
        ..validation(&algs)
    };
    assert_eq!(
        access_token::verify(&token, &as_jwk, &wrong_aud, NOW),
        Err(AccessTokenError::Audience)
    );
    let small = AtValidation {
        max_bytes: 10,
        ..validation(&algs)
    };
    assert!(matches!(
        access_token::verify(&token, &as_jwk, &small, NOW),
        Err(AccessTokenError::TooLarge(_))
    ));
    // A DPoP proof is not an access token (typ confusion, RFC 9449 §11.5).
    let v6 = vector("rfc9449_proofs", "V6");
    assert_eq!(
        access_token::verify(v6["proof"].as_str().expect("proof"), &as_jwk, &v, NOW),
        Err(AccessTokenError::Typ)
    );
}

#[test]
fn v9_decodes_and_does_not_verify_with_the_dpop_key() {
    let v = vector("access_tokens", "V9");
    let token = v["token"].as_str().expect("token");
    let parsed = jws::parse(token).expect("jws");
    assert_eq!(Value::Object(parsed.header.clone()), v["header"]);
    assert_eq!(Value::Object(parsed.claims.clone()), v["claims"]);
    let cnf: Confirmation = serde_json::from_value(v["claims"]["cnf"].clone()).expect("cnf");
    let v1 = Jwk::from_json(&vector("thumbprints", "V1")["jwk"]).expect("V1");
    assert!(cnf.matches_jkt(&v1.thumbprint()));
    assert!(
        parsed.verify("ES256", &v1).is_err(),
        "signed by the (unpublished) AS key, not V1"
    );
}

#[test]
fn v16_x5t_is_compared_as_an_opaque_string() {
    let v = vector("access_tokens", "V16");
    let cnf: Confirmation = serde_json::from_value(v["cnf"].clone()).expect("cnf");
    let Confirmation::X5tS256(t) = &cnf else {
        panic!("x5t#S256 expected")
    };
    assert!(
        leaklab_protocol::b64::decode(t).is_err(),
        "not canonical base64url: strict decoding rejects it"
    );
    assert_eq!(serde_json::to_value(&cnf).expect("json"), v["cnf"]);
    assert!(!cnf.matches_certificate(b"anything"));
}

#[test]
fn introspection_v10_and_inactive() {
    for v in vectors("introspection")["vectors"]
        .as_array()
        .expect("array")
    {
        let parsed: Introspection = serde_json::from_value(v["response"].clone()).expect("parses");
        assert_eq!(
            serde_json::to_value(&parsed).expect("json"),
            v["response"],
            "{}",
            v["id"]
        );
    }
    let v10: Introspection =
        serde_json::from_value(vector("introspection", "V10")["response"].clone()).expect("V10");
    let Introspection::Active(t) = v10 else {
        panic!("active")
    };
    assert_eq!(
        t.cnf,
        Some(Confirmation::Jkt(
            "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I".into()
        ))
    );
    // Inactive reveals nothing, even when the input carried more.
    let i: Introspection = serde_json::from_str(r#"{"active":false,"sub":"x"}"#).expect("inactive");
    assert_eq!(
        serde_json::to_string(&i).expect("json"),
        r#"{"active":false}"#
    );
    assert!(
        serde_json::from_str::<Introspection>(r#"{"sub":"x"}"#).is_err(),
        "active is required"
    );
    // From an access token: DPoP-bound => token_type DPoP.
    let t = ActiveToken::for_access_token(&claims(Some(Confirmation::Jkt("j".into()))));
    assert_eq!(t.token_type.as_deref(), Some("DPoP"));
    let json = serde_json::to_value(Introspection::Active(Box::new(t))).expect("json");
    assert_eq!(json["active"], true);
    assert_eq!(json["cnf"]["jkt"], "j");
    let t = ActiveToken::for_access_token(&claims(None));
    assert_eq!(t.token_type.as_deref(), Some("Bearer"));
}

#[test]
fn challenges_v12() {
    for v in vectors("challenges")["vectors"].as_array().expect("array") {
        let mut challenges = Vec::new();
        for ch in v["challenges"].as_array().expect("challenges") {
            let mut c = match ch[0].as_str() {
                Some("DPoP") => Challenge::dpop(),
                Some("Bearer") => Challenge::bearer(),
                other => panic!("scheme {other:?}"),
            };
            for p in ch[1].as_array().expect("params") {
                let value = p[1].as_str().expect("value");
                c = match p[0].as_str().expect("name") {
                    "error" => c.error(value.parse::<OAuthError>().expect("known code")),
                    "error_description" => c.error_description(value),
                    "algs" => c.algs(&value.split(' ').collect::<Vec<_>>()),
                    other => panic!("param {other}"),
                };
            }
            challenges.push(c);
        }
        assert_eq!(
            www_authenticate(&challenges).expect("render"),
            v["header"].as_str().expect("header"),
            "{}",
            v["id"]
        );
    }
    // Header injection is refused.
    assert!(Challenge::dpop()
        .error_description("a\", error=\"x")
        .render()
        .is_err());
    assert!(Challenge::dpop()
        .error_description("line\r\nX-Evil: 1")
        .render()
        .is_err());
    assert_eq!(
        Challenge::dpop()
            .realm("r")
            .scope("s")
            .render()
            .expect("ok"),
        r#"DPoP realm="r", scope="s""#
    );
}
