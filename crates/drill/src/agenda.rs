//! The drill's future-event set: (second after the leak, action, customer), popped in that
//! order, so equal times run in the order of [`Action`] and then of customers.

use std::collections::BTreeSet;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Action {
    /// The legitimate agent (re)issues an edge's access token.
    LegitEdge(usize),
    /// The attacker starts (takes the loot) — at the leak.
    Leak,
    /// The attacker tries everything it has, refreshing unless it defers (below).
    Attack,
    /// The instant before something ends the attacker's ability to refresh (a defender action,
    /// the client's rotating refresh, the horizon): a maximal attacker that defers refreshing
    /// a rotating family under reuse detection refreshes only at such instants.
    LastMoment,
    /// The attacker signs ahead (one second before losing the device).
    Presign,
    /// The legitimate client refreshes a rotating refresh token (the simulator's refresh
    /// phase), which makes a stolen copy stale.
    LegitRotate,
    /// Defenders.
    RevokeGrant,
    RevokeAll,
    RevokeCertificate,
    RemoveJwksKey,
    /// The CA revokes the JWKS host's certificate and the provider's fetcher has the CRL.
    RejectJwksHost,
    /// The provider's cached JWKS (from the hijacked host) ages out.
    ExpireJwksCache,
    LoseDevice,
    LoseEdge,
}

impl Action {
    /// Whether this is something done to the customer (the agent's own steps and the
    /// attacker's turns are not), which ends the attacker's quiet turns.
    pub(crate) fn disturbs(self) -> bool {
        !matches!(
            self,
            Action::LegitEdge(_)
                | Action::Leak
                | Action::Attack
                | Action::LastMoment
                | Action::Presign
        )
    }
}

#[derive(Default)]
pub(crate) struct Agenda(BTreeSet<(i64, Action, usize)>);

impl Agenda {
    /// Schedules `action` for `customer` at second `t` after the leak.
    pub(crate) fn at(&mut self, t: i64, action: Action, customer: usize) {
        self.0.insert((t, action, customer));
    }

    /// The earliest entry, removed.
    pub(crate) fn next(&mut self) -> Option<(i64, Action, usize)> {
        self.0.pop_first()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_come_out_by_time_then_action_then_customer() {
        let mut agenda = Agenda::default();
        agenda.at(5, Action::RevokeGrant, 0);
        agenda.at(4, Action::LastMoment, 1);
        agenda.at(4, Action::LastMoment, 0);
        agenda.at(4, Action::Leak, 2);
        agenda.at(4, Action::Leak, 2);
        let order: Vec<_> = std::iter::from_fn(|| agenda.next()).collect();
        assert_eq!(
            order,
            [
                (4, Action::Leak, 2),
                (4, Action::LastMoment, 0),
                (4, Action::LastMoment, 1),
                (5, Action::RevokeGrant, 0),
            ]
        );
    }

    #[test]
    fn only_defenders_and_lost_footholds_end_quiet_turns() {
        assert!(!Action::Attack.disturbs());
        assert!(!Action::LegitEdge(3).disturbs());
        assert!(Action::LegitRotate.disturbs());
        assert!(Action::LoseDevice.disturbs());
    }
}
