//! Decision-table tests for the AS token-endpoint binding function.

use leaklab_protocol::jwk::Jwk;
use leaklab_protocol::oauth_error::OAuthError;
use leaklab_protocol::proof::ProofKind;
use leaklab_protocol::token_endpoint::{
    decide, AtBinding, ClientMetadata, ClientType, GrantType, ProofOutcome, RtBinding, RtOutcome,
    TokenRequest,
};
use leaklab_protocol::verify::{ProofError, ProofRejection, VerifiedProof};

use GrantType::{AuthorizationCode as Code, RefreshToken as Refresh};

#[derive(Clone, Copy)]
enum P {
    No,
    /// Rejected by the verifier with a nonce error.
    BadNonce,
    /// Verified, key thumbprint and jti.
    Ok(&'static str, &'static str),
    /// Verified DPoP-RT whose rth presence is the opposite of what the grant implies.
    FlipRth(&'static str, &'static str),
}

#[derive(Clone, Copy)]
enum B {
    None,
    ClientAuth,
    Dpop(&'static str),
    DpopRt(&'static str),
}

fn binding(b: B) -> RtBinding {
    match b {
        B::None => RtBinding::None,
        B::ClientAuth => RtBinding::ClientAuth,
        B::Dpop(k) => RtBinding::DpopJkt(k.into()),
        B::DpopRt(k) => RtBinding::DpopRtJkt(k.into()),
    }
}

enum Want {
    Ok(Option<&'static str>, Rt),
    Err(&'static str, &'static str),
}

enum Rt {
    NotIssued,
    Issued(B),
    Rotated(B),
    Kept(B),
}

struct Case {
    name: &'static str,
    grant: GrantType,
    client: ClientType,
    /// (dpop_bound_access_tokens, dpop_bound_refresh_tokens)
    flags: (bool, bool),
    dpop: P,
    dpop_rt: P,
    rt: Option<B>,
    issue: bool,
    want: Want,
}

use ClientType::{Confidential as Conf, Public as Pub};

fn cases() -> Vec<Case> {
    let c = |name, grant, client, flags, dpop, dpop_rt, rt, issue, want| Case {
        name,
        grant,
        client,
        flags,
        dpop,
        dpop_rt,
        rt,
        issue,
        want,
    };
    let n = (false, false);
    vec![
        // Issuance (authorization_code).
        c(
            "public dpop binds AT and RT to DPoP key",
            Code,
            Pub,
            n,
            P::Ok("K1", "a"),
            P::No,
            None,
            true,
            Want::Ok(Some("K1"), Rt::Issued(B::Dpop("K1"))),
        ),
        c(
            "confidential dpop: RT bound by client auth",
            Code,
            Conf,
            n,
            P::Ok("K1", "a"),
            P::No,
            None,
            true,
            Want::Ok(Some("K1"), Rt::Issued(B::ClientAuth)),
        ),
        c(
            "confidential dpop-rt: RT key binding on top",
            Code,
            Conf,
            n,
            P::Ok("K1", "a"),
            P::Ok("R1", "b"),
            None,
            true,
            Want::Ok(Some("K1"), Rt::Issued(B::DpopRt("R1"))),
        ),
        c(
            "public dpop + dpop-rt: separate keys",
            Code,
            Pub,
            n,
            P::Ok("K1", "a"),
            P::Ok("R1", "b"),
            None,
            true,
            Want::Ok(Some("K1"), Rt::Issued(B::DpopRt("R1"))),
        ),
        c(
            "dpop-rt only: bearer AT, RT on RT key",
            Code,
            Pub,
            n,
            P::No,
            P::Ok("R1", "b"),
            None,
            true,
            Want::Ok(None, Rt::Issued(B::DpopRt("R1"))),
        ),
        c(
            "no proofs, public: bearer AT, unbound RT",
            Code,
            Pub,
            n,
            P::No,
            P::No,
            None,
            true,
            Want::Ok(None, Rt::Issued(B::None)),
        ),
        c(
            "no RT issued",
            Code,
            Pub,
            n,
            P::Ok("K1", "a"),
            P::No,
            None,
            false,
            Want::Ok(Some("K1"), Rt::NotIssued),
        ),
        c(
            "dpop_bound_access_tokens without DPoP",
            Code,
            Pub,
            (true, false),
            P::No,
            P::Ok("R1", "b"),
            None,
            true,
            Want::Err("invalid_dpop_proof", "dpop_required"),
        ),
        c(
            "dpop_bound_refresh_tokens without DPoP-RT",
            Code,
            Pub,
            (false, true),
            P::Ok("K1", "a"),
            P::No,
            None,
            true,
            Want::Err("invalid_dpop_rt_proof", "dpop_rt_required"),
        ),
        c(
            "dpop_bound_refresh_tokens, no RT issued",
            Code,
            Pub,
            (false, true),
            P::Ok("K1", "a"),
            P::No,
            None,
            false,
            Want::Ok(Some("K1"), Rt::NotIssued),
        ),
        c(
            "DPoP nonce error passes through",
            Code,
            Pub,
            n,
            P::BadNonce,
            P::No,
            None,
            true,
            Want::Err("use_dpop_nonce", "nonce_missing"),
        ),
        c(
            "DPoP-RT nonce error passes through",
            Code,
            Pub,
            n,
            P::Ok("K1", "a"),
            P::BadNonce,
            None,
            true,
            Want::Err("use_dpop_rt_nonce", "nonce_missing"),
        ),
        c(
            "both bad: DPoP error wins",
            Code,
            Pub,
            n,
            P::BadNonce,
            P::BadNonce,
            None,
            true,
            Want::Err("use_dpop_nonce", "nonce_missing"),
        ),
        c(
            "rth at code exchange",
            Code,
            Pub,
            n,
            P::Ok("K1", "a"),
            P::FlipRth("R1", "b"),
            None,
            true,
            Want::Err("invalid_dpop_rt_proof", "rth_unexpected"),
        ),
        c(
            "same jti in both proofs",
            Code,
            Pub,
            n,
            P::Ok("K1", "a"),
            P::Ok("R1", "a"),
            None,
            true,
            Want::Err("invalid_dpop_rt_proof", "jti_not_distinct"),
        ),
        c(
            "RT presented at code exchange",
            Code,
            Pub,
            n,
            P::Ok("K1", "a"),
            P::No,
            Some(B::None),
            true,
            Want::Err("invalid_request", "refresh_token_not_expected"),
        ),
        // Refresh: RFC 9449 dpop-jkt RTs.
        c(
            "refresh without RT",
            Refresh,
            Pub,
            n,
            P::Ok("K1", "a"),
            P::No,
            None,
            true,
            Want::Err("invalid_request", "refresh_token_missing"),
        ),
        c(
            "dpop-jkt RT, same DPoP key",
            Refresh,
            Pub,
            n,
            P::Ok("K1", "a"),
            P::No,
            Some(B::Dpop("K1")),
            true,
            Want::Ok(Some("K1"), Rt::Rotated(B::Dpop("K1"))),
        ),
        c(
            "dpop-jkt RT, other DPoP key",
            Refresh,
            Pub,
            n,
            P::Ok("K2", "a"),
            P::No,
            Some(B::Dpop("K1")),
            true,
            Want::Err("invalid_dpop_proof", "rt_key_binding"),
        ),
        c(
            "dpop-jkt RT, no proofs",
            Refresh,
            Pub,
            n,
            P::No,
            P::No,
            Some(B::Dpop("K1")),
            true,
            Want::Err("invalid_dpop_proof", "dpop_required"),
        ),
        c(
            "dpop-jkt RT proven by DPoP-RT with K1, new AT key: upgrade",
            Refresh,
            Pub,
            n,
            P::Ok("K2", "a"),
            P::Ok("K1", "b"),
            Some(B::Dpop("K1")),
            true,
            Want::Ok(Some("K2"), Rt::Rotated(B::DpopRt("K1"))),
        ),
        c(
            "dpop-jkt RT proven by DPoP, new RT key: upgrade",
            Refresh,
            Pub,
            n,
            P::Ok("K1", "a"),
            P::Ok("R1", "b"),
            Some(B::Dpop("K1")),
            true,
            Want::Ok(Some("K1"), Rt::Rotated(B::DpopRt("R1"))),
        ),
        c(
            "dpop-jkt RT, neither key matches",
            Refresh,
            Pub,
            n,
            P::Ok("K2", "a"),
            P::Ok("R1", "b"),
            Some(B::Dpop("K1")),
            true,
            Want::Err("invalid_dpop_rt_proof", "rt_key_binding"),
        ),
        c(
            "dpop-jkt RT, upgrade needs rotation",
            Refresh,
            Pub,
            n,
            P::Ok("K1", "a"),
            P::Ok("R1", "b"),
            Some(B::Dpop("K1")),
            false,
            Want::Ok(Some("K1"), Rt::Kept(B::Dpop("K1"))),
        ),
        c(
            "confidential dpop-jkt RT keeps its key",
            Refresh,
            Conf,
            n,
            P::Ok("K1", "a"),
            P::No,
            Some(B::Dpop("K1")),
            true,
            Want::Ok(Some("K1"), Rt::Rotated(B::Dpop("K1"))),
        ),
        c(
            "strict client: dpop-jkt RT counts as bound",
            Refresh,
            Pub,
            (false, true),
            P::Ok("K2", "a"),
            P::Ok("K1", "b"),
            Some(B::Dpop("K1")),
            true,
            Want::Ok(Some("K2"), Rt::Rotated(B::DpopRt("K1"))),
        ),
        // Refresh: DPoP-RT bound RTs.
        c(
            "dpop-rt-jkt RT, new AT key",
            Refresh,
            Pub,
            n,
            P::Ok("K2", "a"),
            P::Ok("R1", "b"),
            Some(B::DpopRt("R1")),
            true,
            Want::Ok(Some("K2"), Rt::Rotated(B::DpopRt("R1"))),
        ),
        c(
            "dpop-rt-jkt RT, DPoP-RT only: bearer AT",
            Refresh,
            Pub,
            n,
            P::No,
            P::Ok("R1", "b"),
            Some(B::DpopRt("R1")),
            true,
            Want::Ok(None, Rt::Rotated(B::DpopRt("R1"))),
        ),
        c(
            "dpop-rt-jkt RT, not rotated",
            Refresh,
            Pub,
            n,
            P::Ok("K2", "a"),
            P::Ok("R1", "b"),
            Some(B::DpopRt("R1")),
            false,
            Want::Ok(Some("K2"), Rt::Kept(B::DpopRt("R1"))),
        ),
        c(
            "dpop-rt-jkt RT, wrong RT key",
            Refresh,
            Pub,
            n,
            P::Ok("K2", "a"),
            P::Ok("R2", "b"),
            Some(B::DpopRt("R1")),
            true,
            Want::Err("invalid_dpop_rt_proof", "rt_key_binding"),
        ),
        c(
            "dpop-rt-jkt RT, DPoP-RT missing",
            Refresh,
            Pub,
            n,
            P::Ok("R1", "a"),
            P::No,
            Some(B::DpopRt("R1")),
            true,
            Want::Err("invalid_dpop_rt_proof", "dpop_rt_required"),
        ),
        c(
            "dpop-rt-jkt RT, rth missing",
            Refresh,
            Pub,
            n,
            P::Ok("K2", "a"),
            P::FlipRth("R1", "b"),
            Some(B::DpopRt("R1")),
            true,
            Want::Err("invalid_dpop_rt_proof", "rth_missing"),
        ),
        c(
            "dpop-rt-jkt RT, confidential",
            Refresh,
            Conf,
            n,
            P::Ok("K2", "a"),
            P::Ok("R1", "b"),
            Some(B::DpopRt("R1")),
            true,
            Want::Ok(Some("K2"), Rt::Rotated(B::DpopRt("R1"))),
        ),
        c(
            "dpop_bound_access_tokens at refresh",
            Refresh,
            Pub,
            (true, false),
            P::No,
            P::Ok("R1", "b"),
            Some(B::DpopRt("R1")),
            true,
            Want::Err("invalid_dpop_proof", "dpop_required"),
        ),
        // Refresh: client-auth and unbound RTs.
        c(
            "client-auth RT, confidential",
            Refresh,
            Conf,
            n,
            P::Ok("K1", "a"),
            P::No,
            Some(B::ClientAuth),
            true,
            Want::Ok(Some("K1"), Rt::Rotated(B::ClientAuth)),
        ),
        c(
            "client-auth RT upgraded by DPoP-RT",
            Refresh,
            Conf,
            n,
            P::Ok("K1", "a"),
            P::Ok("R1", "b"),
            Some(B::ClientAuth),
            true,
            Want::Ok(Some("K1"), Rt::Rotated(B::DpopRt("R1"))),
        ),
        c(
            "client-auth RT, public client",
            Refresh,
            Pub,
            n,
            P::Ok("K1", "a"),
            P::No,
            Some(B::ClientAuth),
            true,
            Want::Err(
                "invalid_grant",
                "rt_client_auth_requires_confidential_client",
            ),
        ),
        c(
            "strict client, client-auth RT is unbound",
            Refresh,
            Conf,
            (false, true),
            P::Ok("K1", "a"),
            P::Ok("R1", "b"),
            Some(B::ClientAuth),
            true,
            Want::Err("invalid_grant", "rt_unbound"),
        ),
        c(
            "strict client, unbound RT",
            Refresh,
            Pub,
            (false, true),
            P::Ok("K1", "a"),
            P::Ok("R1", "b"),
            Some(B::None),
            true,
            Want::Err("invalid_grant", "rt_unbound"),
        ),
        c(
            "strict client, no DPoP-RT at refresh",
            Refresh,
            Pub,
            (false, true),
            P::Ok("K1", "a"),
            P::No,
            Some(B::DpopRt("R1")),
            true,
            Want::Err("invalid_dpop_rt_proof", "dpop_rt_required"),
        ),
        c(
            "unbound RT, public with DPoP: becomes dpop-jkt",
            Refresh,
            Pub,
            n,
            P::Ok("K1", "a"),
            P::No,
            Some(B::None),
            true,
            Want::Ok(Some("K1"), Rt::Rotated(B::Dpop("K1"))),
        ),
        c(
            "unbound RT, no proofs",
            Refresh,
            Pub,
            n,
            P::No,
            P::No,
            Some(B::None),
            true,
            Want::Ok(None, Rt::Rotated(B::None)),
        ),
    ]
}

fn verified(kind: ProofKind, jkt: &str, jti: &str, rth: bool) -> VerifiedProof {
    VerifiedProof {
        kind,
        jkt: jkt.into(),
        jwk: Jwk::Ec {
            crv: "P-256".into(),
            x: String::new(),
            y: String::new(),
        },
        alg: "ES256".into(),
        jti: jti.into(),
        iat: 0,
        nonce: None,
        rth: rth.then(|| "rth".to_string()),
    }
}

#[test]
fn decision_table() {
    for case in cases() {
        let refresh = case.grant == Refresh;
        let make = |p: P, kind: ProofKind| -> (Option<VerifiedProof>, Option<ProofRejection>) {
            let rth_default = kind == ProofKind::DpopRt && refresh;
            match p {
                P::No => (None, None),
                P::BadNonce => (
                    None,
                    Some(ProofRejection {
                        kind,
                        error: ProofError::NonceMissing,
                    }),
                ),
                P::Ok(k, j) => (Some(verified(kind, k, j, rth_default)), None),
                P::FlipRth(k, j) => (Some(verified(kind, k, j, !rth_default)), None),
            }
        };
        let (dv, dr) = make(case.dpop, ProofKind::Dpop);
        let (rv, rr) = make(case.dpop_rt, ProofKind::DpopRt);
        let metadata = ClientMetadata {
            dpop_bound_access_tokens: case.flags.0,
            dpop_bound_refresh_tokens: case.flags.1,
        };
        let rt = case.rt.map(binding);
        let req = TokenRequest {
            grant_type: case.grant,
            client_type: case.client,
            metadata: &metadata,
            dpop: outcome(&dv, &dr),
            dpop_rt: outcome(&rv, &rr),
            presented_rt: rt.as_ref(),
            issue_refresh_token: case.issue,
        };
        let got = decide(&req);
        match case.want {
            Want::Ok(at, rt_want) => {
                let d = got.unwrap_or_else(|e| panic!("{}: unexpected error {e}", case.name));
                let at_want = at.map_or(AtBinding::Bearer, |k| AtBinding::Jkt(k.into()));
                assert_eq!(d.access_token, at_want, "{}", case.name);
                let rt_want = match rt_want {
                    Rt::NotIssued => RtOutcome::NotIssued,
                    Rt::Issued(b) => RtOutcome::Issued(binding(b)),
                    Rt::Rotated(b) => RtOutcome::Rotated(binding(b)),
                    Rt::Kept(b) => RtOutcome::Kept(binding(b)),
                };
                assert_eq!(d.refresh_token, rt_want, "{}", case.name);
                assert_eq!(
                    d.access_token.token_type(),
                    if at.is_some() { "DPoP" } else { "Bearer" }
                );
            }
            Want::Err(code, reason) => {
                let e = got.expect_err(case.name);
                assert_eq!(
                    (e.error.as_str(), e.reason),
                    (code, reason),
                    "{}",
                    case.name
                );
            }
        }
    }
}

fn outcome<'a>(v: &'a Option<VerifiedProof>, r: &'a Option<ProofRejection>) -> ProofOutcome<'a> {
    match (v, r) {
        (Some(v), _) => ProofOutcome::Verified(v),
        (_, Some(r)) => ProofOutcome::Rejected(r),
        _ => ProofOutcome::Absent,
    }
}

#[test]
fn proofs_of_the_wrong_kind_are_refused() {
    let dpop = verified(ProofKind::DpopRt, "K", "a", false);
    let metadata = ClientMetadata::default();
    let req = TokenRequest {
        grant_type: Code,
        client_type: Pub,
        metadata: &metadata,
        dpop: ProofOutcome::Verified(&dpop),
        dpop_rt: ProofOutcome::Absent,
        presented_rt: None,
        issue_refresh_token: true,
    };
    let e = decide(&req).expect_err("kind");
    assert_eq!(
        (e.error, e.reason),
        (OAuthError::InvalidRequest, "proof_kind")
    );
}

#[test]
fn client_metadata_accepts_the_drop_alias() {
    for text in [
        r#"{"dpop_bound_refresh_tokens":true}"#,
        r#"{"drop_bound_refresh_tokens":true}"#,
    ] {
        let m: ClientMetadata = serde_json::from_str(text).expect(text);
        assert!(
            m.dpop_bound_refresh_tokens && !m.dpop_bound_access_tokens,
            "{text}"
        );
        assert_eq!(
            serde_json::to_string(&m).expect("json"),
            r#"{"dpop_bound_access_tokens":false,"dpop_bound_refresh_tokens":true}"#
        );
    }
    let m: ClientMetadata = serde_json::from_str(r#"{"client_name":"x"}"#).expect("defaults");
    assert_eq!(m, ClientMetadata::default());
    let b: RtBinding =
        serde_json::from_str(r#"{"kind":"dpop-rt-jkt","jkt":"abc"}"#).expect("binding");
    assert_eq!((b.kind(), b.jkt()), ("dpop-rt-jkt", Some("abc")));
}
