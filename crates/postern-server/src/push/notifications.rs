//! Web Push wake-up notifications (RFC 8030 / 8291 / 8292): the server's VAPID key (made once,
//! sealed with the master key, the same on every node), the subscriptions devices register, and
//! the notification sent to every subscribed device when a push challenge is created.
//!
//! A notification is only a wake-up call: it holds no number and nothing secret, the challenge
//! waits in the store whatever happens, and sending runs off the request path, bounded (the
//! sender's timeout and concurrency cap, and a cap on sends waiting). Each push service answer is
//! written on the challenge's delivery record and as a step of the sign-in log, so the waiting
//! page and the helpdesk can say what became of it.

use super::web_push::{Message, SendOutcome, Sender, SenderSettings};
use crate::config::WebPushConfig;
use crate::signin::log;
use crate::state::AppState;
use data_encoding::BASE64URL_NOPAD as B64;
use postern_core::credential::method::Method;
use postern_core::credential::push::{Challenge, WebPushResult};
use postern_core::random::{self, Random};
use postern_core::sealed::MasterKey;
use postern_core::signin_log::StepResult;
use postern_core::web_push::{SubscriberKeys, VapidKey, check_endpoint};
use postern_proto::authenticator::{
    MAX_WEB_PUSH_SUBSCRIPTIONS, WebPushMessage, WebPushSubscription,
};
use postern_store::{Store, StoreError, WebPushSubscriptionRecord};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Where the sealed VAPID key is kept (the `settings` table).
const VAPID_SETTING: &str = "web_push.vapid_key";
const VAPID_CONTEXT: &str = "web-push-vapid-key";
/// Sends waiting or in flight at most; beyond, a notification is skipped (and logged as such):
/// a flood of sign-ins must not pile up memory behind a slow push service.
const MAX_WAITING: usize = 10_000;

fn auth_context(subscription_id: &str) -> String {
    format!("web-push-auth:{subscription_id}")
}

/// Web Push on this server.
pub struct WebPush {
    vapid: VapidKey,
    /// The VAPID `sub` claim: how a push service reaches the operator.
    subject: String,
    allow_loopback: bool,
    sender: Sender,
    waiting: AtomicUsize,
}

/// Web Push could not be set up at start.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("web_push: {0}")]
    Key(String),
}

impl WebPush {
    /// Loads the VAPID key pair from the store, making it on the first start (nodes starting
    /// together agree on one), and builds the sender.
    pub async fn load(
        store: &Store,
        master: &MasterKey,
        rng: &dyn Random,
        config: &WebPushConfig,
        issuer: &str,
    ) -> Result<WebPush, SetupError> {
        let vapid = match store.find_setting(VAPID_SETTING).await? {
            Some(sealed) => open_vapid(master, &sealed)?,
            None => {
                let fresh = VapidKey::generate().map_err(|e| SetupError::Key(e.to_string()))?;
                let der = zeroize::Zeroizing::new(
                    fresh
                        .to_pkcs8()
                        .map_err(|e| SetupError::Key(e.to_string()))?,
                );
                let sealed = B64.encode(&master.seal(rng, VAPID_CONTEXT, &der));
                if store.create_setting(VAPID_SETTING, &sealed).await? {
                    fresh
                } else {
                    // Another node made one first: use that one.
                    let stored = store.find_setting(VAPID_SETTING).await?.ok_or_else(|| {
                        SetupError::Key("the VAPID key vanished while starting".into())
                    })?;
                    open_vapid(master, &stored)?
                }
            }
        };
        if config.allow_loopback_endpoints {
            tracing::warn!(
                "web_push.allow_loopback_endpoints is on: notifications may be sent over http to this machine (for tests only)"
            );
        }
        let sender = Sender::new(SenderSettings {
            timeout: std::time::Duration::from_secs(config.timeout_seconds),
            max_concurrent: config.max_concurrent,
            allow_loopback: config.allow_loopback_endpoints,
            ..SenderSettings::default()
        })
        .map_err(SetupError::Key)?;
        Ok(WebPush {
            vapid,
            subject: config.subject_for(issuer),
            allow_loopback: config.allow_loopback_endpoints,
            sender,
            waiting: AtomicUsize::new(0),
        })
    }

