//! One customer's live parts (its client, grant, keys, edges and thief) and the refresh
//! requests its agent and its attacker send.

use std::sync::Arc;

use leaklab_sim::runner::CustomerPlan;
use leaklab_sim::scenario::StrategyKind;
use leaklab_testbed::{
    ClientAuth, ClientError, ClientIdentity, HttpClient, Refusal, Running, Tokens,
};

use crate::attacker::Thief;
use crate::keys::{self, SharedSigner};
use crate::server::Grant;
use crate::DrillError;

pub(crate) struct Live<'a> {
    pub(crate) kind: &'a StrategyKind,
    pub(crate) plan: &'a CustomerPlan,
    pub(crate) client_id: String,
    pub(crate) grant: Grant,
    /// The key the RT (or client authentication) is bound to, if any.
    pub(crate) core_key: Option<SharedSigner>,
    pub(crate) identity: Option<ClientIdentity>,
    /// This customer's HTTP client (with its certificate under mTLS), built once. Connections
    /// are not pooled, so every request makes a new TLS connection; it may resume an earlier
    /// session, but publishing a CRL installs a new server configuration whose session cache is
    /// empty, so the next connection is a full handshake that checks the certificate.
    pub(crate) http: HttpClient,
    /// With a JWKS-host leak: the customer's JWKS host (its certificate's serial, the server).
    pub(crate) jwks_host: Option<(u64, Running)>,
    /// Edge keys (split DPoP: one per edge; single DPoP: the one key).
    pub(crate) edges: Vec<Edge>,
    pub(crate) thief: Thief,
}

#[derive(Default)]
pub(crate) struct Edge {
    pub(crate) key: Option<SharedSigner>,
    /// The edge's access token and its `exp` (unix).
    pub(crate) token: Option<(String, i64)>,
}

/// A refresh request's client authentication and proofs.
pub(crate) struct RefreshRequest {
    pub(crate) auth: ClientAuth,
    pub(crate) dpop: Option<String>,
    pub(crate) dpop_rt: Option<String>,
}

impl Live<'_> {
    /// The agent's refresh token now.
    pub(crate) fn refresh_token(&self) -> &str {
        &self.grant.refresh_token
    }

    pub(crate) fn is_single_dpop(&self) -> bool {
        matches!(self.kind, StrategyKind::SingleDpop { .. })
    }

    /// Builds the client authentication and proofs of a refresh: `at_key` gets the new access
    /// token (DPoP), `rt_key` shows the refresh-token binding (DPoP-RT, the single DPoP key, or
    /// the client assertion's key). mTLS clients authenticate with their certificate.
    pub(crate) fn refresh_request(
        &self,
        at_key: Option<&SharedSigner>,
        rt_key: Option<&SharedSigner>,
        refresh_token: &str,
        token_url: &str,
        now: i64,
    ) -> Result<RefreshRequest, DrillError> {
        let mut request = RefreshRequest {
            auth: ClientAuth::ClientId(self.client_id.clone()),
            dpop: None,
            dpop_rt: None,
        };
        if matches!(
            self.kind,
            StrategyKind::SingleDpop { .. } | StrategyKind::SplitDpop
        ) {
            if let Some(key) = at_key {
                request.dpop = Some(keys::token_proof(key, token_url, now)?);
            }
        }
        match (self.kind, rt_key) {
            (StrategyKind::SplitDpop, Some(key)) => {
                request.dpop_rt = Some(keys::refresh_proof(key, token_url, now, refresh_token)?);
            }
            (StrategyKind::Jwks(_), Some(key)) => {
                request.auth =
                    ClientAuth::Assertion(keys::assertion(key, &self.client_id, token_url, now)?);
            }
            _ => {}
        }
        Ok(request)
    }

    /// Sends a refresh of `refresh_token` on this customer's client.
    pub(crate) async fn send_refresh(
        &self,
        token_url: &str,
        refresh_token: &str,
        request: &RefreshRequest,
    ) -> Result<Result<Tokens, Refusal>, ClientError> {
        self.http
            .refresh(
                token_url,
                refresh_token,
                &request.auth,
                request.dpop.as_deref(),
                request.dpop_rt.as_deref(),
            )
            .await
    }

    /// The legitimate agent refreshes edge `edge`'s access token (the core's RT, the edge's
    /// key); a rotated refresh token replaces the agent's.
    pub(crate) async fn legit_refresh(
        &mut self,
        edge: usize,
        token_url: &str,
        now: i64,
    ) -> Result<Result<Tokens, Refusal>, DrillError> {
        let at_key = if self.is_single_dpop() {
            self.core_key.as_ref()
        } else {
            self.edges[edge].key.as_ref()
        };
        let request = self.refresh_request(
            at_key,
            self.core_key.as_ref(),
            self.refresh_token(),
            token_url,
            now,
        )?;
        let answer = self
            .send_refresh(token_url, self.refresh_token(), &request)
            .await?;
        if let Ok(Some(rotated)) = answer.as_ref().map(|tokens| tokens.refresh_token.clone()) {
            self.grant.refresh_token = rotated;
        }
        Ok(answer)
    }

    /// Whether edge keys and the core key are the same key (single DPoP's tokens are bound to
    /// the victim's key).
    pub(crate) fn bound_to_core_key(&self, key: Option<&SharedSigner>) -> bool {
        key.zip(self.core_key.as_ref())
            .is_some_and(|(a, b)| Arc::ptr_eq(a, b))
    }
}
