//! Staying connected: one event stream per push account, reconnecting with exponential backoff
//! and jitter, and fetching `/pending` after every (re)connect so a request sent while the app
//! was offline is never lost (the push is only a wake-up call; the challenge lives on the server).
//!
//! Owns the reconnect loop and de-duplication of requests; reports everything as
//! [`ListenEvent`]s to one callback. No printing and no vault: the caller decides what to show
//! and what to record.

use std::collections::HashSet;
use std::time::Duration;

use postern_proto::authenticator::{EVENT_CHALLENGE, EVENT_RESOLVED, PendingChallenge};
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::account::Account;
use crate::client::{Client, ClientError};

/// What happened on one account's connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenEvent {
    /// The event stream is open (what is pending is fetched right after, as `Challenge`s).
    Connected { account: String, at_ms: i64 },
    /// A request to answer (each id once, until it is resolved).
    Challenge {
        account: String,
        challenge: PendingChallenge,
    },
    /// A request was answered (anywhere) or expired.
    Resolved { account: String, id: String },
    /// The connection failed or dropped; the next try is in `retry_in`.
    Disconnected {
        account: String,
        error: String,
        retry_in: Duration,
    },
    /// The server does not know this device any more; this account is no longer listened to.
    Removed { account: String, error: String },
}

/// Reconnect timing.
#[derive(Debug, Clone, Copy)]
pub struct ListenOptions {
    /// First wait after a failure.
    pub initial_backoff: Duration,
    /// The wait doubles up to this cap.
    pub max_backoff: Duration,
    /// With nothing received (not even a keep-alive) for this long, the connection is dead.
    pub idle_timeout: Duration,
    /// A connection that stayed up this long resets the backoff; one that drops sooner does not,
    /// so a server that accepts and drops at once is not hammered.
    pub stable_after: Duration,
}

impl Default for ListenOptions {
    fn default() -> Self {
        Self {
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(75),
            stable_after: Duration::from_secs(30),
        }
    }
}

/// A wait between `backoff / 2` and `backoff` ("equal jitter"), so many devices reconnecting
/// after a server restart do not arrive together.
pub fn jittered(backoff: Duration) -> Duration {
    let mut bytes = [0u8; 8];
    // Without randomness the wait is simply the full backoff.
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        return backoff;
    }
    let half = backoff / 2;
    let spread = (backoff - half).as_millis() as u64;
    half + Duration::from_millis(u64::from_le_bytes(bytes) % (spread + 1))
}

/// Listens on every push account in `accounts` until each is removed (or the future is
/// dropped), calling `on_event` for everything that happens, in order per account.
pub async fn listen(
    client: &Client,
    accounts: Vec<Account>,
    options: ListenOptions,
    mut on_event: impl FnMut(ListenEvent),
) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut tasks = tokio::task::JoinSet::new();
    for account in accounts.into_iter().filter(|a| a.push.is_some()) {
        tasks.spawn(listen_one(client.clone(), account, options, tx.clone()));
    }
    drop(tx);
    while let Some(event) = rx.recv().await {
        on_event(event);
    }
    while tasks.join_next().await.is_some() {}
}

#[derive(Deserialize)]
struct ResolvedData {
    id: String,
}

/// How one connection ended.
enum Ended {
    /// Try again later.
    Retry(String),
    /// The device was removed: stop.
    Removed(String),
}

struct AccountListener {
    client: Client,
    account: Account,
    tx: mpsc::UnboundedSender<ListenEvent>,
    /// Requests already reported and not yet resolved.
    seen: HashSet<String>,
}

