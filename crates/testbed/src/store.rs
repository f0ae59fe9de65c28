//! Durable state in SQLite: the authorization server's clients, grants (refresh-token
//! families), refresh tokens, issued access tokens and revocations, and the DPoP replay store
//! that resource-server instances share.
//!
//! **Durability.** WAL journal with `synchronous = FULL`: a transaction is on disk before the
//! server answers, so a SIGKILL loses no grant it confirmed and resurrects no token it revoked.
//! Every state change of one request is one transaction. Refresh tokens are stored as SHA-256
//! hashes only.
//!
//! **Rotation races.** Rotating a refresh token is a conditional update (`state = 'current'`):
//! of two concurrent refreshes with one token exactly one changes a row; the other sees a stale
//! token (reuse) and, with reuse detection, revokes the family.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use leaklab_protocol::replay::{ReplayError, ReplayKey, ReplayStore};
use leaklab_protocol::token_endpoint::{ClientMetadata, RtBinding};
use rand::RngCore;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {path}: {source}")]
    Open {
        path: String,
        source: rusqlite::Error,
    },
    #[error("database: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("stored record is not valid JSON: {0}")]
    Record(#[from] serde_json::Error),
    #[error("unknown client `{0}`")]
    UnknownClient(String),
}

/// How a client authenticates at the token endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum ClientAuthMethod {
    /// A public client (RFC 6749 §2.1).
    None,
    /// RFC 7523 client assertion signed with a key from the client's JWKS.
    PrivateKeyJwt {
        jwks_uri: String,
        /// Fetches check the JWKS host's certificate against the CA's CRL; otherwise it is
        /// trusted until it expires (the provider's fetcher policy).
        #[serde(default)]
        check_host_revocation: bool,
    },
    /// RFC 8705 §2.1 PKI client authentication: a certificate from the testbed CA with this
    /// `x5t#S256` (the registration pins the certificate).
    TlsClientAuth { x5t_s256: String },
}

/// A client registration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientConfig {
    pub client_id: String,
    pub auth: ClientAuthMethod,
    #[serde(default)]
    pub metadata: ClientMetadata,
    /// Refresh-token rotation (RFC 9700 §4.14.2).
    #[serde(default)]
    pub rotation: bool,
    /// With rotation: a stale refresh token revokes its whole family.
    #[serde(default)]
    pub reuse_detection: bool,
    /// Access tokens bound to the client certificate (RFC 8705 §3).
    #[serde(default)]
    pub certificate_bound_access_tokens: bool,
}

/// A stored client and whether the provider has disabled it.
#[derive(Clone, Debug)]
pub struct ClientRecord {
    pub config: ClientConfig,
    pub disabled_at: Option<i64>,
}

/// What a presented refresh token is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RtLookup {
    Unknown,
    /// Valid and current.
    Current {
        family: i64,
        client_id: String,
        sub: String,
        binding: RtBinding,
    },
    /// Already rotated away (a reuse).
    Stale {
        family: i64,
        client_id: String,
    },
    /// Its family is revoked.
    Revoked {
        family: i64,
    },
}

/// Outcome of a conditional rotation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rotation {
    Rotated {
        refresh_token: String,
    },
    /// Another request rotated the token first.
    LostRace,
}

/// The hash under which a token is stored.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// A fresh 256-bit opaque token.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    leaklab_protocol::b64::encode(bytes)
}

