//! The key ring: the signing keys this server signs with and publishes in its JWKS.
//!
//! Keys live in the store (sealed with the master key) so every node signs with the same keys. The
//! ring is loaded at start, generated when an algorithm has no active key, and reloaded
//! periodically and whenever a token names a key the ring does not know (a rotation on another
//! node).

use postern_core::clock::Clock;
use postern_core::oidc::jws::{SigningAlg, SigningKey};
use postern_core::random::Random;
use postern_core::sealed::MasterKey;
use postern_store::{Store, StoredKey};
use std::sync::{Arc, RwLock};
use time::{Duration, OffsetDateTime};

/// Keys in memory.
#[derive(Default)]
struct Ring {
    /// Every published key (active and retired-but-published).
    published: Vec<Arc<SigningKey>>,
    /// The key that signs, per algorithm.
    active: Vec<Arc<SigningKey>>,
    loaded: Option<OffsetDateTime>,
}

/// Shared, reloadable key ring.
#[derive(Clone, Default)]
pub struct KeyRing {
    inner: Arc<RwLock<Ring>>,
}

/// Key ring failures.
#[derive(Debug, thiserror::Error)]
pub enum KeyRingError {
    #[error(transparent)]
    Store(#[from] postern_store::StoreError),
    #[error(
        "signing key {kid} cannot be decrypted: is this the master key the keys were made with? ({source})"
    )]
    Sealed {
        kid: String,
        source: postern_core::sealed::OpenError,
    },
    #[error(transparent)]
    Key(#[from] postern_core::oidc::jws::KeyError),
}

fn context(kid: &str) -> String {
    format!("signing-key:{kid}")
}

/// Creates, seals and stores a new key of `alg`.
pub async fn create_key(
    store: &Store,
    master: &MasterKey,
    rng: &dyn Random,
    alg: SigningAlg,
    now: OffsetDateTime,
) -> Result<SigningKey, KeyRingError> {
    let (key, sealed) = generate(master, rng, alg).await?;
    store
        .create_signing_key(&stored_key(&key, alg, sealed, now))
        .await?;
    Ok(key)
}

/// A new key and its PKCS#8 sealed with the master key.
async fn generate(
    master: &MasterKey,
    rng: &dyn Random,
    alg: SigningAlg,
) -> Result<(SigningKey, Vec<u8>), KeyRingError> {
    let key = tokio::task::spawn_blocking(move || SigningKey::generate(alg))
        .await
        .map_err(|e| postern_core::oidc::jws::KeyError(e.to_string()))??;
    let sealed = master.seal(rng, &context(key.kid()), &key.to_pkcs8()?);
    Ok((key, sealed))
}

fn stored_key(
    key: &SigningKey,
    alg: SigningAlg,
    sealed: Vec<u8>,
    now: OffsetDateTime,
) -> StoredKey {
    StoredKey {
        kid: key.kid().to_owned(),
        alg,
        sealed_pkcs8: sealed,
        created: now,
        retired: None,
        publish_until: None,
    }
}

/// Rotates every algorithm: new keys sign from now on; old public keys stay published for
/// `keep_published` (the longest token lifetime) so tokens they signed still verify.
pub async fn rotate(
    store: &Store,
    master: &MasterKey,
    rng: &dyn Random,
    now: OffsetDateTime,
    keep_published: Duration,
) -> Result<Vec<String>, KeyRingError> {
    let mut kids = Vec::new();
    for alg in SigningAlg::ALL {
        let key = create_key(store, master, rng, alg, now).await?;
        store
            .retire_signing_keys(alg, key.kid(), now, now + keep_published)
            .await?;
        kids.push(key.kid().to_owned());
    }
    store.delete_unpublished_keys(now).await?;
    Ok(kids)
}

impl KeyRing {
    /// Loads keys from the store, creating an active key for any algorithm that has none.
    pub async fn load(
        &self,
        store: &Store,
        master: &MasterKey,
        rng: &dyn Random,
        clock: &dyn Clock,
    ) -> Result<(), KeyRingError> {
        let now = clock.now();
        let mut stored = store.list_signing_keys().await?;
        for alg in SigningAlg::ALL {
            if !stored.iter().any(|k| k.alg == alg && k.retired.is_none()) {
                // Several nodes starting together each make one; the first stored wins and
                // every node loads that one.
                let (key, sealed) = generate(master, rng, alg).await?;
                let first = store
                    .create_first_signing_key(&stored_key(&key, alg, sealed, now))
                    .await?;
                if !first {
                    tracing::info!(
                        alg = alg.as_str(),
                        "another node stored the first signing key; using it"
                    );
                }
                stored = store.list_signing_keys().await?;
            }
        }
        let mut ring = Ring {
            loaded: Some(now),
            ..Ring::default()
        };
        for k in &stored {
            if k.retired.is_some() && k.publish_until.is_some_and(|until| until < now) {
                continue;
            }
            let der = master
                .open(&context(&k.kid), &k.sealed_pkcs8)
                .map_err(|source| KeyRingError::Sealed {
                    kid: k.kid.clone(),
                    source,
                })?;
            let key = Arc::new(SigningKey::from_pkcs8(k.alg, &der)?);
            if k.retired.is_none() {
                // Newest active key of an algorithm wins (list is ordered by creation).
                ring.active.retain(|a| a.alg() != k.alg);
                ring.active.push(key.clone());
            }
            ring.published.push(key);
        }
        if let Ok(mut guard) = self.inner.write() {
            *guard = ring;
        }
        Ok(())
    }

    /// The key that signs with `alg`.
    pub fn active(&self, alg: SigningAlg) -> Option<Arc<SigningKey>> {
        self.inner
            .read()
            .ok()?
            .active
            .iter()
            .find(|k| k.alg() == alg)
            .cloned()
    }

    /// Every published key.
    pub fn published(&self) -> Vec<Arc<SigningKey>> {
        self.inner
            .read()
            .map(|r| r.published.clone())
            .unwrap_or_default()
    }

    /// Is `kid` known?
    pub fn knows(&self, kid: &str) -> bool {
        self.inner
            .read()
            .is_ok_and(|r| r.published.iter().any(|k| k.kid() == kid))
    }

    /// When the ring was last loaded.
    pub fn loaded_at(&self) -> Option<OffsetDateTime> {
        self.inner.read().ok()?.loaded
    }
}
