//! Known-answer tests from published examples V1–V3, V5–V8, V14 (data and sources in
//! tests/vectors; the ids are listed in `docs/protocol-notes.md#test-vectors`).

use leaklab_protocol::jwk::Jwk;
use leaklab_protocol::proof::{self, ProofKind};
use leaklab_protocol::replay::MemoryReplayStore;
use leaklab_protocol::uri::NormalizedUri;
use leaklab_protocol::verify::{verify, ProofError, ProofRequest, VerifyPolicy};
use sha2::{Digest, Sha256};

use crate::common::{vector, vectors};

#[test]
fn thumbprints_v1_v2() {
    for v in vectors("thumbprints")["vectors"].as_array().expect("array") {
        let jwk = Jwk::from_json(&v["jwk"]).expect("jwk parses");
        assert_eq!(
            jwk.thumbprint_input(),
            v["canonical"].as_str().expect("canonical"),
            "{}",
            v["id"]
        );
        assert_eq!(
            jwk.thumbprint(),
            v["thumbprint"].as_str().expect("thumbprint"),
            "{}",
            v["id"]
        );
        if let Some(bytes) = v["sha256_bytes"].as_array() {
            let want: Vec<u8> = bytes
                .iter()
                .map(|b| b.as_u64().expect("byte") as u8)
                .collect();
            assert_eq!(Sha256::digest(jwk.thumbprint_input()).to_vec(), want);
        }
    }
}

#[test]
fn ath_v3_and_rth_v5_v14() {
    for v in vectors("hashes")["vectors"].as_array().expect("array") {
        let input = v["input"].as_str().expect("input");
        let got = match v["kind"].as_str() {
            Some("ath") => proof::ath(input),
            Some("rth") => proof::rth(input),
            other => panic!("kind {other:?}"),
        };
        assert_eq!(got, v["value"].as_str().expect("value"), "{}", v["id"]);
    }
}

fn verify_vector(id: &str, store: &mut MemoryReplayStore) -> Result<String, ProofError> {
    let v = vector("rfc9449_proofs", id);
    let proof = v["proof"].as_str().expect("proof");
    let htu = NormalizedUri::parse(v["htu"].as_str().expect("htu")).expect("htu");
    let headers = [proof];
    let at = v["access_token"].as_str();
    let req = ProofRequest {
        access_token: at,
        expected_jkt: at.and(v["jkt"].as_str()),
        ..ProofRequest::new(
            ProofKind::Dpop,
            &headers,
            v["htm"].as_str().expect("htm"),
            &htu,
        )
    };
    let now = v["iat"].as_i64().expect("iat");
    verify(&req, &VerifyPolicy::default(), now, store)
        .map(|p| p.jkt)
        .map_err(|r| r.error)
}

#[test]
fn rfc9449_example_proofs_v6_v7_v8_verify_at_their_iat() {
    for id in ["V6", "V7", "V8"] {
        let mut store = MemoryReplayStore::new(16);
        let jkt = verify_vector(id, &mut store).unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(
            jkt,
            vector("rfc9449_proofs", id)["jkt"].as_str().expect("jkt")
        );
        // Single use: the same proof again is a replay.
        assert_eq!(
            verify_vector(id, &mut store),
            Err(ProofError::Replayed),
            "{id}"
        );
    }
}

#[test]
fn v7_reuses_v6_jti_so_a_shared_store_spanning_both_rejects_it() {
    // The RFC's two token-endpoint examples share a jti, 2680 s apart: a store whose window spans
    // both (here an entry that lives that long) flags V7 as a replay.
    let mut store = MemoryReplayStore::new(16);
    verify_vector("V6", &mut store).expect("V6");
    let v6 = vector("rfc9449_proofs", "V6");
    let v7 = vector("rfc9449_proofs", "V7");
    let key = leaklab_protocol::replay::ReplayKey::proof(
        "https://server.example.com/token",
        "-BwC3ESc6acc2lTc",
    );
    let mut long = MemoryReplayStore::new(16);
    use leaklab_protocol::replay::ReplayStore;
    long.check_and_insert(key, v6["iat"].as_i64().expect("iat"), i64::MAX)
        .expect("insert");
    assert_eq!(verify_vector("V7", &mut long), Err(ProofError::Replayed));
    assert!(v7["iat"].as_i64() > v6["iat"].as_i64());
}