    /// The VAPID public key, as browsers take it (`applicationServerKey`).
    pub fn application_server_key(&self) -> String {
        self.vapid.public_key_b64url()
    }

    /// Stores `sub` for `device`, or says what is wrong with it (nothing is stored then).
    pub async fn save(
        &self,
        state: &AppState,
        device: &Method,
        sub: &WebPushSubscription,
    ) -> Result<Result<(), String>, StoreError> {
        if let Err(problem) = check_endpoint(&sub.endpoint, self.allow_loopback) {
            return Ok(Err(problem.to_string()));
        }
        let keys = match SubscriberKeys::parse(&sub.keys.p256dh, &sub.keys.auth) {
            Ok(k) => k,
            Err(problem) => return Ok(Err(problem.to_string())),
        };
        let id = random::uuid(&*state.rng);
        let sealed = state
            .master
            .seal(&*state.rng, &auth_context(&id), keys.auth());
        let record = WebPushSubscriptionRecord {
            device_id: device.id.clone(),
            endpoint: sub.endpoint.clone(),
            p256dh: B64.encode(keys.p256dh()),
            sealed_auth: B64.encode(&sealed),
            created: state.clock.now(),
            last_sent: None,
            last_result: None,
            id,
        };
        state
            .store
            .save_web_push_subscription(&record, MAX_WEB_PUSH_SUBSCRIPTIONS)
            .await?;
        tracing::info!(device = %device.id, "web push subscription saved");
        Ok(Ok(()))
    }
}

fn open_vapid(master: &MasterKey, sealed: &str) -> Result<VapidKey, SetupError> {
    let bytes = B64
        .decode(sealed.as_bytes())
        .map_err(|_| SetupError::Key("the stored VAPID key is not base64url".into()))?;
    let der = master.open(VAPID_CONTEXT, &bytes).map_err(|_| {
        SetupError::Key(
            "the stored VAPID key cannot be decrypted: is this the master key it was made with?"
                .into(),
        )
    })?;
    VapidKey::from_pkcs8(&der).map_err(|e| SetupError::Key(e.to_string()))
}

/// Sends the wake-up notification of a new challenge to every subscribed device, in the
/// background: returns at once.
pub fn notify(state: &AppState, challenge: &Challenge) {
    if state.web_push.is_none() {
        return;
    }
    for d in challenge
        .deliveries
        .iter()
        .filter(|d| d.web_push_subscriptions > 0)
    {
        let state = state.clone();
        let challenge = challenge.clone();
        let device_id = d.device_id.clone();
        tokio::spawn(async move {
            if let Err(e) = notify_device(&state, &challenge, &device_id).await {
                tracing::warn!(error = %e, challenge = %challenge.id, "web push: recording the result failed");
            }
        });
    }
}

