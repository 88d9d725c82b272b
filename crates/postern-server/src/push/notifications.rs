//! Web Push wake-up notifications (RFC 8030 / 8291 / 8292): the subscriptions devices register,
//! and the notification sent to every subscribed device when a push challenge is created (the
//! server's key and sender are `web_push::WebPush`).
//!
//! A notification is only a wake-up call: it holds no number and nothing secret, the challenge
//! waits in the store whatever happens, and sending runs off the request path, bounded (the
//! sender's timeout and concurrency cap, and a cap on sends waiting). Each push service answer is
//! written on the challenge's delivery record and as a step of the sign-in log, so the waiting
//! page and the helpdesk can say what became of it.

use super::web_push::{Message, SendOutcome, WebPush};
use crate::state::AppState;
use data_encoding::BASE64URL_NOPAD as B64;
use postern_core::credential::method::Method;
use postern_core::credential::push::{Challenge, WebPushResult};
use postern_core::random;
use postern_core::web_push::{SubscriberKeys, check_endpoint};
use postern_proto::authenticator::{
    MAX_WEB_PUSH_SUBSCRIPTIONS, WebPushMessage, WebPushSubscription,
};
use postern_store::{StoreError, WebPushSubscriptionRecord};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Sends waiting or in flight at most; beyond, a notification is skipped (and logged as such):
/// a flood of sign-ins must not pile up memory behind a slow push service.
const MAX_WAITING: usize = 10_000;

fn auth_context(subscription_id: &str) -> String {
    format!("web-push-auth:{subscription_id}")
}

/// Stores `sub` for `device`, or says what is wrong with it (nothing is stored then).
pub async fn save(
    state: &AppState,
    web_push: &WebPush,
    device: &Method,
    sub: &WebPushSubscription,
) -> Result<Result<(), String>, StoreError> {
    if let Err(problem) = check_endpoint(&sub.endpoint, web_push.allow_loopback) {
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
    super::steps::notified(state, challenge, &delivery.device_name, &words).await?;
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
    count: &'a AtomicUsize,
    /// How many were waiting before this one.
    before: usize,
}

impl<'a> Waiting<'a> {
    fn enter(count: &'a AtomicUsize) -> Self {
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
