//! A small RFC 3986 normaliser for comparing `htu` with the request URI.
//!
//! RFC 9449 §4.3 says servers SHOULD apply syntax-based (RFC 3986 §6.2.2) and scheme-based
//! (§6.2.3) normalisation before comparing `htu`; the DPoP-RT draft asks for an exact,
//! case-sensitive comparison "as defined in" DPoP. Following the digest's SUGGESTION (§1.6, "htu
//! comparison conflicts"), both sides are normalised and then compared exactly, for DPoP and
//! DPoP-RT alike. <https://www.rfc-editor.org/rfc/rfc3986#section-6.2.2>
//!
//! Steps, in order:
//! 1. Split `scheme "://" authority path [ "?" query ] [ "#" fragment ]`; only absolute URIs with
//!    an authority are accepted (`htu` is an HTTP(S) target URI). Query and fragment are dropped
//!    (RFC 9449 §4.3 check 9 ignores them).
//! 2. Case: the scheme and host are lower-cased (§6.2.2.1); the hex digits of percent-encodings
//!    are upper-cased.
//! 3. Percent-encoding: octets that encode an unreserved character (`ALPHA DIGIT - . _ ~`) are
//!    decoded (§6.2.2.2); a `%` not followed by two hex digits is an error.
//! 4. Dot segments are removed from the path (§6.2.2.3, the algorithm of §5.2.4).
//! 5. Scheme-based (§6.2.3): an empty path becomes `/`; an empty port or the scheme's default
//!    port (`http` 80, `https` 443) is removed.
//!
//! Whitespace, control characters and non-ASCII are refused rather than guessed at.

use std::fmt;

/// Why a string is not an absolute URI this normaliser accepts.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    #[error("not an absolute URI with an authority (scheme://host/...)")]
    NotAbsolute,
    #[error("invalid scheme")]
    BadScheme,
    #[error("empty host")]
    EmptyHost,
    #[error("invalid port")]
    BadPort,
    #[error("invalid percent-encoding")]
    BadPercentEncoding,
    #[error("character not allowed in a URI")]
    BadCharacter,
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
    if uri.bytes().any(|c| !(0x21..=0x7e).contains(&c)) {
        return Err(UriError::BadCharacter);
    }
    let uri = strip_query_and_fragment(uri);
    let (scheme, rest) = uri.split_once("://").ok_or(UriError::NotAbsolute)?;
    let mut chars = scheme.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')) {
        return Err(UriError::BadScheme);
    }
    let scheme = scheme.to_ascii_lowercase();
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let (userinfo, hostport) = match authority.rfind('@') {
        Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
        None => (None, authority),
    };
    // The port is after the last ':' unless that ':' is inside an IPv6 literal `[...]`.
    let (host, port) = match hostport.rfind(':') {
        Some(i) if !hostport[i..].contains(']') => (&hostport[..i], Some(&hostport[i + 1..])),
        _ => (hostport, None),
    };
    if host.is_empty() {
        return Err(UriError::EmptyHost);
    }
    let host = percent_normalize(host)?.to_ascii_lowercase();
    let port = match port {
        None | Some("") => None,
        Some(p) => {
            if !p.bytes().all(|c| c.is_ascii_digit()) {
                return Err(UriError::BadPort);
            }
            let n: u16 = p.parse().map_err(|_| UriError::BadPort)?;
            let default = match scheme.as_str() {
                "http" => Some(80),
                "https" => Some(443),
                _ => None,
            };
            (Some(n) != default).then_some(n)
        }
    };
    let path = remove_dot_segments(&percent_normalize(path)?);
    let mut out = String::with_capacity(uri.len());
    out.push_str(&scheme);
    out.push_str("://");
    if let Some(u) = userinfo {
        out.push_str(&percent_normalize(u)?);
        out.push('@');
    }
    out.push_str(&host);
    if let Some(n) = port {
        out.push(':');
        out.push_str(&n.to_string());
    }
    if path.is_empty() {
        out.push('/');
    } else {
        out.push_str(&path);
    }
    Ok(out)
}

/// Upper-cases percent-encoding hex digits and decodes encoded unreserved characters.
fn percent_normalize(s: &str) -> Result<String, UriError> {
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .ok_or(UriError::BadPercentEncoding)?;
            let hi = hex_val(hex[0]).ok_or(UriError::BadPercentEncoding)?;
            let lo = hex_val(hex[1]).ok_or(UriError::BadPercentEncoding)?;
            let c = hi * 16 + lo;
            if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~') {
                out.push(c as char);
            } else {
                out.push('%');
                out.push(hex[0].to_ascii_uppercase() as char);
                out.push(hex[1].to_ascii_uppercase() as char);
            }
            i += 3;
        } else {
            // Input was checked to be printable ASCII, so bytes are chars.
            out.push(bytes[i] as char);
            i += 1;
        }
    }
    Ok(out)
}

fn hex_val(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// RFC 3986 §5.2.4 `remove_dot_segments`.
fn remove_dot_segments(input: &str) -> String {
    let mut input = input;
    let mut out = String::with_capacity(input.len());
    while !input.is_empty() {
        if let Some(rest) = input.strip_prefix("../") {
            input = rest;
        } else if let Some(rest) = input.strip_prefix("./") {
            input = rest;
        } else if input.starts_with("/./") {
            input = &input[2..];
        } else if input == "/." {
            input = "/";
        } else if input.starts_with("/../") || input == "/.." {
            input = if input == "/.." { "/" } else { &input[3..] };
            match out.rfind('/') {
                Some(i) => out.truncate(i),
                None => out.clear(),
            }
        } else if input == "." || input == ".." {
            input = "";
        } else {
            let start = usize::from(input.starts_with('/'));
            let end = input[start..].find('/').map_or(input.len(), |i| i + start);
            out.push_str(&input[..end]);
            input = &input[end..];
        }
    }
    out
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
            n("https://server.example.com:8443/a/./b/../c"),
            "https://server.example.com:8443/a/c"
        );
        assert_eq!(n("https://[::1]:443/x"), "https://[::1]/x");
        assert_eq!(n("https://[::1]/x"), "https://[::1]/x");
        // Path case is significant.
        assert_ne!(n("https://a/Token"), n("https://a/token"));
    }

    #[test]
    fn remove_dot_segments_rfc_examples() {
        // RFC 3986 §5.2.4 examples.
        assert_eq!(remove_dot_segments("/a/b/c/./../../g"), "/a/g");
        assert_eq!(remove_dot_segments("mid/content=5/../6"), "mid/6");
        assert_eq!(remove_dot_segments("/.."), "/");
        assert_eq!(remove_dot_segments("/../../x/."), "/x/");
    }

    #[test]
    fn rejects_garbage() {
        for u in [
            "",
            "/token",
            "server.example.com/token",
            "https://",
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
}
