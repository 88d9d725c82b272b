//! A short-lived in-memory cache of registered clients.
//!
//! Every token request authenticates its client; reading the client row each time costs more than
//! issuing the token. Entries live `ttl` (a few seconds), so a deleted client or a rotated secret
//! takes effect on every node within that time. Unknown client ids are not cached.

use postern_core::client::Client;
use postern_store::{Store, StoreError};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// Clients cached at most this many; beyond it the cache is cleared (a flood of distinct ids).
const MAX_ENTRIES: usize = 10_000;

pub struct ClientCache {
    ttl: Duration,
    entries: RwLock<HashMap<String, (Arc<Client>, Instant)>>,
}

impl ClientCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: RwLock::new(HashMap::new()),
        }
    }

    /// The client with this id, from the cache while fresh, else from the store.
    pub async fn find(&self, store: &Store, id: &str) -> Result<Option<Arc<Client>>, StoreError> {
        if let Ok(entries) = self.entries.read()
            && let Some((client, at)) = entries.get(id)
            && at.elapsed() < self.ttl
        {
            return Ok(Some(Arc::clone(client)));
        }
        let found = store.find_client(id).await?.map(Arc::new);
        if let (Some(client), Ok(mut entries)) = (&found, self.entries.write()) {
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(id.to_owned(), (client.clone(), Instant::now()));
        }
        Ok(found)
    }

    /// Drops a client changed on this node (other nodes see it within `ttl`).
    pub fn forget(&self, id: &str) {
        if let Ok(mut entries) = self.entries.write() {
            entries.remove(id);
        }
    }
}
