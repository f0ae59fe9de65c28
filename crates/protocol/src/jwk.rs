//! JSON Web Keys (RFC 7517) as far as leaklab needs them, and RFC 7638 thumbprints.

use serde_json::Value;

use super::b64;

/// Members that only a private key carries. A DPoP `jwk` header holding any of them is refused
/// (RFC 9449 §4.3 check 7).
pub const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// A public JWK. Only the members that define the key are kept (RFC 7638 §3.2); optional
/// members such as `kid`, `alg` and `use` do not take part in the thumbprint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Jwk {
    /// `kty` = `EC` (RFC 7518 §6.2).
    Ec { crv: String, x: String, y: String },
    /// `kty` = `RSA` (RFC 7518 §6.3).
    Rsa { n: String, e: String },
    /// `kty` = `OKP` (RFC 8037).
    Okp { crv: String, x: String },
}

/// Why a JSON value is not a usable public JWK.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwkError {
    #[error("jwk is not valid JSON: {0}")]
    NotJson(String),
    #[error("jwk is not a JSON object")]
    NotAnObject,
    #[error("jwk member `{0}` is missing or not a string")]
    MissingMember(&'static str),
    #[error("jwk kty `{0}` is not supported (allowed: EC, RSA, OKP)")]
    UnsupportedKty(String),
    #[error("jwk contains private key member `{0}`")]
    PrivateKeyMember(String),
    #[error("jwk is not a valid P-256 public key")]
    InvalidEcPoint,
}

impl Jwk {
    /// Parses a public JWK from JSON text, refusing private members.
    pub fn from_json_str(text: &str) -> Result<Jwk, JwkError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| JwkError::NotJson(e.to_string()))?;
        Jwk::from_json(&value)
    }

    /// Parses a public JWK from JSON, refusing private members.
    pub fn from_json(value: &Value) -> Result<Jwk, JwkError> {
        let obj = value.as_object().ok_or(JwkError::NotAnObject)?;
        if let Some(m) = PRIVATE_MEMBERS.iter().find(|m| obj.contains_key(**m)) {
            return Err(JwkError::PrivateKeyMember((*m).to_string()));
        }
        let get = |name: &'static str| -> Result<String, JwkError> {
            obj.get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or(JwkError::MissingMember(name))
        };
        match get("kty")?.as_str() {
            "EC" => Ok(Jwk::Ec {
                crv: get("crv")?,
                x: get("x")?,
                y: get("y")?,
            }),
            "RSA" => Ok(Jwk::Rsa {
                n: get("n")?,
                e: get("e")?,
            }),
            "OKP" => Ok(Jwk::Okp {
                crv: get("crv")?,
                x: get("x")?,
            }),
            other => Err(JwkError::UnsupportedKty(other.to_string())),
        }
    }

    /// An EC P-256 JWK from the affine coordinates (32 bytes each, big-endian).
    pub fn p256(x: &[u8; 32], y: &[u8; 32]) -> Jwk {
        Jwk::Ec {
            crv: "P-256".into(),
            x: b64::encode(x),
            y: b64::encode(y),
        }
    }

    /// An EC P-256 JWK from a `p256` verifying key.
    pub fn from_p256(key: &p256::ecdsa::VerifyingKey) -> Jwk {
        let point = key.to_encoded_point(false);
        // An uncompressed encoding of a valid public key always carries both coordinates.
        let x: [u8; 32] = (*point.x().expect("uncompressed point has x")).into();
        let y: [u8; 32] = (*point.y().expect("uncompressed point has y")).into();
        Jwk::p256(&x, &y)
    }

    /// The `p256` verifying key for an EC P-256 JWK.
    /// The P-256 public key as an uncompressed SEC1 point (`04 || x || y`), for verifiers that
    /// take raw points (they check that it lies on the curve).
    pub fn p256_sec1(&self) -> Result<[u8; 65], JwkError> {
        let Jwk::Ec { crv, x, y } = self else {
            return Err(JwkError::InvalidEcPoint);
        };
        if crv != "P-256" {
            return Err(JwkError::InvalidEcPoint);
        }
        let mut out = [0u8; 65];
        out[0] = 4;
        for (slot, c) in [(1usize, x), (33, y)] {
            let bytes = b64::decode(c).map_err(|_| JwkError::InvalidEcPoint)?;
            if bytes.len() != 32 {
                return Err(JwkError::InvalidEcPoint);
            }
            out[slot..slot + 32].copy_from_slice(&bytes);
        }
        Ok(out)
    }

    pub fn to_p256(&self) -> Result<p256::ecdsa::VerifyingKey, JwkError> {
        let Jwk::Ec { crv, x, y } = self else {
            return Err(JwkError::InvalidEcPoint);
        };
        if crv != "P-256" {
            return Err(JwkError::InvalidEcPoint);
        }
        let coord = |c: &str| -> Result<p256::FieldBytes, JwkError> {
            let bytes: [u8; 32] = b64::decode(c)
                .ok()
                .and_then(|v| v.try_into().ok())
                .ok_or(JwkError::InvalidEcPoint)?;
            Ok(bytes.into())
        };
        let point = p256::EncodedPoint::from_affine_coordinates(&coord(x)?, &coord(y)?, false);
        p256::ecdsa::VerifyingKey::from_encoded_point(&point).map_err(|_| JwkError::InvalidEcPoint)
    }

    /// The JSON form (members in RFC 7638 lexicographic order).
    pub fn to_json(&self) -> Value {
        // serde_json is built with `preserve_order`, so insertion order is serialization order.
        self.with_required_members(|members| {
            Value::Object(
                members
                    .iter()
                    .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
                    .collect(),
            )
        })
    }

    /// `f` of the RFC 7638 §3.2 required members, in the lexicographic order §3.3 requires.
    fn with_required_members<R>(&self, f: impl FnOnce(&[(&str, &str)]) -> R) -> R {
        match self {
            Jwk::Ec { crv, x, y } => f(&[("crv", crv), ("kty", "EC"), ("x", x), ("y", y)]),
            Jwk::Rsa { n, e } => f(&[("e", e), ("kty", "RSA"), ("n", n)]),
            Jwk::Okp { crv, x } => f(&[("crv", crv), ("kty", "OKP"), ("x", x)]),
        }
    }

    /// RFC 7638 canonical JSON: required members only, sorted, no whitespace.
    pub fn thumbprint_input(&self) -> String {
        // Written member by member rather than through a `Map`: a resource server computes this
        // on every proof. Values are JSON-escaped by serde_json.
        self.with_required_members(|members| {
            let mut out = Vec::with_capacity(160);
            out.push(b'{');
            for (i, (name, value)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.push(b'"');
                out.extend_from_slice(name.as_bytes());
                out.extend_from_slice(b"\":");
                serde_json::to_writer(&mut out, value).expect("strings serialize");
            }
            out.push(b'}');
            String::from_utf8(out).expect("JSON text is UTF-8")
        })
    }

    /// RFC 7638 JWK SHA-256 thumbprint, base64url without padding (the `jkt` value).
    pub fn thumbprint(&self) -> String {
        b64::sha256_b64(self.thumbprint_input())
    }
}
