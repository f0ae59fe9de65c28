//! The attacker's loot and turns: refresh if it can, then use every token it holds; sign ahead
//! before it loses the device. It learns only what a real one would (whether each request
//! succeeded, and the `exp` of its tokens).

use leaklab_sim::scenario::StrategyKind;
use leaklab_testbed::{ClientAuth, HttpClient, Refusal};

use crate::keys::{self, SharedSigner};
use crate::live::Live;
use crate::{DrillError, T0};

/// What the attacker may use a victim key through: a copy, or the device while it holds it.
#[derive(Clone)]
pub(crate) enum VictimKey {
    None,
    Copy(SharedSigner),
    Device(SharedSigner),
}

#[derive(Default)]
pub(crate) struct Thief {
    pub(crate) refresh_token: Option<String>,
    pub(crate) victim: Option<VictimKey>,
    pub(crate) own_key: Option<SharedSigner>,
    pub(crate) tokens: Vec<Held>,
    /// Refresh proofs (or assertions) signed ahead, each with its last usable second.
    pub(crate) presigned_refresh: Vec<(String, i64)>,
    /// Call proofs signed ahead: the token, the proof, the proof's last usable second.
    pub(crate) presigned_calls: Vec<(String, String, i64)>,
    pub(crate) edge_foothold_until: f64,
    /// The last refresh succeeded and no defender has acted on this customer since: until
    /// something is done to it, every turn of a maximal attacker would succeed, so its turns at
    /// token expiry are skipped (its next turn is one second before the next defender action or
    /// the horizon, where it refreshes). Without this, a customer who never revokes costs two
    /// requests per token lifetime up to the horizon.
    pub(crate) quiet: bool,
    pub(crate) last_success: Option<f64>,
    pub(crate) at_horizon: bool,
    pub(crate) requests: u64,
}

/// An access token the attacker holds.
#[derive(Clone)]
pub(crate) struct Held {
    pub(crate) token: String,
    /// Its `exp` (unix).
    pub(crate) exp: i64,
    /// The DPoP key it is bound to, if any.
    pub(crate) key: Option<SharedSigner>,
    /// Bound to the victim's key (proofs need the victim key or one signed ahead).
    pub(crate) victim_bound: bool,
}

impl Thief {
    /// The victim key the attacker can sign with right now.
    pub(crate) fn victim_signer(&self) -> Option<SharedSigner> {
        match &self.victim {
            Some(VictimKey::Copy(key)) | Some(VictimKey::Device(key)) => Some(key.clone()),
            _ => None,
        }
    }

    /// The tokens still valid at `now`.
    fn valid_tokens(&self, now: i64) -> Vec<Held> {
        self.tokens
            .iter()
            .filter(|h| h.exp > now)
            .cloned()
            .collect()
    }
}

/// Where the attacker sends its requests, and its client without a certificate.
pub(crate) struct Endpoints {
    pub(crate) plain: HttpClient,
    pub(crate) token_url: String,
    pub(crate) rs_url: String,
}

/// How one attacker turn went.
#[derive(Default)]
struct Turn {
    success: bool,
    /// The `exp` of tokens it did not have before.
    new_exps: Vec<i64>,
}

