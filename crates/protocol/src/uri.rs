//! RFC 3986 normalisation for comparing `htu` with the request URI.
//!
//! Parsing and normalisation are `fluent-uri`'s (RFC 3986 §6.2.2 syntax-based normalisation plus
//! default-port removal; the `url` crate applies WHATWG URL rules instead, which differ from
//! RFC 3986 on hosts, backslashes and percent-encoding). This module adds only what an HTTP(S)
//! target URI needs on top: an authority with a non-empty host, a port that fits `u16`, no
//! userinfo, and the one §6.2.3 step `fluent-uri` leaves out (an empty path becomes `/`).
//! Both sides are normalised and then compared exactly, for DPoP and DPoP-RT alike: see
//! `docs/protocol-notes.md#htu-comparison`.
//!
//! Steps, in order:
//! 1. Whitespace, control characters and non-ASCII anywhere are refused rather than guessed at.
//! 2. Query and fragment are dropped (RFC 9449 §4.3 check 9 ignores them,
//!    <https://www.rfc-editor.org/rfc/rfc9449#section-4.3>).
//! 3. The rest must be an absolute URI with an authority (`scheme://host[:port]/path`). A
//!    malformed authority (`h:8443:443`, a `]` outside an IPv6 literal, an unbalanced `[`, a bad
//!    IPv6 literal) is refused, never repaired.
//! 4. Userinfo is refused: RFC 9110 §4.2.4 deprecates it in `http(s)` URIs and tells recipients
//!    to treat it as an error (<https://www.rfc-editor.org/rfc/rfc9110#section-4.2.4>).
//! 5. Normalisation (<https://www.rfc-editor.org/rfc/rfc3986#section-6.2.2>): scheme and host
//!    lower-cased, percent-encoding hex digits upper-cased, encoded unreserved characters
//!    decoded, dot segments removed, IPv6 literals in RFC 5952 form; scheme-based (§6.2.3): an
//!    empty port or the scheme's default port is removed, an empty path becomes `/`.

use std::fmt;

use fluent_uri::{ParseErrorKind, UriRef};

/// Why a string is not an absolute URI this normaliser accepts.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UriError {
    #[error("not an absolute URI with an authority (scheme://host/...)")]
    NotAbsolute,
    #[error("empty host")]
    EmptyHost,
    #[error("invalid port (digits only, at most 65535)")]
    BadPort,
    #[error("invalid IPv6 literal")]
    BadIpv6,
    #[error("userinfo (`user@`) is not allowed in an HTTP(S) target URI")]
    Userinfo,
    #[error("invalid percent-encoding at byte {0}")]
    BadPercentEncoding(usize),
    #[error("character not allowed in a URI at byte {0}")]
    BadCharacter(usize),
}

/// A URI in normal form (see the module doc). Two URIs are equivalent iff their normal forms are
/// equal strings.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NormalizedUri(String);

