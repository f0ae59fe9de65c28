//! Conversion of device ECDSA signatures to the JWS form.
//!
//! JWS ES256 signatures are the 64-byte concatenation `r || s`, each integer big-endian and
//! left-padded with zeros to 32 bytes (RFC 7518 §3.4,
//! <https://www.rfc-editor.org/rfc/rfc7518#section-3.4>). Devices do not all deliver that form:
//!
//! * a TPM returns `r` and `s` as `TPM2B_ECC_PARAMETER`s, whose size is the number of bytes the
//!   TPM chose to send; a value with a leading zero byte may come back as 31 bytes (or fewer);
//! * PKCS#11 `CKM_ECDSA` returns `r || s` with each half as long as the curve order (PKCS#11 v3.1
//!   §2.3.1, <https://docs.oasis-open.org/pkcs11/pkcs11-spec/v3.1/os/pkcs11-spec-v3.1-os.html>),
//!   but some modules return a DER `ECDSA-Sig-Value` (RFC 3279 §2.2.3) instead.
//!
//! About one value in 128 has a leading zero byte, so a converter that forgets the padding fails
//! on roughly 1.6% of signatures: the tests sign hundreds of messages to exercise this path.

use std::sync::atomic::{AtomicU64, Ordering};

use p256::ecdsa::Signature;
use p256::elliptic_curve::sec1::ToEncodedPoint as _;
use p256::pkcs8::der::asn1::OctetStringRef;
use p256::pkcs8::der::Decode as _;
use p256::PublicKey;

use crate::SignerError;

/// Byte length of a P-256 scalar.
pub const SCALAR_LEN: usize = 32;

static PADDED: AtomicU64 = AtomicU64::new(0);

/// How many integers [`fixed_scalar`] has had to left-pad in this process (a test hook: it shows
/// that the padding path ran, not just that the result verified).
pub fn padded_count() -> u64 {
    PADDED.load(Ordering::Relaxed)
}

/// A big-endian unsigned integer as exactly 32 bytes: left-padded with zeros, or with surplus
/// leading zero bytes removed (DER and some devices prepend `00`).
pub fn fixed_scalar(value: &[u8]) -> Result<[u8; SCALAR_LEN], SignerError> {
    let first_nonzero = value.iter().position(|b| *b != 0).unwrap_or(value.len());
    let significant = &value[first_nonzero..];
    if significant.len() > SCALAR_LEN {
        return Err(SignerError::MalformedSignature {
            reason: format!(
                "a value of {} significant bytes does not fit P-256 (32 bytes)",
                significant.len()
            ),
        });
    }
    if value.len() < SCALAR_LEN {
        PADDED.fetch_add(1, Ordering::Relaxed);
    }
    let mut out = [0u8; SCALAR_LEN];
    out[SCALAR_LEN - significant.len()..].copy_from_slice(significant);
    Ok(out)
}

/// JWS signature from separately delivered `r` and `s` (the TPM case).
pub fn from_r_s(r: &[u8], s: &[u8]) -> Result<[u8; 64], SignerError> {
    let mut out = [0u8; 64];
    out[..SCALAR_LEN].copy_from_slice(&fixed_scalar(r)?);
    out[SCALAR_LEN..].copy_from_slice(&fixed_scalar(s)?);
    Ok(out)
}

/// JWS signature from a PKCS#11 `CKM_ECDSA` result: raw `r || s` (two equal halves of any
/// length up to 32 bytes each, or with extra leading zeros), or a DER `ECDSA-Sig-Value`.
pub fn from_pkcs11(bytes: &[u8]) -> Result<[u8; 64], SignerError> {
    if bytes.len() == 64 {
        return from_r_s(&bytes[..SCALAR_LEN], &bytes[SCALAR_LEN..]);
    }
    if bytes.first() == Some(&0x30) {
        if let Ok(sig) = from_der(bytes) {
            return Ok(sig);
        }
    }
    if !bytes.is_empty() && bytes.len() % 2 == 0 {
        let half = bytes.len() / 2;
        return from_r_s(&bytes[..half], &bytes[half..]);
    }
    Err(SignerError::MalformedSignature {
        reason: format!(
            "{} bytes are neither raw r||s nor a DER ECDSA-Sig-Value",
            bytes.len()
        ),
    })
}