impl Live<'_> {
    /// The attacker copies what the edges hold now (tokens and, where edges hold keys, the
    /// keys). Returns the `exp` of tokens it did not have.
    pub(crate) fn steal_edges(&mut self, now: i64) -> Vec<i64> {
        let mut new = Vec::new();
        for edge in &self.edges {
            if let Some((token, exp)) = &edge.token {
                if *exp > now && !self.thief.tokens.iter().any(|h| &h.token == token) {
                    self.thief.tokens.push(Held {
                        token: token.clone(),
                        exp: *exp,
                        key: edge.key.clone(),
                        victim_bound: self.bound_to_core_key(edge.key.as_ref()),
                    });
                    new.push(*exp);
                }
            }
        }
        new
    }

    /// One attacker turn: refresh if it can (and `may_refresh`), then every token it holds.
    /// `last`: the turn one second before the horizon. Returns the `exp` of new tokens (the
    /// caller schedules a turn one second before each).
    pub(crate) async fn attack(
        &mut self,
        endpoints: &Endpoints,
        now: i64,
        last: bool,
        may_refresh: bool,
    ) -> Result<Vec<i64>, DrillError> {
        let mut turn = Turn::default();
        if may_refresh {
            self.attacker_refresh(endpoints, now, &mut turn).await?;
        }
        self.attacker_calls(endpoints, now, &mut turn).await?;
        if turn.success {
            self.thief.last_success = Some((now - T0) as f64);
            if last {
                self.thief.at_horizon = true;
            }
        }
        Ok(turn.new_exps)
    }

    /// The refresh proof (or assertion) signed ahead that the attacker spends now, if it has no
    /// victim key: at the last second it is usable (the later the refresh, the later the new
    /// token expires).
    fn spend_presigned_refresh(&mut self, now: i64, has_victim: bool) -> Option<String> {
        match self.thief.presigned_refresh.last() {
            Some((_, last)) if !has_victim && now >= *last => {
                self.thief.presigned_refresh.pop().map(|p| p.0)
            }
            _ => None,
        }
    }

    async fn attacker_refresh(
        &mut self,
        endpoints: &Endpoints,
        now: i64,
        turn: &mut Turn,
    ) -> Result<(), DrillError> {
        let Some(refresh_token) = self.thief.refresh_token.clone() else {
            return Ok(());
        };
        let token_url = endpoints.token_url.as_str();
        let victim = self.thief.victim_signer();
        let presigned = self.spend_presigned_refresh(now, victim.is_some());
        let bearer = matches!(self.kind, StrategyKind::Bearer);
        if !(bearer || victim.is_some() || presigned.is_some()) {
            return Ok(());
        }
        let own = self.thief.own_key.clone();
        let mut request = match (&victim, self.kind) {
            (Some(v), StrategyKind::SplitDpop) => {
                self.refresh_request(own.as_ref(), Some(v), &refresh_token, token_url, now)?
            }
            (Some(v), StrategyKind::SingleDpop { .. }) => {
                self.refresh_request(Some(v), Some(v), &refresh_token, token_url, now)?
            }
            (Some(v), _) => self.refresh_request(None, Some(v), &refresh_token, token_url, now)?,
            (None, _) => self.refresh_request(None, None, &refresh_token, token_url, now)?,
        };
        // A proof signed ahead is the attacker's last refresh: no quiet turns after it.
        let can_sign_again = victim.is_some() || presigned.is_none();
        if let Some(proof) = presigned {
            match self.kind {
                StrategyKind::SplitDpop => {
                    request.dpop_rt = Some(proof);
                    request.dpop = match &own {
                        Some(key) => Some(keys::token_proof(key, token_url, now)?),
                        None => None,
                    };
                }
                StrategyKind::SingleDpop { .. } => request.dpop = Some(proof),
                StrategyKind::Jwks(_) => request.auth = ClientAuth::Assertion(proof),
                _ => {}
            }
        }
        self.thief.requests += 1;
        let answer = self
            .send_refresh(token_url, &refresh_token, &request)
            .await?;
        if let Err(refusal) = &answer {
            trace_refusal("refresh", refusal);
        }
        self.thief.quiet = answer.is_ok() && can_sign_again;
        if let Ok(tokens) = answer {
            turn.success = true;
            if let Some(rotated) = tokens.refresh_token {
                self.thief.refresh_token = Some(rotated);
            }
            let exp = now + tokens.expires_in;
            let key = match self.kind {
                StrategyKind::SplitDpop => own,
                StrategyKind::SingleDpop { .. } => victim,
                _ => None,
            };
            self.thief.tokens.push(Held {
                token: tokens.access_token,
                exp,
                key,
                victim_bound: self.is_single_dpop(),
            });
            turn.new_exps.push(exp);
        }
        Ok(())
    }

    /// The attacker calls the resource server with every token it holds.
    async fn attacker_calls(
        &mut self,
        endpoints: &Endpoints,
        now: i64,
        turn: &mut Turn,
    ) -> Result<(), DrillError> {
        let victim = self.thief.victim_signer();
        for held in self.thief.valid_tokens(now) {
            let client = match (&self.identity, self.kind) {
                (Some(_), StrategyKind::Mtls(_)) => {
                    if victim.is_none() {
                        continue;
                    }
                    self.http.clone()
                }
                _ => endpoints.plain.clone(),
            };
            let Some(proof) =
                self.call_proof_for(&held, victim.as_ref(), &endpoints.rs_url, now)?
            else {
                continue;
            };
            self.thief.requests += 1;
            match client
                .call(&endpoints.rs_url, &held.token, proof.as_deref())
                .await?
            {
                Ok(_) => turn.success = true,
                Err(refusal) => trace_refusal("call", &refusal),
            }
        }
        Ok(())
    }

    /// The DPoP proof for a call with `held` (`Some(None)`: a bearer call), or `None` when the
    /// attacker cannot make one now.
    fn call_proof_for(
        &mut self,
        held: &Held,
        victim: Option<&SharedSigner>,
        rs_url: &str,
        now: i64,
    ) -> Result<Option<Option<String>>, DrillError> {
        Ok(Some(match (&held.key, held.victim_bound) {
            (Some(key), false) => Some(keys::call_proof(key, rs_url, now, &held.token)?),
            (Some(_), true) => match victim {
                Some(v) => Some(keys::call_proof(v, rs_url, now, &held.token)?),
                // A proof signed ahead is single-use: spend it at the last second it or the
                // token is usable, as a maximal attacker would.
                None => {
                    let spendable = self.thief.presigned_calls.iter().position(|(t, _, last)| {
                        t == &held.token && (now >= *last || now >= held.exp - 1)
                    });
                    match spendable {
                        Some(i) => Some(self.thief.presigned_calls.remove(i).1),
                        None => return Ok(None),
                    }
                }
            },
            (None, _) => None,
        }))
    }

    /// The maximal attacker signs ahead with the device, one second before losing it: a refresh
    /// proof (or client assertion) and one call proof per victim-bound token it holds, each
    /// usable for `window` seconds.
    pub(crate) fn presign(
        &mut self,
        endpoints: &Endpoints,
        now: i64,
        window: i64,
    ) -> Result<(), DrillError> {
        let Some(victim) = self.thief.victim_signer() else {
            return Ok(());
        };
        let token_url = endpoints.token_url.as_str();
        if let Some(refresh_token) = self.thief.refresh_token.clone() {
            let proof = match self.kind {
                StrategyKind::SplitDpop => Some(keys::refresh_proof(
                    &victim,
                    token_url,
                    now,
                    &refresh_token,
                )?),
                StrategyKind::SingleDpop { .. } => {
                    Some(keys::token_proof(&victim, token_url, now)?)
                }
                StrategyKind::Jwks(_) => {
                    Some(keys::assertion(&victim, &self.client_id, token_url, now)?)
                }
                _ => None,
            };
            self.thief
                .presigned_refresh
                .extend(proof.map(|p| (p, now + window)));
        }
        for held in self.thief.valid_tokens(now) {
            if held.victim_bound {
                let proof = keys::call_proof(&victim, &endpoints.rs_url, now, &held.token)?;
                self.thief
                    .presigned_calls
                    .push((held.token, proof, now + window));
            }
        }
        Ok(())
    }
}

/// With `LEAKLAB_DRILL_TRACE` set, a refused attacker request goes to stderr.
pub(crate) fn trace_refusal(what: &str, refusal: &Refusal) {
    if std::env::var_os("LEAKLAB_DRILL_TRACE").is_some() {
        eprintln!(
            "drill   attacker {what} refused: {} {} {}",
            refusal.status, refusal.error, refusal.description
        );
    }
}
