//! Smart-lockout counters in the store, one per user and kind of secret (the rules are in
//! `postern_core::softlock`). Password and second-factor counters are separate: a wrong password
//! never locks the second step, and wrong codes never lock the password.
//!
//! Every write is optimistic (read, apply, write only over the version read), so failures on any
//! request and any node add up.

use crate::state::AppState;
use postern_core::secret::hmac_sha256;
use postern_core::softlock::{FailureRecorded, LockoutPolicy, LockoutState};
use postern_store::StoreError;

pub use postern_core::softlock::SecretKind as Kind;

/// The lockout settings of a kind of secret.
fn policy(kind: Kind, state: &AppState) -> &LockoutPolicy {
    kind.policy(&state.lockout, &state.second_factor_lockout)
}

/// How often a contended counter is re-read before giving up with a conflict.
const ATTEMPTS: usize = 100;

/// The counter and its version.
pub async fn find(
    state: &AppState,
    user_id: &str,
    kind: Kind,
) -> Result<(LockoutState, i64), StoreError> {
    state.store.find_lockout(user_id, kind.as_str()).await
}

/// Records a failure (starting from `lock` read at `version`); every failure is counted, however
/// contended.
pub async fn record_failure(
    state: &AppState,
    user_id: &str,
    kind: Kind,
    fingerprint: &str,
    mut lock: LockoutState,
    mut version: i64,
) -> Result<FailureRecorded, StoreError> {
    for _ in 0..ATTEMPTS {
        let recorded = lock.record_failure(policy(kind, state), fingerprint, state.clock.now());
        if recorded == FailureRecorded::Repeated
            || state
                .store
                .update_lockout(user_id, kind.as_str(), &lock, version)
                .await?
        {
            return Ok(recorded);
        }
        (lock, version) = find(state, user_id, kind).await?;
        tokio::task::yield_now().await;
    }
    Err(contended(user_id))
}

/// Counts an attempt before its secret is checked (for cheap checks such as codes, where nothing
/// else slows a burst of parallel guesses). `Err(until)` when already locked: the attempt is not
/// counted and must not be checked. A `Locked` answer means this attempt set the lock; it was
/// counted and may still be checked.
pub async fn count_attempt(
    state: &AppState,
    user_id: &str,
    kind: Kind,
    fingerprint: &str,
) -> Result<Result<FailureRecorded, time::OffsetDateTime>, StoreError> {
    let (mut lock, mut version) = find(state, user_id, kind).await?;
    for _ in 0..ATTEMPTS {
        let now = state.clock.now();
        if let Some(until) = lock.locked_until(now) {
            return Ok(Err(until));
        }
        let recorded = lock.record_failure(policy(kind, state), fingerprint, now);
        if recorded == FailureRecorded::Repeated
            || state
                .store
                .update_lockout(user_id, kind.as_str(), &lock, version)
                .await?
        {
            return Ok(Ok(recorded));
        }
        (lock, version) = find(state, user_id, kind).await?;
        tokio::task::yield_now().await;
    }
    Err(contended(user_id))
}

/// Resets the counter after a proven secret, whatever other attempts wrote meanwhile.
pub async fn reset(state: &AppState, user_id: &str, kind: Kind) -> Result<(), StoreError> {
    for _ in 0..ATTEMPTS {
        let (lock, version) = find(state, user_id, kind).await?;
        if lock == LockoutState::default()
            || state
                .store
                .update_lockout(user_id, kind.as_str(), &LockoutState::default(), version)
                .await?
        {
            return Ok(());
        }
    }
    Err(contended(user_id))
}

/// Clears the counter after a success, unless a lock was set after `lock` was read (then the lock
/// wins and its end is returned).
pub async fn clear(
    state: &AppState,
    user_id: &str,
    kind: Kind,
    mut lock: LockoutState,
    mut version: i64,
) -> Result<Option<time::OffsetDateTime>, StoreError> {
    for _ in 0..ATTEMPTS {
        if let Some(until) = lock.locked_until(state.clock.now()) {
            return Ok(Some(until));
        }
        // Written even when already clear: the version check is what orders this success after
        // any failure that raced with it.
        if state
            .store
            .update_lockout(user_id, kind.as_str(), &LockoutState::default(), version)
            .await?
        {
            return Ok(None);
        }
        (lock, version) = find(state, user_id, kind).await?;
    }
    Err(contended(user_id))
}

fn contended(user_id: &str) -> StoreError {
    StoreError::Conflict(format!("lockout counter of user {user_id} (too contended)"))
}

/// A keyed fingerprint of a wrong guess: recognises a repeat without storing the guess. `scope`
/// narrows what counts as the same guess (a TOTP code is only "the same" within its time step).
pub fn fingerprint(
    state: &AppState,
    kind: Kind,
    user_id: &str,
    scope: &str,
    guess: &str,
) -> String {
    let mac = hmac_sha256(
        &state.mac_key,
        format!("{}\0{user_id}\0{scope}\0{guess}", kind.as_str()).as_bytes(),
    );
    data_encoding::BASE64URL_NOPAD.encode(&mac[..12])
}
