//! Small HTTP pieces shared by the servers: OAuth error responses (RFC 6749 §5.2), header
//! access that refuses what it cannot read, and form bodies without repeated parameters.

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// A JSON error body `{"error", "error_description"}` with `Cache-Control: no-store`.
pub fn error_response(status: StatusCode, error: &str, description: &str) -> Response {
    let mut r = (
        status,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response();
    r.headers_mut()
        .insert("cache-control", HeaderValue::from_static("no-store"));
    r
}

/// `429 slow_down` with `Retry-After: 60`: a per-minute or per-window quota of one client or
/// grant is used up (nobody else is affected).
pub fn too_many(description: &str) -> Response {
    let mut r = error_response(StatusCode::TOO_MANY_REQUESTS, "slow_down", description);
    r.headers_mut()
        .insert("retry-after", HeaderValue::from_static("60"));
    r
}

/// The replay store did not take a proof's `jti`: the owner's quota (429, that owner only) or a
/// full or failing store (503, fail closed) — never `invalid_dpop_proof`.
pub fn replay_refused(refusal: crate::store::ReplayRefusal) -> Response {
    match refusal {
        crate::store::ReplayRefusal::OwnerQuota => {
            too_many("the replay-store quota of this client or grant is used up; retry later")
        }
        _ => error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "the replay store cannot take another proof",
        ),
    }
}

/// Every value of header `name` as text; a value that is not visible ASCII is an error.
pub fn header_values<'h>(
    headers: &'h HeaderMap,
    name: &HeaderName,
) -> Result<Vec<&'h str>, String> {
    headers
        .get_all(name)
        .iter()
        .map(|v| {
            v.to_str()
                .map_err(|_| format!("header {name} is not visible ASCII"))
        })
        .collect()
}

/// A form body (`application/x-www-form-urlencoded`) as name/value pairs, refusing a repeated
/// parameter (RFC 6749 §3.2: "Request and response parameters MUST NOT be included more than
/// once").
pub struct FormParams(Vec<(String, String)>);

impl FormParams {
    pub fn new(pairs: Vec<(String, String)>) -> Result<Self, String> {
        for (i, (name, _)) in pairs.iter().enumerate() {
            if pairs[..i].iter().any(|(n, _)| n == name) {
                return Err(format!("parameter `{name}` is repeated"));
            }
        }
        Ok(Self(pairs))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn require(&self, name: &str) -> Result<&str, String> {
        self.get(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("parameter `{name}` is missing"))
    }
}
