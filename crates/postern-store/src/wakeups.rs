//! Cross-node wake-ups on PostgreSQL: what other nodes changed that this node's open
//! connections (authenticators' event streams, browsers' waiting pages) must hear of.
//!
//! The sending side is the database's: triggers (migration 8) call `pg_notify` inside the
//! transaction that creates or changes a push challenge or removes a method, so a notice is
//! delivered exactly when its change commits. Each node listens on one dedicated connection
//! ([`Listener`]) and skips the notices of its own writes, which it already woke in process. A
//! notice lost while the listener was away is not a lost push: after a reconnect the listener
//! says [`Notice::Reconnected`] and the node re-reads what is pending for what it holds open.

use crate::{Backend, Result, Store};
use serde::Deserialize;
use std::sync::Arc;

/// The channel the triggers notify.
const CHANNEL: &str = "postern_wakeups";

/// What another node changed (ids only: the store has the rest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A new push challenge for these devices.
    ChallengeNew { id: String, devices: Vec<String> },
    /// A challenge was written again (fetched, shown, answered …); `answered` when this write
    /// answered it (its devices stop showing it).
    ChallengeChanged {
        id: String,
        devices: Vec<String>,
        answered: bool,
    },
    /// A method was removed (a device's connections end).
    DeviceRemoved { id: String },
    /// The listener's connection was lost and is listening again: notices may have been missed,
    /// so re-read what is pending for every open connection.
    Reconnected,
}

#[derive(Deserialize)]
struct Payload {
    kind: String,
    id: String,
    #[serde(default)]
    devices: Vec<String>,
    #[serde(default)]
    answered: bool,
    /// Too many devices for a notice's 8,000 bytes: they are read from the challenge.
    #[serde(default)]
    many: bool,
    node: Option<String>,
}

/// A notice from its payload (and whether its devices must be read from the challenge); None for
/// this node's own writes and for what this version does not know.
fn parse(payload: &str, own_node: &str) -> Option<(Notice, bool)> {
    let p: Payload = serde_json::from_str(payload).ok()?;
    if p.node.as_deref() == Some(own_node) {
        return None;
    }
    let many = p.many;
    parse_kind(p).map(|n| (n, many))
}

fn parse_kind(p: Payload) -> Option<Notice> {
    match p.kind.as_str() {
        "challenge_new" => Some(Notice::ChallengeNew {
            id: p.id,
            devices: p.devices,
        }),
        "challenge_changed" => Some(Notice::ChallengeChanged {
            id: p.id,
            devices: p.devices,
            answered: p.answered,
        }),
        "device_removed" => Some(Notice::DeviceRemoved { id: p.id }),
        _ => None,
    }
}

/// One node's listening connection (its own, outside the pool).
pub struct Listener {
    inner: Option<sqlx::postgres::PgListener>,
    url: Arc<str>,
    node: Arc<str>,
    /// Reads the devices of a challenge whose notice could not hold them all.
    store: Store,
}

async fn listen(url: &str) -> Result<sqlx::postgres::PgListener> {
    let mut inner = sqlx::postgres::PgListener::connect(url).await?;
    inner.listen(CHANNEL).await?;
    Ok(inner)
}

impl Store {
    /// Starts listening for other nodes' changes; None on SQLite (one node, in process).
    pub async fn listen(&self) -> Result<Option<Listener>> {
        if self.backend != Backend::Postgres {
            return Ok(None);
        }
        Ok(Some(Listener {
            inner: Some(listen(&self.url).await?),
            url: self.url.clone(),
            node: self.node.clone(),
            store: self.clone(),
        }))
    }
}

impl Listener {
    /// The next notice of another node's change. An error means the database cannot be reached
    /// now; call again to reconnect (it answers [`Notice::Reconnected`] once it listens again).
    pub async fn next(&mut self) -> Result<Notice> {
        loop {
            let Some(inner) = self.inner.as_mut() else {
                self.inner = Some(listen(&self.url).await?);
                return Ok(Notice::Reconnected);
            };
            match inner.try_recv().await {
                Ok(Some(n)) => match parse(n.payload(), &self.node) {
                    Some((notice, false)) => return Ok(notice),
                    // The look-up failing is not the listener failing (it still listens): the
                    // notice is lost, so every open connection re-reads, as after a reconnect.
                    Some((notice, true)) => {
                        return Ok(self.with_devices(notice).await.unwrap_or_else(|e| {
                            tracing::warn!(error = %e, "a wake-up's devices could not be read; open connections re-read instead");
                            Notice::Reconnected
                        }));
                    }
                    None => {}
                },
                // Lost and listening again already (sqlx reconnects eagerly).
                Ok(None) => return Ok(Notice::Reconnected),
                Err(e) => {
                    // Start over with a fresh connection on the next call: whatever state this
                    // one is in, notices sent meanwhile are gone.
                    self.inner = None;
                    return Err(e.into());
                }
            }
        }
    }
}

impl Listener {
    /// `notice` with its challenge's devices read from the store.
    async fn with_devices(&self, notice: Notice) -> Result<Notice> {
        let devices_of = async |id: &str| -> Result<Vec<String>> {
            Ok(self
                .store
                .find_challenge(id)
                .await?
                .map(|c| c.deliveries.into_iter().map(|d| d.device_id).collect())
                .unwrap_or_default())
        };
        Ok(match notice {
            Notice::ChallengeNew { id, .. } => {
                let devices = devices_of(&id).await?;
                Notice::ChallengeNew { id, devices }
            }
            Notice::ChallengeChanged { id, answered, .. } => {
                let devices = devices_of(&id).await?;
                Notice::ChallengeChanged {
                    id,
                    devices,
                    answered,
                }
            }
            other => other,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn payloads() {
        let new = r#"{"kind":"challenge_new","id":"c","devices":["d1","d2"],"answered":false,"node":"a"}"#;
        assert_eq!(
            parse(new, "b"),
            Some((
                Notice::ChallengeNew {
                    id: "c".into(),
                    devices: vec!["d1".into(), "d2".into()]
                },
                false
            ))
        );
        let many = r#"{"kind":"challenge_new","id":"c","devices":[],"many":true,"node":"a"}"#;
        assert!(matches!(parse(many, "b"), Some((_, true))));
        assert_eq!(parse(new, "a"), None, "a node's own write");
        let removed = r#"{"kind":"device_removed","id":"d","node":null}"#;
        assert_eq!(
            parse(removed, "a"),
            Some((Notice::DeviceRemoved { id: "d".into() }, false)),
            "a write from outside any node (psql, a migration) counts"
        );
        assert_eq!(parse(r#"{"kind":"later","id":"x"}"#, "a"), None);
        assert_eq!(parse("not json", "a"), None);
    }
}