fn open(path: &Path, synchronous: &str) -> Result<Connection, StoreError> {
    let wrap = |source| StoreError::Open {
        path: path.display().to_string(),
        source,
    };
    let conn = Connection::open(path).map_err(wrap)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(wrap)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(wrap)?;
    conn.pragma_update(None, "synchronous", synchronous)
        .map_err(wrap)?;
    // Every statement is prepared once per connection and reused (parsing SQL per request was
    // a visible share of a resource-server call's CPU).
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Stores a fresh, current refresh token of `family` (inside the caller's transaction).
fn insert_refresh_token(
    tx: &rusqlite::Transaction<'_>,
    family: i64,
    binding: &RtBinding,
    now: i64,
) -> Result<String, StoreError> {
    let token = new_token();
    tx.prepare_cached(
        "INSERT INTO refresh_tokens (hash, family, binding, issued_at, state)
         VALUES (?1, ?2, ?3, ?4, 'current')",
    )?
    .execute(params![
        token_hash(&token),
        family,
        serde_json::to_string(binding)?,
        now
    ])?;
    Ok(token)
}

/// The authorization server's state.
#[derive(Debug)]
pub struct AsStore {
    conn: Mutex<Connection>,
    /// Disabled clients, read from the database at open and updated after each commit that
    /// disables one: every resource-server call asks, and a set lookup costs nothing where a
    /// query took a lock and a statement. The database stays the record.
    disabled: std::sync::RwLock<std::collections::HashSet<String>>,
}

const AS_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS clients (
    client_id TEXT PRIMARY KEY, config TEXT NOT NULL, disabled_at INTEGER);
CREATE TABLE IF NOT EXISTS grants (
    family INTEGER PRIMARY KEY AUTOINCREMENT, client_id TEXT NOT NULL, sub TEXT NOT NULL,
    created_at INTEGER NOT NULL, revoked_at INTEGER, revoked_reason TEXT);
CREATE INDEX IF NOT EXISTS grants_client ON grants (client_id);
CREATE TABLE IF NOT EXISTS refresh_tokens (
    hash BLOB PRIMARY KEY, family INTEGER NOT NULL, binding TEXT NOT NULL,
    issued_at INTEGER NOT NULL, state TEXT NOT NULL CHECK (state IN ('current', 'rotated')));
CREATE TABLE IF NOT EXISTS access_tokens (
    jti TEXT PRIMARY KEY, family INTEGER NOT NULL, exp INTEGER NOT NULL, revoked INTEGER NOT NULL DEFAULT 0);
";

impl AsStore {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<AsStore, StoreError> {
        let conn = open(path, "FULL")?;
        conn.execute_batch(AS_SCHEMA)?;
        let disabled = conn
            .prepare("SELECT client_id FROM clients WHERE disabled_at IS NOT NULL")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(AsStore {
            conn: Mutex::new(conn),
            disabled: std::sync::RwLock::new(disabled),
        })
    }

    /// A value from the `meta` table, created by `init` on first use (server keys, secrets), so
    /// that a restarted server keeps them.
    pub fn meta_or_init(
        &self,
        key: &str,
        init: impl FnOnce() -> Vec<u8>,
    ) -> Result<Vec<u8>, StoreError> {
        let conn = lock(&self.conn);
        if let Some(v) = conn
            .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
            .query_row([key], |r| r.get(0))
            .optional()?
        {
            return Ok(v);
        }
        let value = init();
        conn.prepare_cached("INSERT INTO meta (key, value) VALUES (?1, ?2)")?
            .execute(params![key, value])?;
        Ok(value)
    }

    /// Registers (or replaces) a client.
    pub fn register_client(&self, config: &ClientConfig) -> Result<(), StoreError> {
        let json = serde_json::to_string(config)?;
        lock(&self.conn)
            .prepare_cached(
                "INSERT INTO clients (client_id, config) VALUES (?1, ?2)
             ON CONFLICT (client_id) DO UPDATE SET config = excluded.config",
            )?
            .execute(params![config.client_id, json])?;
        Ok(())
    }

    pub fn client(&self, client_id: &str) -> Result<Option<ClientRecord>, StoreError> {
        let row: Option<(String, Option<i64>)> = lock(&self.conn)
            .prepare_cached("SELECT config, disabled_at FROM clients WHERE client_id = ?1")?
            .query_row([client_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        row.map(|(config, disabled_at)| {
            Ok(ClientRecord {
                config: serde_json::from_str(&config)?,
                disabled_at,
            })
        })
        .transpose()
    }

    /// Creates a grant (as an authorization-code flow would) and returns its family id and
    /// first refresh token.
    pub fn provision_grant(
        &self,
        client_id: &str,
        sub: &str,
        binding: &RtBinding,
        now: i64,
    ) -> Result<(i64, String), StoreError> {
        let mut conn = lock(&self.conn);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let known: Option<i64> = tx
            .prepare_cached("SELECT 1 FROM clients WHERE client_id = ?1")?
            .query_row([client_id], |r| r.get(0))
            .optional()?;
        if known.is_none() {
            return Err(StoreError::UnknownClient(client_id.to_owned()));
        }
        tx.prepare_cached("INSERT INTO grants (client_id, sub, created_at) VALUES (?1, ?2, ?3)")?
            .execute(params![client_id, sub, now])?;
        let family = tx.last_insert_rowid();
        let token = insert_refresh_token(&tx, family, binding, now)?;
        tx.commit()?;
        Ok((family, token))
    }

    /// Looks up a presented refresh token.
    pub fn lookup_refresh(&self, token: &str) -> Result<RtLookup, StoreError> {
        let row: Option<(i64, String, String, String, String, Option<i64>)> = lock(&self.conn)
            .prepare_cached(
                "SELECT r.family, r.binding, r.state, g.client_id, g.sub, g.revoked_at
                 FROM refresh_tokens r JOIN grants g ON g.family = r.family WHERE r.hash = ?1",
            )?
            .query_row([token_hash(token)], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })
            .optional()?;
        Ok(match row {
            None => RtLookup::Unknown,
            Some((family, _, _, _, _, Some(_))) => RtLookup::Revoked { family },
            Some((family, _, state, client_id, _, None)) if state == "rotated" => {
                RtLookup::Stale { family, client_id }
            }
            Some((family, binding, _, client_id, sub, None)) => RtLookup::Current {
                family,
                client_id,
                sub,
                binding: serde_json::from_str(&binding)?,
            },
        })
    }

    /// Replaces `old` by a new refresh token of the same family, if `old` is still current and
    /// the family alive (one transaction; see the module doc on races).
    pub fn rotate(
        &self,
        old: &str,
        family: i64,
        binding: &RtBinding,
        now: i64,
    ) -> Result<Rotation, StoreError> {
        let mut conn = lock(&self.conn);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let changed = tx
            .prepare_cached(
                "UPDATE refresh_tokens SET state = 'rotated'
             WHERE hash = ?1 AND state = 'current'
               AND family IN (SELECT family FROM grants WHERE family = ?2 AND revoked_at IS NULL)",
            )?
            .execute(params![token_hash(old), family])?;
        if changed != 1 {
            return Ok(Rotation::LostRace);
        }
        let token = insert_refresh_token(&tx, family, binding, now)?;
        tx.commit()?;
        Ok(Rotation::Rotated {
            refresh_token: token,
        })
    }

    /// Revokes a grant family (idempotent; the first reason stays). Returns whether it was alive.
    pub fn revoke_family(&self, family: i64, reason: &str, now: i64) -> Result<bool, StoreError> {
        let changed = lock(&self.conn)
            .prepare_cached(
                "UPDATE grants SET revoked_at = ?2, revoked_reason = ?3
             WHERE family = ?1 AND revoked_at IS NULL",
            )?
            .execute(params![family, now, reason])?;
        Ok(changed == 1)
    }

    /// The provider's app-wide action: disables the client and revokes every grant it holds.
    /// Returns the number of grants revoked.
    pub fn revoke_client(&self, client_id: &str, now: i64) -> Result<usize, StoreError> {
        let mut conn = lock(&self.conn);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let known = tx
            .prepare_cached(
                "UPDATE clients SET disabled_at = COALESCE(disabled_at, ?2) WHERE client_id = ?1",
            )?
            .execute(params![client_id, now])?;
        if known == 0 {
            return Err(StoreError::UnknownClient(client_id.to_owned()));
        }
        let n = tx
            .prepare_cached(
                "UPDATE grants SET revoked_at = ?2, revoked_reason = 'provider revoked the client'
             WHERE client_id = ?1 AND revoked_at IS NULL",
            )?
            .execute(params![client_id, now])?;
        tx.commit()?;
        self.disabled
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(client_id.to_owned());
        Ok(n)
    }

    /// Records an issued access token (for introspection and RFC 7009 revocation).
    pub fn record_access_token(&self, jti: &str, family: i64, exp: i64) -> Result<(), StoreError> {
        lock(&self.conn)
            .prepare_cached("INSERT INTO access_tokens (jti, family, exp) VALUES (?1, ?2, ?3)")?
            .execute(params![jti, family, exp])?;
        Ok(())
    }

    /// Whether an access token is still active as far as revocation goes: not revoked itself,
    /// its grant alive, its client not disabled. Unknown tokens are inactive.
    pub fn access_token_active(&self, jti: &str) -> Result<bool, StoreError> {
        let row: Option<(i64, Option<i64>, Option<i64>)> = lock(&self.conn)
            .prepare_cached(
                "SELECT a.revoked, g.revoked_at, c.disabled_at FROM access_tokens a
                 JOIN grants g ON g.family = a.family JOIN clients c ON c.client_id = g.client_id
                 WHERE a.jti = ?1",
            )?
            .query_row([jti], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        Ok(matches!(row, Some((0, None, None))))
    }

    /// RFC 7009 for an access token: marks it revoked. Returns whether it was known.
    pub fn revoke_access_token(&self, jti: &str) -> Result<bool, StoreError> {
        Ok(lock(&self.conn)
            .prepare_cached("UPDATE access_tokens SET revoked = 1 WHERE jti = ?1")?
            .execute([jti])?
            == 1)
    }

    /// Whether the provider has disabled this client (checked by resource servers, which the
    /// same provider runs).
    pub fn client_disabled(&self, client_id: &str) -> bool {
        self.disabled
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains(client_id)
    }
}

/// Limits of the shared replay store.
#[derive(Clone, Copy, Debug)]
pub struct ReplayLimits {
    /// Entries admitted over all owners in the last two windows of `owner_window_secs` (an
    /// upper bound on the live entries while the window is at least an entry's lifetime, which
    /// the testbed ensures);
    /// beyond it the store is full (a server error, fail closed).
    pub capacity: u64,
    /// Entries per owner (a grant or a client) per window of `owner_window_secs`: a flood from
    /// one owner fills its own quota, not the store. Counted per window (O(1) per insert), so
    /// the live entries of one owner stay below twice the quota when the window is the proof
    /// window.
    pub per_owner: u64,
    pub owner_window_secs: i64,
}

impl Default for ReplayLimits {
    fn default() -> Self {
        Self {
            capacity: 1_000_000,
            per_owner: 10_000,
            owner_window_secs: 300,
        }
    }
}

/// The limits' counters, kept in memory by each process that opens the store: quotas and
/// capacity are admission control of that process's servers, while the database's one job is
/// the cross-instance uniqueness of each `jti`, in a single statement per proof.
#[derive(Debug, Default)]
struct Admission {
    epoch: i64,
    per_owner: std::collections::HashMap<String, u64>,
    /// Admitted in the previous and the current window.
    admitted: [u64; 2],
}

impl Admission {
    /// Moves to `epoch` if it is later; a request that read the clock just before a boundary
    /// and arrives after it is counted in the current window, never rolls the counters back.
    fn roll(&mut self, epoch: i64) {
        if epoch > self.epoch {
            self.admitted = if epoch == self.epoch + 1 {
                [self.admitted[1], 0]
            } else {
                [0, 0]
            };
            self.per_owner.clear();
            self.epoch = epoch;
        }
    }

    fn check(&self, owner: &str, limits: &ReplayLimits) -> Result<(), ReplayRefusal> {
        if self.per_owner.get(owner).copied().unwrap_or(0) >= limits.per_owner {
            return Err(ReplayRefusal::OwnerQuota);
        }
        if self.admitted[0] + self.admitted[1] >= limits.capacity {
            return Err(ReplayRefusal::Unavailable);
        }
        Ok(())
    }

    fn count(&mut self, owner: &str) {
        *self.per_owner.entry(owner.to_owned()).or_insert(0) += 1;
        self.admitted[1] += 1;
    }

    fn uncount(&mut self, owner: &str) {
        if let Some(n) = self.per_owner.get_mut(owner) {
            *n = n.saturating_sub(1);
        }
        self.admitted[1] = self.admitted[1].saturating_sub(1);
    }
}

/// Where a [`SharedReplayStore`] keeps its entries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReplayBackend {
    /// A SQLite file: shared by instances in any process on the host, and entries survive a
    /// killed server (a proof accepted before a restart stays a replay after it).
    #[default]
    Sqlite,
    /// Memory shared by the instances of one process (what a load balancer in front of one
    /// process's listeners needs); cheaper per proof, lost on restart.
    Memory,
}

impl ReplayBackend {
    pub fn name(self) -> &'static str {
        match self {
            ReplayBackend::Sqlite => "SQLite file",
            ReplayBackend::Memory => "in-process memory",
        }
    }
}

/// Shards of the memory backend (one lock each, so concurrent proofs rarely wait).
const MEMORY_SHARDS: usize = 16;

#[derive(Debug, Default)]
struct MemoryShard {
    /// Key → expiry (unix seconds).
    entries: std::collections::HashMap<[u8; 32], i64>,
    /// Expired entries are dropped when the shard reaches this size (then twice the live size):
    /// amortised O(1) per insert.
    purge_at: usize,
}

#[derive(Debug)]
enum Entries {
    Sqlite {
        conn: Mutex<Connection>,
        inserts: std::sync::atomic::AtomicU64,
    },
    Memory(Vec<Mutex<MemoryShard>>),
}

impl Entries {
    /// Records `key` until `expires_at` unless a live entry has it: `Ok(true)` when recorded.
    fn record(&self, key: &ReplayKey, now: i64, expires_at: i64) -> Result<bool, rusqlite::Error> {
        match self {
            Entries::Sqlite { conn, inserts } => {
                let conn = lock(conn);
                if inserts.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % PURGE_EVERY
                    == PURGE_EVERY - 1
                {
                    conn.prepare_cached("DELETE FROM proof_jti WHERE expires_at <= ?1")?
                        .execute([now])?;
                }
                // New, or replacing an expired entry: one row changed. A live entry: none.
                let changed = conn
                    .prepare_cached(
                        "INSERT INTO proof_jti (key, expires_at) VALUES (?1, ?2)
                         ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at
                         WHERE proof_jti.expires_at <= ?3",
                    )?
                    .execute(params![&key.0[..], expires_at, now])?;
                Ok(changed == 1)
            }
            Entries::Memory(shards) => {
                let mut shard = lock(&shards[usize::from(key.0[0]) % shards.len()]);
                if shard.entries.len() >= shard.purge_at {
                    shard.entries.retain(|_, e| *e > now);
                    shard.purge_at = (2 * shard.entries.len()).max(1024);
                }
                match shard.entries.entry(key.0) {
                    std::collections::hash_map::Entry::Occupied(mut e) => {
                        if *e.get() > now {
                            return Ok(false);
                        }
                        e.insert(expires_at);
                    }
                    std::collections::hash_map::Entry::Vacant(e) => {
                        e.insert(expires_at);
                    }
                }
                Ok(true)
            }
        }
    }
}

/// A `jti` replay store that several server instances share: a proof accepted by one instance
/// is a replay at every other. See [`ReplayBackend`] for where the entries live.
#[derive(Debug)]
pub struct SharedReplayStore {
    entries: Entries,
    limits: ReplayLimits,
    admission: Mutex<Admission>,
}

const REPLAY_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS proof_jti (key BLOB PRIMARY KEY, expires_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS proof_jti_expiry ON proof_jti (expires_at);
";

/// Expired entries of the SQLite backend are deleted every this many inserts of one process.
const PURGE_EVERY: u64 = 4096;

/// Why the replay store refused, beyond the protocol's two answers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReplayRefusal {
    #[default]
    None,
    /// The owner's quota is used up (answered with 429 to that owner only).
    OwnerQuota,
    /// The store is at capacity or failed (answered with a server error).
    Unavailable,
}

impl SharedReplayStore {
    /// Opens the store: the SQLite backend at `path` (created if needed), or memory. SQLite
    /// entries need not survive a power cut (they expire within the proof window), so commits
    /// are not fsynced (`synchronous = NORMAL` in WAL mode), but they are visible to every
    /// instance at once and survive a killed process.
    pub fn open(
        backend: ReplayBackend,
        path: &Path,
        limits: ReplayLimits,
    ) -> Result<SharedReplayStore, StoreError> {
        let entries = match backend {
            ReplayBackend::Sqlite => {
                let conn = open(path, "NORMAL")?;
                conn.execute_batch(REPLAY_SCHEMA)?;
                Entries::Sqlite {
                    conn: Mutex::new(conn),
                    inserts: Default::default(),
                }
            }
            ReplayBackend::Memory => {
                Entries::Memory((0..MEMORY_SHARDS).map(|_| Mutex::default()).collect())
            }
        };
        Ok(SharedReplayStore {
            entries,
            limits,
            admission: Mutex::default(),
        })
    }

    /// The store as seen by one owner.
    pub fn for_owner<'a>(&'a self, owner: &'a str) -> OwnerReplay<'a> {
        OwnerReplay {
            store: self,
            owner,
            refusal: ReplayRefusal::None,
        }
    }

    fn insert(
        &self,
        key: &ReplayKey,
        owner: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<Result<(), ReplayRefusal>, rusqlite::Error> {
        let epoch = now.div_euclid(self.limits.owner_window_secs.max(1));
        // Counted before the entry is recorded and taken back if it is not, so concurrent
        // requests cannot all pass the check before any of them counts.
        {
            let mut a = lock(&self.admission);
            a.roll(epoch);
            if let Err(r) = a.check(owner, &self.limits) {
                return Ok(Err(r));
            }
            a.count(owner);
        }
        match self.entries.record(key, now, expires_at) {
            Ok(true) => Ok(Ok(())),
            other => {
                lock(&self.admission).uncount(owner);
                other.map(|_| Err(ReplayRefusal::None))
            }
        }
    }
}

/// [`SharedReplayStore`] bound to one owner, for the protocol core's verifier. After a
/// `Full` answer, [`OwnerReplay::refusal`] tells a quota from an unavailable store.
pub struct OwnerReplay<'a> {
    store: &'a SharedReplayStore,
    owner: &'a str,
    refusal: ReplayRefusal,
}

impl OwnerReplay<'_> {
    pub fn refusal(&self) -> ReplayRefusal {
        self.refusal
    }
}

impl ReplayStore for OwnerReplay<'_> {
    fn check_and_insert(
        &mut self,
        key: ReplayKey,
        now: i64,
        expires_at: i64,
    ) -> Result<(), ReplayError> {
        match self.store.insert(&key, self.owner, now, expires_at) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(ReplayRefusal::None)) => Err(ReplayError::Replayed),
            Ok(Err(r)) => {
                self.refusal = r;
                Err(ReplayError::Full)
            }
            Err(_) => {
                self.refusal = ReplayRefusal::Unavailable;
                Err(ReplayError::Full)
            }
        }
    }
}

