//! Shared helpers: vector loading, deterministic keys and RNG, raw JWS assembly.

use leaklab_protocol::b64;
use leaklab_protocol::signer::Signer;
use leaklab_protocol::signer::SoftwareSigner;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use serde_json::Value;

/// The package directory, read when the test runs: a compile-time `env!` would keep the path of
/// whichever checkout first built this test in a shared target directory.
fn manifest_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR for tests")
}

/// Loads `tests/vectors/<name>.json`.
pub fn vectors(name: &str) -> Value {
    let path = format!("{}/tests/vectors/{name}.json", manifest_dir());
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The `vectors` array of a vector file, by `id`.
pub fn vector(name: &str, id: &str) -> Value {
    vectors(name)["vectors"]
        .as_array()
        .and_then(|a| a.iter().find(|v| v["id"] == id).cloned())
        .unwrap_or_else(|| panic!("vector {id} not in {name}.json"))
}

/// A deterministic software key (`n` in 1..=255).
pub fn key(n: u8) -> SoftwareSigner {
    SoftwareSigner::from_scalar(&[n; 32]).expect("valid scalar")
}

pub fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

/// Assembles and signs a compact JWS from exactly the given header and claims (no member is
/// added or changed, unlike `jws::sign`), so tests can forge any header.
pub fn raw_jws(header: &Value, claims: &Value, signer: &mut dyn Signer) -> String {
    let input = format!(
        "{}.{}",
        b64::encode(header.to_string()),
        b64::encode(claims.to_string())
    );
    let sig = signer.sign(input.as_bytes()).expect("software signing");
    format!("{input}.{}", b64::encode(sig))
}
