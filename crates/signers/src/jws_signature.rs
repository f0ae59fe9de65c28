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
        return Err(SignerError::Device(format!(
            "ECDSA value of {} significant bytes does not fit P-256 (32 bytes)",
            significant.len()
        )));
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
        if let Ok((r, s)) = parse_der(bytes) {
            return from_r_s(r, s);
        }
    }
    if !bytes.is_empty() && bytes.len() % 2 == 0 {
        let half = bytes.len() / 2;
        return from_r_s(&bytes[..half], &bytes[half..]);
    }
    Err(SignerError::Device(format!(
        "ECDSA signature of {} bytes is neither raw r||s nor DER",
        bytes.len()
    )))
}

/// Parses a DER `SEQUENCE { r INTEGER, s INTEGER }` (RFC 3279 §2.2.3) and returns the integer
/// contents (possibly with a leading `00`). Only short and one-byte long lengths occur for P-256.
pub fn parse_der(bytes: &[u8]) -> Result<(&[u8], &[u8]), SignerError> {
    let bad = |what: &str| SignerError::Device(format!("DER ECDSA signature: {what}"));
    let (tag, body, rest) = der_tlv(bytes).ok_or_else(|| bad("truncated SEQUENCE"))?;
    if tag != 0x30 || !rest.is_empty() {
        return Err(bad("not a single SEQUENCE"));
    }
    let (tag_r, r, after_r) = der_tlv(body).ok_or_else(|| bad("truncated r"))?;
    let (tag_s, s, after_s) = der_tlv(after_r).ok_or_else(|| bad("truncated s"))?;
    if tag_r != 0x02 || tag_s != 0x02 || !after_s.is_empty() || r.is_empty() || s.is_empty() {
        return Err(bad("SEQUENCE does not hold exactly two INTEGERs"));
    }
    Ok((r, s))
}

/// One DER TLV: (tag, contents, remainder).
fn der_tlv(bytes: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = bytes.split_first()?;
    let (&len0, rest) = rest.split_first()?;
    let (len, rest) = match len0 {
        0..=0x7f => (usize::from(len0), rest),
        0x81 => {
            let (&l, rest) = rest.split_first()?;
            (usize::from(l), rest)
        }
        _ => return None,
    };
    if rest.len() < len {
        return None;
    }
    let (body, rest) = rest.split_at(len);
    Some((tag, body, rest))
}

/// Affine coordinates from an uncompressed SEC1 point `04 || x || y` (possibly wrapped in a DER
/// OCTET STRING, as PKCS#11 `CKA_EC_POINT` is: PKCS#11 v3.1 §2.3.3).
pub fn p256_point(bytes: &[u8]) -> Result<([u8; 32], [u8; 32]), SignerError> {
    let point = match der_tlv(bytes) {
        Some((0x04, body, [])) if body.len() == 65 => body,
        _ => bytes,
    };
    if point.len() != 65 || point[0] != 0x04 {
        return Err(SignerError::Device(format!(
            "EC point of {} bytes is not an uncompressed P-256 point",
            point.len()
        )));
    }
    let x = fixed_scalar(&point[1..33])?;
    let y = fixed_scalar(&point[33..65])?;
    Ok((x, y))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(parse_der(&[0x30, 0x05, 0x02, 0x01]).is_err());
        assert!(p256_point(&[0x04; 10]).is_err());
    }
}
