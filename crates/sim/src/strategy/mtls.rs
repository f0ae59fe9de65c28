//! mTLS certificate-bound tokens (RFC 8705, <https://www.rfc-editor.org/rfc/rfc8705>).
//!
//! Access tokens carry `cnf.x5t#S256` of the agent's client certificate; refresh tokens of a
//! confidential client are bound through mTLS client authentication (RFC 8705 §7.1). The attacker
//! needs the certificate's private key: stolen outright (a binding-credential compromise, or a
//! software key on a compromised core disk) or used as an oracle while it holds the core host.
//!
//! Disabling is by revoking the certificate. Who revokes depends on who runs the CA:
//! the vendor (once it detects the leak) or each customer's own PKI (when that customer
//! responds). The CA then publishes a CRL after `ca_publish_delay`; a customer whose servers can
//! reach the CRL (`crl_reachable_share`) picks it up after `crl_pickup` (e.g. uniform over the
//! CRL's validity); the others keep accepting the certificate until it expires (remaining life
//! uniform over `cert_lifetime`). Sources: calibration rows 8–14 in `docs/model.md`.

use super::{Bindings, Context, Strategy};
use crate::scenario::{CaOperator, MtlsParams};
use leaklab_base::rng::stream_id;

pub struct Mtls(pub MtlsParams);

impl Mtls {
    /// When this customer's servers stop accepting the agent's certificate.
    fn certificate_rejected_at(&self, ctx: &Context<'_>) -> f64 {
        let revoked = match self.0.ca {
            CaOperator::Vendor => ctx.world.credential_action,
            CaOperator::Customer => ctx.customer.revokes_at(ctx.world),
        };
        let published = revoked
            + self
                .0
                .ca_publish_delay
                .quantile(ctx.uniform(const { stream_id("mtls/ca-publish") }));
        let via_crl = if ctx.uniform(const { stream_id("mtls/crl-reachable") })
            < self.0.crl_reachable_share
        {
            published
                + self
                    .0
                    .crl_pickup
                    .quantile(ctx.uniform(const { stream_id("mtls/crl-pickup") }))
        } else {
            f64::INFINITY
        };
        let expires = self
            .0
            .cert_lifetime
            .quantile(ctx.uniform(const { stream_id("mtls/cert-lifetime") }))
            * ctx.uniform(const { stream_id("mtls/cert-age") });
        via_crl.min(expires)
    }
}

impl Strategy for Mtls {
    fn bindings(&self, ctx: &Context<'_>) -> Bindings {
        let key = self.victim_key_until(ctx);
        let window = if key > 0.0 {
            key.min(self.certificate_rejected_at(ctx))
        } else {
            0.0
        };
        let oracle = !ctx.compromise.client_credential
            && (ctx.core_key_is_oracle() || ctx.edge_oracle(false) > 0.0);
        Bindings {
            refresh: window,
            stolen_access: window,
            minted_access: window,
            refresh_signs_on_device: oracle,
            // Every mTLS connection signs a CertificateVerify; connections are assumed long-lived,
            // so calls are counted against the device only through refreshes.
            call_signs_on_device: false,
        }
    }

    /// TLS handshakes are interactive: nothing can be signed ahead, so this is the binding's
    /// key window too.
    fn victim_key_until(&self, ctx: &Context<'_>) -> f64 {
        if ctx.compromise.client_credential {
            f64::INFINITY
        } else {
            ctx.core_tls_key().max(ctx.edge_oracle(false))
        }
    }

    fn credential_disabled_at(&self, ctx: &Context<'_>) -> f64 {
        self.certificate_rejected_at(ctx)
    }
}
