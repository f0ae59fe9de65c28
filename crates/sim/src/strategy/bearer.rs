//! Bearer tokens: no sender constraint. Whoever holds a token can use it; containment is left to
//! the grant-level rules (customer revocation, expiry, rotation with reuse detection).
//!
//! The agent is modelled as a client whose refresh tokens need no further proof (a public client,
//! or a confidential one whose client secret sits next to the refresh tokens).

use super::{Bindings, Context, Strategy};

pub struct Bearer;

impl Strategy for Bearer {
    fn bindings(&self, _ctx: &Context<'_>) -> Bindings {
        Bindings::NONE
    }
}
