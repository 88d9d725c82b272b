//! Wake-ups: how a new push reaches a connected Postern Authenticator at once, and how a waiting
//! browser learns that its challenge changed.
//!
//! Every node wakes its own connections in process; on PostgreSQL, `cross_node` relays what other
//! nodes changed (the database's LISTEN/NOTIFY) into the same channels. Nothing depends on a
//! wake-up arriving — the challenge lives in the store and the app fetches what is pending
//! whenever it connects.

use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::broadcast;

/// What a connected device is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceEvent {
    /// A new challenge (by id): fetch and show it.
    Challenge(String),
    /// A challenge was answered or expired (by id): stop showing it.
    Resolved(String),
    /// The device was removed from the account: its connection ends.
    Revoked,
    /// Wake-ups may have been missed (the cross-node listener reconnected): check that the device
    /// still exists and send what is pending again.
    Recheck,
}

/// The wake-up channels.
pub trait Wakeups: Send + Sync + 'static {
    /// Subscribes a device's open connection.
    fn subscribe_device(&self, device_id: &str) -> broadcast::Receiver<DeviceEvent>;
    /// Wakes a device; true if at least one of its connections was open to receive it.
    fn wake_device(&self, device_id: &str, event: DeviceEvent) -> bool;
    /// Subscribes a waiting browser to a challenge's changes.
    fn subscribe_challenge(&self, challenge_id: &str) -> broadcast::Receiver<()>;
    /// Tells waiting browsers that a challenge changed.
    fn challenge_changed(&self, challenge_id: &str);
    /// How many device connections are open (for metrics and benchmarks).
    fn connected_devices(&self) -> usize;
    /// The devices with a connection open here.
    fn open_devices(&self) -> Vec<String>;
    /// The challenges a browser waits on here.
    fn watched_challenges(&self) -> Vec<String>;
}

/// Wake-ups within one process (one node).
#[derive(Default)]
pub struct InProcess {
    devices: Mutex<HashMap<String, broadcast::Sender<DeviceEvent>>>,
    challenges: Mutex<HashMap<String, broadcast::Sender<()>>>,
}

/// Events buffered per channel for a slow receiver. Small on purpose: every idle connection holds
/// one channel, and a receiver that lags re-fetches what is pending anyway.
const CAPACITY: usize = 4;

fn subscribe<T: Clone>(
    map: &Mutex<HashMap<String, broadcast::Sender<T>>>,
    key: &str,
) -> broadcast::Receiver<T> {
    let mut map = map.lock().unwrap_or_else(|p| p.into_inner());
    // Channels nobody listens to any more are dropped now and then (amortised: the map at most
    // doubles between sweeps).
    if map.len() >= 64 && map.len().is_power_of_two() && !map.contains_key(key) {
        map.retain(|_, s| s.receiver_count() > 0);
    }
    map.entry(key.to_owned())
        .or_insert_with(|| broadcast::channel(CAPACITY).0)
        .subscribe()
}

fn listened<T>(map: &Mutex<HashMap<String, broadcast::Sender<T>>>) -> Vec<String> {
    let map = map.lock().unwrap_or_else(|p| p.into_inner());
    map.iter()
        .filter(|(_, s)| s.receiver_count() > 0)
        .map(|(k, _)| k.clone())
        .collect()
}

fn send<T: Clone>(map: &Mutex<HashMap<String, broadcast::Sender<T>>>, key: &str, value: T) -> bool {
    let map = map.lock().unwrap_or_else(|p| p.into_inner());
    map.get(key).is_some_and(|s| s.send(value).is_ok())
}

impl Wakeups for InProcess {
    fn subscribe_device(&self, device_id: &str) -> broadcast::Receiver<DeviceEvent> {
        subscribe(&self.devices, device_id)
    }

    fn wake_device(&self, device_id: &str, event: DeviceEvent) -> bool {
        send(&self.devices, device_id, event)
    }

    fn subscribe_challenge(&self, challenge_id: &str) -> broadcast::Receiver<()> {
        subscribe(&self.challenges, challenge_id)
    }

    fn challenge_changed(&self, challenge_id: &str) {
        send(&self.challenges, challenge_id, ());
    }

    fn connected_devices(&self) -> usize {
        let map = self.devices.lock().unwrap_or_else(|p| p.into_inner());
        map.values().map(|s| s.receiver_count()).sum()
    }

    fn open_devices(&self) -> Vec<String> {
        listened(&self.devices)
    }

    fn watched_challenges(&self) -> Vec<String> {
        listened(&self.challenges)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn wakes_only_open_connections() {
        let hub = InProcess::default();
        assert!(!hub.wake_device("d", DeviceEvent::Challenge("c".into())));
        let mut rx = hub.subscribe_device("d");
        assert_eq!(hub.connected_devices(), 1);
        assert!(hub.wake_device("d", DeviceEvent::Challenge("c".into())));
        assert_eq!(rx.recv().await.unwrap(), DeviceEvent::Challenge("c".into()));
        drop(rx);
        assert!(!hub.wake_device("d", DeviceEvent::Resolved("c".into())));
        assert_eq!(hub.connected_devices(), 0);
        assert!(hub.open_devices().is_empty());
        let _page = hub.subscribe_challenge("c");
        let _phone = hub.subscribe_device("e");
        assert_eq!(hub.watched_challenges(), ["c"]);
        assert_eq!(hub.open_devices(), ["e"]);
    }
}
