//! RFC 7662 token introspection responses, with `cnf` (RFC 9449 §6.2, RFC 8705 §3.2).
//!
//! An inactive token is a distinct variant that serialises to exactly `{"active":false}`: the
//! AS "SHOULD NOT" reveal more about it (RFC 7662 §2.2), and a type that cannot carry more cannot
//! leak more. For a DPoP-bound token `token_type`, if present, is `DPoP` (RFC 9449 §6.2).
//! <https://www.rfc-editor.org/rfc/rfc7662#section-2.2>

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::access_token::{AccessTokenClaims, Audience, Confirmation};

/// An introspection response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Introspection {
    Inactive,
    Active(Box<ActiveToken>),
}

/// The optional members of an active response (RFC 7662 §2.2, plus `cnf`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveToken {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
}

impl ActiveToken {
    /// The response for an access token: `token_type` `DPoP` when bound by `cnf.jkt`, else
    /// `Bearer` (an mTLS-bound token is still a Bearer-type token, RFC 8705 §3).
    pub fn for_access_token(claims: &AccessTokenClaims) -> ActiveToken {
        let token_type = match claims.cnf {
            Some(Confirmation::Jkt(_)) => "DPoP",
            _ => "Bearer",
        };
        ActiveToken {
            scope: claims.scope.clone(),
            client_id: Some(claims.client_id.clone()),
            username: None,
            token_type: Some(token_type.into()),
            exp: Some(claims.exp),
            iat: Some(claims.iat),
            nbf: None,
            sub: Some(claims.sub.clone()),
            aud: Some(claims.aud.clone()),
            iss: Some(claims.iss.clone()),
            jti: Some(claims.jti.clone()),
            cnf: claims.cnf.clone(),
        }
    }
}

#[derive(Serialize)]
struct ActiveOut<'a> {
    active: bool,
    #[serde(flatten)]
    token: &'a ActiveToken,
}

#[derive(Serialize)]
struct InactiveOut {
    active: bool,
}

#[derive(Deserialize)]
struct Raw {
    active: bool,
    #[serde(flatten)]
    token: ActiveToken,
}

impl Serialize for Introspection {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Introspection::Inactive => InactiveOut { active: false }.serialize(s),
            Introspection::Active(t) => ActiveOut {
                active: true,
                token: t,
            }
            .serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Introspection {
    /// `active` is required; with `active: false` any other member is ignored. Unknown
    /// (extension) members are ignored.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Raw::deserialize(d)?;
        Ok(if raw.active {
            Introspection::Active(Box::new(raw.token))
        } else {
            Introspection::Inactive
        })
    }
}