async fn listen_one(
    client: Client,
    account: Account,
    options: ListenOptions,
    tx: mpsc::UnboundedSender<ListenEvent>,
) {
    let mut listener = AccountListener {
        client,
        account,
        tx,
        seen: HashSet::new(),
    };
    let mut backoff = options.initial_backoff;
    loop {
        let started = Instant::now();
        let error = match listener.connect_once(options).await {
            Ended::Removed(error) => {
                listener.emit(ListenEvent::Removed {
                    account: listener.account.name.clone(),
                    error,
                });
                return;
            }
            Ended::Retry(error) => error,
        };
        if started.elapsed() >= options.stable_after {
            backoff = options.initial_backoff;
        }
        let retry_in = jittered(backoff);
        listener.emit(ListenEvent::Disconnected {
            account: listener.account.name.clone(),
            error,
            retry_in,
        });
        if listener.tx.is_closed() {
            return;
        }
        tokio::time::sleep(retry_in).await;
        backoff = (backoff * 2).min(options.max_backoff);
    }
}

impl AccountListener {
    fn emit(&self, event: ListenEvent) {
        let _ = self.tx.send(event);
    }

    fn ended(error: ClientError) -> Ended {
        if error.is_unknown_device() {
            Ended::Removed(error.to_string())
        } else {
            Ended::Retry(error.to_string())
        }
    }

    /// One connection: open the stream, fetch what is pending, then follow the stream.
    async fn connect_once(&mut self, options: ListenOptions) -> Ended {
        let mut stream = match self.client.events(&self.account).await {
            Ok(stream) => stream,
            Err(error) => {
                // No stream (a proxy that cuts them, a server mid-restart): still pull what is
                // pending, so waiting for the retry loses nothing.
                if !error.is_unknown_device() {
                    let _ = self.fetch_pending().await;
                }
                return Self::ended(error);
            }
        };
        self.emit(ListenEvent::Connected {
            account: self.account.name.clone(),
            at_ms: self.client.now_ms(),
        });
        // Subscribed first, then fetched: a request made in between arrives on the stream.
        if let Err(error) = self.fetch_pending().await {
            return Self::ended(error);
        }
        loop {
            match tokio::time::timeout(options.idle_timeout, stream.next_event()).await {
                Err(_) => {
                    return Ended::Retry(format!(
                        "nothing received for {} s",
                        options.idle_timeout.as_secs()
                    ));
                }
                Ok(Err(error)) => return Self::ended(error),
                Ok(Ok(None)) => return Ended::Retry("the server closed the connection".into()),
                Ok(Ok(Some(event))) => match event.event.as_str() {
                    EVENT_CHALLENGE => {
                        if let Ok(challenge) = serde_json::from_str(&event.data) {
                            self.report(challenge);
                        }
                    }
                    EVENT_RESOLVED => {
                        if let Ok(ResolvedData { id }) = serde_json::from_str(&event.data) {
                            self.resolve(id);
                        }
                    }
                    _ => {}
                },
            }
        }
    }

    /// `GET /pending`: reports new requests, and resolves the ones reported before that are
    /// no longer pending (answered or expired while the connection was down).
    async fn fetch_pending(&mut self) -> Result<(), ClientError> {
        let list = self.client.pending(&self.account).await?;
        let now_pending: HashSet<String> = list.challenges.iter().map(|c| c.id.clone()).collect();
        let gone: Vec<String> = self
            .seen
            .iter()
            .filter(|id| !now_pending.contains(*id))
            .cloned()
            .collect();
        for id in gone {
            self.resolve(id);
        }
        for challenge in list.challenges {
            self.report(challenge);
        }
        Ok(())
    }

    fn report(&mut self, challenge: PendingChallenge) {
        if self.seen.insert(challenge.id.clone()) {
            self.emit(ListenEvent::Challenge {
                account: self.account.name.clone(),
                challenge,
            });
        }
    }

    fn resolve(&mut self, id: String) {
        if self.seen.remove(&id) {
            self.emit(ListenEvent::Resolved {
                account: self.account.name.clone(),
                id,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_between_half_and_full() {
        for ms in [1u64, 2, 1000, 30_000] {
            let backoff = Duration::from_millis(ms);
            for _ in 0..50 {
                let wait = jittered(backoff);
                assert!(
                    wait >= backoff / 2 && wait <= backoff,
                    "{wait:?} for {backoff:?}"
                );
            }
        }
    }
}
