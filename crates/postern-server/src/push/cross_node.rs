//! Wake-ups across nodes on PostgreSQL: what another node changed reaches the connections this
//! node holds open.
//!
//! The database sends (triggers notify inside the changing transaction, see
//! `postern_store::Listener`); this task receives on the node's one listening connection and feeds
//! the in-process channels of `wakeup`, as if the change had been made here:
//! - a new challenge wakes its devices that are connected here, and the wake-up is recorded on
//!   the challenge (the delivery's "woken" time, whichever node wrote the challenge);
//! - a changed challenge moves the waiting pages here on, and an answered one is withdrawn from
//!   the devices here;
//! - a removed device's streams here end.
//!
//! After the listening connection was lost (PostgreSQL restarted, a failover), every device
//! connected here re-reads what is pending and every waiting page re-reads its challenge, so a
//! notice lost meanwhile delays nothing beyond the reconnect. While it is away the node is not
//! ready (`/readyz`): a load balancer sends new sign-ins elsewhere.

use crate::push::wakeup::DeviceEvent;
use crate::state::AppState;
use postern_store::{Listener, Notice};
use std::sync::atomic::Ordering;
use std::time::Duration;

/// How long to wait before listening again after a failure.
const RETRY: Duration = Duration::from_secs(1);

/// Relays other nodes' changes until the server stops. `listener` listens already (taken before
/// the node serves, so nothing written after the start is missed).
pub async fn relay(state: AppState, mut listener: Listener) {
    state.cross_node_listening.store(true, Ordering::Relaxed);
    let mut failures: u32 = 0;
    loop {
        match listener.next().await {
            Ok(notice) => {
                if failures > 0 || notice == Notice::Reconnected {
                    tracing::info!(
                        failures,
                        "listening for other nodes' wake-ups again; open connections re-read what is pending"
                    );
                    failures = 0;
                }
                state.cross_node_listening.store(true, Ordering::Relaxed);
                handle(&state, notice).await;
            }
            Err(e) => {
                state.cross_node_listening.store(false, Ordering::Relaxed);
                if failures == 0 {
                    tracing::warn!(error = %e, "lost the database connection that hears other nodes' wake-ups; retrying every second");
                }
                failures = failures.saturating_add(1);
                tokio::time::sleep(RETRY).await;
            }
        }
    }
}

async fn handle(state: &AppState, notice: Notice) {
    match notice {
        Notice::ChallengeNew { id, devices } => {
            let woken: Vec<String> = devices
                .into_iter()
                .filter(|d| {
                    state
                        .wakeups
                        .wake_device(d, DeviceEvent::Challenge(id.clone()))
                })
                .collect();
            if !woken.is_empty()
                && let Err(e) = super::record_woken(state, &id, &woken).await
            {
                tracing::warn!(error = %e, challenge = %id, "the wake-up time could not be written");
            }
        }
        Notice::ChallengeChanged {
            id,
            devices,
            answered,
        } => {
            state.wakeups.challenge_changed(&id);
            if answered {
                for d in &devices {
                    state
                        .wakeups
                        .wake_device(d, DeviceEvent::Resolved(id.clone()));
                }
            }
        }
        Notice::DeviceRemoved { id } => {
            state.wakeups.wake_device(&id, DeviceEvent::Revoked);
        }
        Notice::Reconnected => {
            for d in state.wakeups.open_devices() {
                state.wakeups.wake_device(&d, DeviceEvent::Recheck);
            }
            for c in state.wakeups.watched_challenges() {
                state.wakeups.challenge_changed(&c);
            }
        }
    }
}