/// 32 fresh random bytes (server secrets).
pub fn new_token_bytes() -> Vec<u8> {
    let mut bytes = vec![0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(capacity: u64, per_owner: u64) -> ReplayLimits {
        ReplayLimits {
            capacity,
            per_owner,
            owner_window_secs: 300,
        }
    }

    fn key(i: u8) -> ReplayKey {
        ReplayKey([i; 32])
    }

    fn insert(s: &SharedReplayStore, owner: &str, k: u8, now: i64) -> Result<(), ReplayError> {
        s.for_owner(owner).check_and_insert(key(k), now, now + 301)
    }

    #[test]
    fn both_backends_refuse_a_live_key_accept_an_expired_one_and_apply_the_limits() {
        let dir = tempfile::tempdir().unwrap();
        for backend in [ReplayBackend::Sqlite, ReplayBackend::Memory] {
            let s = SharedReplayStore::open(
                backend,
                &dir.path().join(format!("{backend:?}.sqlite")),
                limits(5, 2),
            )
            .unwrap();
            assert_eq!(insert(&s, "a", 1, 1000), Ok(()));
            assert_eq!(insert(&s, "b", 1, 1300), Err(ReplayError::Replayed));
            // Expired at 1301: the key may be used again.
            assert_eq!(insert(&s, "b", 1, 1301), Ok(()));
            // Owner quota: two per window for "c", then refused for "c" only.
            assert_eq!(insert(&s, "c", 2, 1302), Ok(()));
            assert_eq!(insert(&s, "c", 3, 1302), Ok(()));
            let mut c = s.for_owner("c");
            assert_eq!(
                c.check_and_insert(key(4), 1302, 1603),
                Err(ReplayError::Full)
            );
            assert_eq!(c.refusal(), ReplayRefusal::OwnerQuota);
            // Capacity: 5 admitted in the last two windows (a@1000, b, c, c, d).
            assert_eq!(insert(&s, "d", 5, 1303), Ok(()));
            let mut e = s.for_owner("e");
            assert_eq!(
                e.check_and_insert(key(6), 1303, 1604),
                Err(ReplayError::Full)
            );
            assert_eq!(e.refusal(), ReplayRefusal::Unavailable, "{backend:?}");
        }
    }

    #[test]
    fn a_late_request_from_the_previous_window_does_not_reset_the_counters() {
        let dir = tempfile::tempdir().unwrap();
        let s = SharedReplayStore::open(ReplayBackend::Memory, dir.path(), limits(2, 10)).unwrap();
        assert_eq!(insert(&s, "a", 1, 600), Ok(()));
        // Read the clock at 599, arrives after the one at 600.
        assert_eq!(insert(&s, "a", 2, 599), Ok(()));
        let mut a = s.for_owner("a");
        assert_eq!(a.check_and_insert(key(3), 601, 902), Err(ReplayError::Full));
        assert_eq!(a.refusal(), ReplayRefusal::Unavailable);
        // A refused replay is not counted against the owner.
        let t = SharedReplayStore::open(ReplayBackend::Memory, dir.path(), limits(10, 2)).unwrap();
        assert_eq!(insert(&t, "b", 4, 600), Ok(()));
        assert_eq!(insert(&t, "b", 4, 601), Err(ReplayError::Replayed));
        assert_eq!(insert(&t, "b", 5, 602), Ok(()));
    }

    #[test]
    fn two_sqlite_stores_on_one_file_see_each_others_entries() {
        // Two connections, as two server processes would open the file.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("replay.sqlite");
        let one = SharedReplayStore::open(ReplayBackend::Sqlite, &path, limits(100, 100)).unwrap();
        let two = SharedReplayStore::open(ReplayBackend::Sqlite, &path, limits(100, 100)).unwrap();
        assert_eq!(insert(&one, "a", 7, 1000), Ok(()));
        assert_eq!(insert(&two, "a", 7, 1001), Err(ReplayError::Replayed));
        drop(one);
        // Reopened (a restarted server): the entry is still there.
        let three =
            SharedReplayStore::open(ReplayBackend::Sqlite, &path, limits(100, 100)).unwrap();
        assert_eq!(insert(&three, "a", 7, 1002), Err(ReplayError::Replayed));
    }
}