/// JWS signature from a DER `ECDSA-Sig-Value` (RFC 3279 §2.2.3), parsed and range-checked by
/// `p256` (what OpenSSL, `tpm2_sign -f der` and some PKCS#11 modules emit).
pub fn from_der(der: &[u8]) -> Result<[u8; 64], SignerError> {
    let sig = Signature::from_der(der).map_err(|e| SignerError::MalformedSignature {
        reason: format!("DER ECDSA-Sig-Value: {e}"),
    })?;
    Ok(sig.to_bytes().into())
}

/// Affine coordinates from an uncompressed SEC1 point `04 || x || y`, possibly wrapped in a DER
/// OCTET STRING as PKCS#11 `CKA_EC_POINT` is (PKCS#11 v3.1 §2.3.3); the point must lie on P-256.
pub fn p256_point(bytes: &[u8]) -> Result<([u8; 32], [u8; 32]), SignerError> {
    let invalid = |what: String| SignerError::InvalidKey { reason: what };
    // The bare point first: `04 || x || y` is also a well-formed DER OCTET STRING header when
    // x begins with 0x3f (length 63), which would strip the point's first two bytes. A wrapped
    // point (67 bytes) is never a valid bare point, so this order is unambiguous.
    let key = match PublicKey::from_sec1_bytes(bytes) {
        Ok(key) => key,
        Err(_) => {
            let point = OctetStringRef::from_der(bytes)
                .map(|inner| inner.as_bytes())
                .unwrap_or(bytes);
            PublicKey::from_sec1_bytes(point)
                .map_err(|_| invalid(format!("{} bytes are not a P-256 SEC1 point", point.len())))?
        }
    };
    let encoded = key.to_encoded_point(false);
    match (encoded.x(), encoded.y()) {
        (Some(x), Some(y)) => Ok(((*x).into(), (*y).into())),
        _ => Err(invalid("P-256 point at infinity".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_point_whose_x_begins_with_0x3f_is_not_read_as_der() {
        // 04 3f … parses as an OCTET STRING of 63 bytes; found by a swtpm key in the drill test.
        let (sec1, x) = (1u64..)
            .find_map(|k| {
                let mut scalar = [0u8; 32];
                scalar[24..].copy_from_slice(&k.to_be_bytes());
                let public = p256::SecretKey::from_slice(&scalar).ok()?.public_key();
                let point = public.to_encoded_point(false);
                let x: [u8; 32] = (*point.x()?).into();
                (x[0] == 0x3f).then(|| (point.as_bytes().to_vec(), x))
            })
            .unwrap();
        assert_eq!(p256_point(&sec1).unwrap().0, x);
        // The same point wrapped in DER, as PKCS#11 returns it.
        let mut wrapped = vec![0x04, 0x41];
        wrapped.extend_from_slice(&sec1);
        assert_eq!(p256_point(&wrapped).unwrap().0, x);
    }

    #[test]
    fn pads_short_and_strips_long_values() {
        let short = [0xabu8; 31];
        let fixed = fixed_scalar(&short).unwrap();
        assert_eq!(fixed[0], 0);
        assert_eq!(&fixed[1..], &short[..]);
        let mut long = vec![0u8];
        long.extend_from_slice(&[0x80; 32]);
        assert_eq!(fixed_scalar(&long).unwrap(), [0x80; 32]);
        assert!(fixed_scalar(&[1u8; 33]).is_err());
    }

    #[test]
    fn rejects_garbage() {
        assert!(from_pkcs11(&[]).is_err());
        assert!(from_pkcs11(&[1, 2, 3]).is_err());
        assert!(from_der(&[0x30, 0x05, 0x02, 0x01]).is_err());
        // r = 0 is out of range even though the DER is well formed.
        assert!(from_der(&[0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x01]).is_err());
        assert!(p256_point(&[0x04; 10]).is_err());
        // Right length, not on the curve.
        let mut off_curve = [0x01u8; 65];
        off_curve[0] = 0x04;
        assert!(p256_point(&off_curve).is_err());
    }
}
