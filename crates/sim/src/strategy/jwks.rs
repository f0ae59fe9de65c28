//! `private_key_jwt` client authentication (RFC 7523, <https://www.rfc-editor.org/rfc/rfc7523>)
//! with the agent's keys published at a `jwks_uri` on the web PKI.
//!
//! The refresh token is bound to client authentication; access tokens are bearer tokens.
//! The attacker can authenticate as the agent in two ways:
//!
//! * with the **signing key** (a binding-credential compromise, a software key on a compromised
//!   core disk, or the HSM/TPM as an oracle while it holds the core host). The vendor removes the
//!   key from its JWKS at `credential_action`; a customer's authorization server keeps accepting
//!   it until its cached JWKS ages out: a removed key triggers no refetch, so the lag is the
//!   cache's remaining age, uniform over its TTL (calibration rows 15–22);
//! * by **serving its own JWKS** with the JWKS host's stolen TLS key. That works until the
//!   customer's fetcher rejects the host certificate: the CA revokes it (`ca_revocation_delay`,
//!   at most 24 h under the CA/B Forum Baseline Requirements §4.9.1.1), and a fetcher that checks
//!   revocation sees it once its cached CRL is replaced (uniform over `crl_validity`: mean 3.5 days
//!   for a 7-day CRL, the IETF 124 slide's figure). A fetcher that does not check keeps trusting
//!   the certificate until it expires (remaining life uniform over `tls_cert_lifetime`). The
//!   attacker's keys then stay in the customer's cache for its remaining age.

use super::{Bindings, Context, JwksHostEnd, Strategy};
use crate::scenario::JwksParams;
use leaklab_base::rng::stream_id;

pub struct Jwks(pub JwksParams);

impl Jwks {
    /// The customer's JWKS cache TTL.
    fn ttl(&self, ctx: &Context<'_>) -> f64 {
        self.0
            .cache_ttl
            .quantile(ctx.uniform(const { stream_id("jwks/cache-ttl") }))
    }

    /// The vendor removes the key at its credential action; the customer's cached copy ages out
    /// after its remaining age, uniform over the TTL (independent of the action time).
    fn key_removed_at(&self, ctx: &Context<'_>) -> f64 {
        ctx.world.credential_action
            + self.ttl(ctx) * ctx.uniform(const { stream_id("jwks/cache-age") })
    }
}

impl Jwks {
    /// Until when the attacker can sign client assertions with the agent's key: a leaked
    /// credential for ever, else the core's key storage ([`Context::core_key`], with proofs
    /// signed ahead when `ahead`).
    fn signing_key_until(&self, ctx: &Context<'_>, ahead: bool) -> f64 {
        if ctx.compromise.client_credential {
            f64::INFINITY
        } else if ahead {
            ctx.core_key()
        } else {
            ctx.core_tls_key()
        }
    }
}

impl Strategy for Jwks {
    fn victim_key_until(&self, ctx: &Context<'_>) -> f64 {
        self.signing_key_until(ctx, false)
    }

    fn credential_disabled_at(&self, ctx: &Context<'_>) -> f64 {
        self.key_removed_at(ctx)
    }

    fn jwks_host_end(&self, ctx: &Context<'_>) -> Option<JwksHostEnd> {
        if !ctx.compromise.jwks_host {
            return None;
        }
        let revoked = ctx.world.credential_action
            + self
                .0
                .ca_revocation_delay
                .quantile(ctx.uniform(const { stream_id("jwks/ca-revocation") }));
        let checks_revocation = ctx.uniform(const { stream_id("jwks/checks-revocation") })
            < self.0.revocation_checking_share;
        let rejected_at = if checks_revocation {
            revoked
                + self
                    .0
                    .crl_validity
                    .quantile(ctx.uniform(const { stream_id("jwks/crl-validity") }))
                    * ctx.uniform(const { stream_id("jwks/crl-phase") })
        } else {
            self.0
                .tls_cert_lifetime
                .quantile(ctx.uniform(const { stream_id("jwks/tls-cert-lifetime") }))
                * ctx.uniform(const { stream_id("jwks/tls-cert-age") })
        };
        Some(JwksHostEnd {
            checks_revocation,
            rejected_at,
            cache_expires_at: rejected_at
                + self.ttl(ctx) * ctx.uniform(const { stream_id("jwks/stale-cache-age") }),
        })
    }

    fn bindings(&self, ctx: &Context<'_>) -> Bindings {
        let key = self.signing_key_until(ctx, true);
        let via_key = if key > 0.0 {
            key.min(self.key_removed_at(ctx))
        } else {
            0.0
        };
        let via_host = self.jwks_host_end(ctx).map_or(0.0, |h| h.cache_expires_at);
        Bindings {
            refresh: via_key.max(via_host),
            stolen_access: f64::INFINITY,
            minted_access: f64::INFINITY,
            refresh_signs_on_device: via_key > via_host
                && !ctx.compromise.client_credential
                && ctx.core_key_is_oracle(),
            call_signs_on_device: false,
        }
    }
}
