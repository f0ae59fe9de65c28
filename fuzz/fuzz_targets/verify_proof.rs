//! Fuzz the DPoP / DPoP-RT verifier, the compact JWS parser and the htu normaliser.
//!
//! Input layout: byte 0 = flags, the rest = text (lossy UTF-8).
//! * flags bit 6 clear ("raw" mode): the text, split on '\n', is the list of header values fed
//!   to `verify` (so 0, 1 or many headers), and each value also goes to `jws::parse` and
//!   `NormalizedUri::parse`.
//! * flags bit 6 set ("signed" mode): the text is `header-json '\n' claims-json`; the target signs
//!   it with a fixed key (an empty header means a valid DPoP/DPoP-RT header with that key), so the
//!   fuzzer reaches the claim checks behind the signature.
//! Other flag bits select the kind and which request-side checks (nonce, ath, jkt, rth, other
//! jti, a small size bound) are active.
#![no_main]

use leaklab_protocol::b64;
use leaklab_protocol::jws;
use leaklab_protocol::proof::ProofKind;
use leaklab_protocol::replay::MemoryReplayStore;
use leaklab_protocol::signer::{Signer, SoftwareSigner};
use leaklab_protocol::uri::NormalizedUri;
use leaklab_protocol::verify::{verify, NonceCheck, ProofRequest, VerifyPolicy};
use libfuzzer_sys::fuzz_target;

const NOW: i64 = 1_562_262_616;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let kind = if flags & 1 == 0 {
        ProofKind::Dpop
    } else {
        ProofKind::DpopRt
    };

    let proof_storage;
    let headers: Vec<&str> = if flags & 64 == 0 {
        let hs: Vec<&str> = text.split('\n').collect();
        for h in &hs {
            let _ = jws::parse(h);
            let _ = NormalizedUri::parse(h);
        }
        hs
    } else {
        let Ok(mut signer) = SoftwareSigner::from_scalar(&[7u8; 32]) else {
            return;
        };
        let (header, claims) = text.split_once('\n').unwrap_or(("", &text));
        let header = if header.is_empty() {
            serde_json::json!({"typ": kind.typ(), "alg": "ES256", "jwk": signer.public_jwk().to_json()}).to_string()
        } else {
            header.to_string()
        };
        let input = format!("{}.{}", b64::encode(header), b64::encode(claims));
        let Ok(sig) = signer.sign(input.as_bytes()) else {
            return;
        };
        proof_storage = format!("{input}.{}", b64::encode(sig));
        vec![proof_storage.as_str()]
    };

    let Ok(htu) = NormalizedUri::parse("https://server.example.com/token") else {
        return;
    };
    let nonces = ["n-1", "n-2"];
    let jkt = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";
    let req = ProofRequest {
        nonce: if flags & 2 != 0 {
            NonceCheck::OneOf(&nonces)
        } else {
            NonceCheck::NotRequired
        },
        access_token: (flags & 4 != 0).then_some("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
        expected_jkt: (flags & 8 != 0).then_some(jkt),
        refresh_token: (flags & 16 != 0).then_some("Q..Zkm29lexi8VnWg2zPW1x-tgGad0Ibc3s3EwM_Ni4-g"),
        other_jti: (flags & 16 != 0).then_some("-BwC3ESc6acc2lTc"),
        ..ProofRequest::new(kind, &headers, "POST", &htu)
    };
    let policy = VerifyPolicy {
        max_proof_bytes: if flags & 32 != 0 { 256 } else { 8192 },
        max_age_secs: if flags & 128 != 0 { i64::MAX } else { 60 },
        ..VerifyPolicy::default()
    };
    let mut store = MemoryReplayStore::new(4);
    let first = verify(&req, &policy, NOW, &mut store);
    if let Ok(ok) = &first {
        // A verified proof is single-use.
        assert!(
            verify(&req, &policy, NOW, &mut store).is_err(),
            "replay accepted: {ok:?}"
        );
    }
    if let Err(rejection) = &first {
        let _ = (
            rejection.oauth_error(),
            rejection.reason(),
            rejection.to_string(),
        );
    }
});