/// One device's notification: every subscription it has (at most a few) gets the message; the
/// delivery records the best answer (accepted if any push service accepted).
async fn notify_device(
    state: &AppState,
    challenge: &Challenge,
    device_id: &str,
) -> Result<(), StoreError> {
    let Some(web_push) = &state.web_push else {
        return Ok(());
    };
    let Some(delivery) = challenge
        .deliveries
        .iter()
        .find(|d| d.device_id == device_id)
    else {
        return Ok(());
    };
    let waiting = Waiting::enter(&web_push.waiting);
    let result = if waiting.before >= MAX_WAITING {
        Some((
            false,
            "not sent: too many notifications are waiting on this server".to_owned(),
        ))
    } else {
        send_all(state, web_push, challenge, device_id).await?
    };
    drop(waiting);
    let Some((accepted, words)) = result else {
        return Ok(());
    };
    let at_ms = postern_core::clock::to_millis(state.clock.now());
    super::modify(state, &challenge.id, |c| match c.delivery_mut(device_id) {
        Some(d) if d.web_push.is_none() => {
            d.web_push = Some(WebPushResult {
                accepted,
                words: words.clone(),
                at_ms,
            });
            true
        }
        _ => false,
    })
    .await?;
    let step = log::Step::new(
        "push",
        StepResult::Info,
        format!("notification to '{}': {words}", delivery.device_name),
    );
    log::record(state, &challenge.correlation_id, "", vec![step], None).await?;
    let metrics = &state.metrics;
    crate::metrics::Metrics::inc(if accepted {
        &metrics.web_push_accepted
    } else {
        &metrics.web_push_failed
    });
    Ok(())
}

/// One notification counted as waiting for as long as it lives, however its sending ends (an
/// error returned early included).
struct Waiting<'a> {
    count: &'a std::sync::atomic::AtomicUsize,
    /// How many were waiting before this one.
    before: usize,
}

impl<'a> Waiting<'a> {
    fn enter(count: &'a std::sync::atomic::AtomicUsize) -> Self {
        let before = count.fetch_add(1, Ordering::SeqCst);
        Self { count, before }
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.count.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Sends to each subscription of the device; `None` if it has none left.
async fn send_all(
    state: &AppState,
    web_push: &WebPush,
    challenge: &Challenge,
    device_id: &str,
) -> Result<Option<(bool, String)>, StoreError> {
    let subscriptions = state.store.list_web_push_subscriptions(device_id).await?;
    let payload = serde_json::to_vec(&WebPushMessage {
        kind: "challenge".into(),
        device_id: device_id.to_owned(),
        challenge_id: challenge.id.clone(),
        app: challenge.app_name.clone(),
    })
    .unwrap_or_default();
    let mut best: Option<(bool, String)> = None;
    for sub in subscriptions {
        if challenge.expires <= state.clock.now() {
            best.get_or_insert((false, SendOutcome::Expired.words()));
            break;
        }
        let Some(keys) = open_keys(state, &sub) else {
            best.get_or_insert((
                false,
                "not sent: the subscription's keys are unreadable".into(),
            ));
            continue;
        };
        let message = Message {
            endpoint: sub.endpoint.clone(),
            keys,
            payload: payload.clone(),
            expires: challenge.expires,
            urgency: "high",
        };
        let outcome = web_push
            .sender
            .send(
                &message,
                &web_push.vapid,
                &web_push.subject,
                &*state.rng,
                &*state.clock,
            )
            .await;
        if let SendOutcome::Refused { status, detail } = &outcome {
            tracing::info!(status, detail = %detail, "web push: the push service refused a notification");
        }
        if outcome == SendOutcome::Expired {
            best.get_or_insert((false, outcome.words()));
            break;
        }
        let words = outcome.words();
        state
            .store
            .record_web_push_result(&sub.id, state.clock.now(), &words)
            .await?;
        if matches!(outcome, SendOutcome::Gone { .. }) {
            state.store.delete_web_push_subscription(&sub.id).await?;
        }
        let accepted = matches!(outcome, SendOutcome::Accepted { .. });
        if accepted || best.as_ref().is_none_or(|(ok, _)| !ok) {
            best = Some((accepted, words));
        }
    }
    Ok(best)
}

fn open_keys(state: &AppState, sub: &WebPushSubscriptionRecord) -> Option<SubscriberKeys> {
    let sealed = B64.decode(sub.sealed_auth.as_bytes()).ok()?;
    let auth = state.master.open(&auth_context(&sub.id), &sealed).ok()?;
    SubscriberKeys::parse(&sub.p256dh, &B64.encode(&auth)).ok()
}