impl NormalizedUri {
    /// Normalises `uri`.
    pub fn parse(uri: &str) -> Result<NormalizedUri, UriError> {
        normalize(uri).map(NormalizedUri)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NormalizedUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Strips the query and fragment from a URI without otherwise changing it (what a client puts in
/// `htu`, RFC 9449 §4.2).
pub fn strip_query_and_fragment(uri: &str) -> &str {
    match uri.find(['?', '#']) {
        Some(i) => &uri[..i],
        None => uri,
    }
}

fn normalize(uri: &str) -> Result<String, UriError> {
    if let Some(i) = uri.bytes().position(|c| !(0x21..=0x7e).contains(&c)) {
        return Err(UriError::BadCharacter(i));
    }
    let parsed = UriRef::parse(strip_query_and_fragment(uri)).map_err(|e| match e.kind() {
        ParseErrorKind::InvalidPctEncodedOctet => UriError::BadPercentEncoding(e.index()),
        ParseErrorKind::InvalidIpv6Addr => UriError::BadIpv6,
        _ => UriError::BadCharacter(e.index()),
    })?;
    let authority = match parsed.authority() {
        Some(a) if parsed.has_scheme() => a,
        _ => return Err(UriError::NotAbsolute),
    };
    if authority.has_userinfo() {
        return Err(UriError::Userinfo);
    }
    if authority.host().is_empty() {
        return Err(UriError::EmptyHost);
    }
    authority.port_to_u16().map_err(|_| UriError::BadPort)?;
    let mut out = parsed.normalize().into_string();
    if !out[out.find("://").map_or(0, |i| i + 3)..].contains('/') {
        out.push('/');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> String {
        NormalizedUri::parse(s)
            .map(|u| u.0)
            .unwrap_or_else(|e| format!("ERR {e}"))
    }

    #[test]
    fn rfc3986_examples() {
        // RFC 3986 §6.2.2 example.
        assert_eq!(
            n("eXAMPLE://a/./b/../b/%63/%7bfoo%7d"),
            "example://a/b/c/%7Bfoo%7D"
        );
        // §6.2.3: all four are equivalent.
        for u in [
            "http://example.com",
            "http://example.com/",
            "http://example.com:/",
            "http://example.com:80/",
        ] {
            assert_eq!(n(u), "http://example.com/");
        }
        assert_eq!(
            n("HTTPS://Server.Example.COM:443/token?x=1#f"),
            "https://server.example.com/token"
        );
        assert_eq!(
            n("https://server.example.com:443"),
            "https://server.example.com/"
        );
        assert_eq!(
            n("https://server.example.com:8443/a/./b/../c"),
            "https://server.example.com:8443/a/c"
        );
        assert_eq!(n("https://[::1]:443/x"), "https://[::1]/x");
        assert_eq!(n("https://[::1]/x"), "https://[::1]/x");
        assert_eq!(n("https://[0:0::1]:8443"), "https://[::1]:8443/");
        assert_eq!(n("https://a/%7euser/%2e%2E/x"), "https://a/x");
        // Path case is significant.
        assert_ne!(n("https://a/Token"), n("https://a/token"));
    }

    /// The verifier compares a proof's `htu` byte for byte with the expected normal form before
    /// parsing it, which is sound only if a normal form normalises to itself.
    #[test]
    fn the_normal_form_is_a_fixed_point() {
        for u in [
            "eXAMPLE://a/./b/../b/%63/%7bfoo%7d",
            "http://example.com:80",
            "HTTPS://Server.Example.COM:443/token?x=1#f",
            "https://server.example.com:8443/a/./b/../c",
            "https://[0:0::1]:8443",
            "https://a/%7euser/%2e%2E/x",
            "https://a/b%2fc/%C3%A9?q",
        ] {
            let once = n(u);
            assert_eq!(n(&once), once, "{u}");
        }
    }

    #[test]
    fn rejects_garbage() {
        for u in [
            "",
            "/token",
            "server.example.com/token",
            "mailto:a@b",
            "https://",
            "https:///token",
            "https://:443/",
            "https://a:99999/",
            "https://a:x/",
            "https://a/%zz",
            "https://a/%4",
            "https://a b/",
            "1http://a/",
            "https://a/\u{e9}",
        ] {
            assert!(NormalizedUri::parse(u).is_err(), "{u}");
        }
    }

    #[test]
    fn malformed_authority_is_refused_not_normalised() {
        for (u, want) in [
            ("https://h:8443:443/x", UriError::BadCharacter(14)),
            ("https://h]/x", UriError::BadCharacter(9)),
            ("https://h]:443/x", UriError::BadCharacter(9)),
            ("https://[::1/x", UriError::BadCharacter(12)),
            ("https://::1]/x", UriError::BadCharacter(9)),
            ("https://[::1]]/x", UriError::BadCharacter(13)),
            ("https://[::1]x/", UriError::BadCharacter(13)),
            ("https://[::g]/x", UriError::BadCharacter(11)),
            ("https://[1::2::3]/x", UriError::BadIpv6),
            ("https://[1:2]/x", UriError::BadIpv6),
            ("https://a[b]/x", UriError::BadCharacter(9)),
            ("https://user@server.example.com/token", UriError::Userinfo),
            (
                "https://user:pw@server.example.com/token",
                UriError::Userinfo,
            ),
            ("https://@server.example.com/token", UriError::Userinfo),
            ("https://h:-1/x", UriError::BadCharacter(10)),
            ("https://h:65536/x", UriError::BadPort),
        ] {
            assert_eq!(NormalizedUri::parse(u), Err(want), "{u}");
        }
    }

    #[test]
    fn query_and_fragment_are_ignored_but_must_be_printable() {
        assert_eq!(n("https://a/t?x=[]#y"), "https://a/t");
        assert_eq!(
            NormalizedUri::parse("https://a/t?x=1 2"),
            Err(UriError::BadCharacter(15))
        );
    }
}
