//! The authorization server under drill, behind a trait: the drill provisions, revokes and
//! steps the clock through it, and the agent and the attacker talk to its token endpoint over
//! HTTPS. [`LeaklabAs`] is the testbed's; another server goes behind the same trait.

use std::future::Future;

use leaklab_protocol::token_endpoint::RtBinding;
use leaklab_testbed::{Admin, ClientConfig, ManualClock};

/// Whatever a server's operations fail with (each server has its own errors).
pub type ServerError = Box<dyn std::error::Error + Send + Sync>;

/// A provisioned grant: the server's name for it and its first refresh token.
#[derive(Clone, Debug)]
pub struct Grant {
    pub id: String,
    pub refresh_token: String,
}

/// What the drill asks of an authorization server besides its token endpoint: the provider's
/// operations (registration, provisioning, the defenders' revocations) and the drill's clock.
pub trait AuthorizationServer {
    /// The token endpoint the agent and the attacker refresh at.
    fn token_url(&self) -> &str;

    /// Sets the server's protocol clock (unix seconds); the drill steps it from one scheduled
    /// instant to the next.
    fn set_clock(&self, unix_secs: i64);

    /// Registers a client.
    fn register(
        &self,
        client: &ClientConfig,
    ) -> impl Future<Output = Result<(), ServerError>> + Send;

    /// Provisions a grant for `subject`, its refresh token bound as `binding`.
    fn provision(
        &self,
        client_id: &str,
        subject: &str,
        binding: &RtBinding,
    ) -> impl Future<Output = Result<Grant, ServerError>> + Send;

    /// Revokes one grant (the customer's revocation, or the vendor's mass revocation reaching it).
    fn revoke_grant(&self, grant: &Grant) -> impl Future<Output = Result<(), ServerError>> + Send;

    /// Revokes every grant of a client (the provider's revoke-all).
    fn revoke_all(&self, client_id: &str) -> impl Future<Output = Result<(), ServerError>> + Send;

    /// Ages the server's cached copy of a client's JWKS out now (the next use fetches it).
    fn expire_jwks(&self, client_id: &str) -> impl Future<Output = Result<(), ServerError>> + Send;
}

/// The testbed's authorization server, through its admin API and the bed's injected clock.
pub struct LeaklabAs {
    admin: Admin,
    token_url: String,
    clock: ManualClock,
}

impl LeaklabAs {
    pub fn new(admin: Admin, token_url: String, clock: ManualClock) -> Self {
        Self {
            admin,
            token_url,
            clock,
        }
    }
}

impl AuthorizationServer for LeaklabAs {
    fn token_url(&self) -> &str {
        &self.token_url
    }

    fn set_clock(&self, unix_secs: i64) {
        self.clock.set(unix_secs);
    }

    async fn register(&self, client: &ClientConfig) -> Result<(), ServerError> {
        Ok(self.admin.register(client).await?)
    }

    async fn provision(
        &self,
        client_id: &str,
        subject: &str,
        binding: &RtBinding,
    ) -> Result<Grant, ServerError> {
        let (family, refresh_token) = self.admin.provision(client_id, subject, binding).await?;
        Ok(Grant {
            id: family.to_string(),
            refresh_token,
        })
    }

    async fn revoke_grant(&self, grant: &Grant) -> Result<(), ServerError> {
        Ok(self.admin.revoke_grant(grant.id.parse()?).await?)
    }

    async fn revoke_all(&self, client_id: &str) -> Result<(), ServerError> {
        Ok(self.admin.revoke_all(client_id).await?)
    }

    async fn expire_jwks(&self, client_id: &str) -> Result<(), ServerError> {
        Ok(self.admin.expire_jwks(client_id).await?)
    }
}
