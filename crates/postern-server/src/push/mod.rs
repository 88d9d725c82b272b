//! Push approvals on the server: activating a Postern Authenticator, creating a challenge for a
//! sign-in and waking the user's devices, what a device fetches, marks shown and answers. The
//! rules (number matching, causes, fatigue) are in `postern_core::credential::push`; device
//! requests are authenticated in `device_auth`, wake-ups of open connections go through
//! `wakeup`, and Web Push notifications to subscribed browsers through `notifications` (sent by
//! `web_push`).

pub mod cross_node;
pub mod device_auth;
pub mod notifications;
pub mod steps;
pub mod wakeup;
pub mod web_push;

use crate::lockout::{self, Kind};
use crate::state::AppState;
use postern_core::credential::method::{Method, MethodKind, MethodSecret};
use postern_core::credential::push::{
    self as rules, AnswerCheck, Challenge, Delivery, PushStanding, Resolution, Status,
};
use postern_core::credential::totp::{self as otp, TotpParams, TotpState};
use postern_core::random;
use postern_core::secret::hash_token;
use postern_proto::authenticator::{
    AccountInfo, ActivateRequest, ActivateResponse, AnswerOutcome, KeyAlgorithm, PendingChallenge,
};
use postern_store::{ChallengeCreated, StoreError};
use time::Duration;
use wakeup::DeviceEvent;

/// How long an activation link works.
pub const ACTIVATION_LIFETIME: Duration = Duration::minutes(10);
/// How far back the pending list looks (longer than any push timeout).
const PENDING_HORIZON: Duration = Duration::minutes(15);
const ATTEMPTS: usize = 20;

/// A new single-use activation link for `user_id`.
pub async fn new_activation(state: &AppState, user_id: &str) -> Result<String, StoreError> {
    let code = random::token(&*state.rng, 24);
    let now = state.clock.now();
    state
        .store
        .create_activation(&hash_token(&code), user_id, now, now + ACTIVATION_LIFETIME)
        .await?;
    Ok(format!(
        "{}{}?code={code}",
        state.issuer,
        postern_proto::authenticator::ACTIVATION_PATH
    ))
}

/// Why an activation was refused (the app shows the message).
pub struct Refused(pub &'static str, pub String);

/// Registers a device from an activation: a push method (the default from now on: the most
/// convenient factor) and a TOTP method for the same app's offline codes.
pub async fn activate(
    state: &AppState,
    req: &ActivateRequest,
) -> Result<Result<ActivateResponse, Refused>, StoreError> {
    let alg = req.key_algorithm;
    let key_ok = data_encoding::BASE64URL_NOPAD
        .decode(req.public_key.as_bytes())
        .is_ok_and(|k| device_auth::valid_public_key(alg, &k));
    if !key_ok {
        return Ok(Err(Refused(
            "invalid_request",
            match alg {
                KeyAlgorithm::Ed25519 => {
                    "public_key must be an Ed25519 public key (32 bytes, base64url)"
                }
                KeyAlgorithm::P256 => {
                    "public_key must be a P-256 public key (the 65-byte uncompressed point, base64url)"
                }
            }
            .into(),
        )));
    }
    let now = state.clock.now();
    let Some(user_id) = state
        .store
        .use_activation(&hash_token(&req.code), now)
        .await?
    else {
        return Ok(Err(Refused(
            "activation_invalid",
            "this activation link is unknown, used or expired (links work once, for 10 minutes): open Security info and add the app again".into(),
        )));
    };
    let Some(user) = state.store.find_user_by_id(&user_id).await? else {
        return Ok(Err(Refused(
            "activation_invalid",
            "the account is gone".into(),
        )));
    };
    let device_name = crate::methods::clean_name(&req.device_name, "Postern Authenticator");
    let device = Method {
        id: random::uuid(&*state.rng),
        user_id: user.id.clone(),
        name: device_name.clone(),
        created: now,
        last_used: None,
        is_default: true,
        secret: MethodSecret::Push {
            public_key: req.public_key.clone(),
            key_algorithm: alg,
            app_version: crate::methods::clean_name(&req.app_version, "unknown"),
        },
        version: 1,
    };
    state.store.create_method(&device).await?;
    state.store.touch_device(&device.id, now).await?;

    // The same app shows 6-digit codes for this account: a TOTP method of its own.
    let seed = zeroize::Zeroizing::new(random::bytes(&*state.rng, otp::SECRET_BYTES));
    let params = TotpParams::default();
    let code_id = random::uuid(&*state.rng);
    let sealed = state.master.seal(
        &*state.rng,
        &postern_core::credential::method::totp_seal_context(&code_id),
        &seed,
    );
    let codes = Method {
        id: code_id,
        user_id: user.id.clone(),
        name: format!("{device_name} (code)"),
        created: now,
        last_used: None,
        is_default: false,
        secret: MethodSecret::Totp {
            sealed_seed: data_encoding::BASE64URL_NOPAD.encode(&sealed),
            params,
            state: TotpState::default(),
            paired_device: Some(device.id.clone()),
        },
        version: 1,
    };
    state.store.create_method(&codes).await?;
    Ok(Ok(ActivateResponse {
        device_id: device.id,
        account: AccountInfo {
            issuer: state.issuer.clone(),
            organisation: state.config.organisation.clone(),
            username: user.username.clone(),
        },
        totp_uri: otp::otpauth_uri(&state.config.organisation, &user.username, &seed, &params),
        server_time_ms: postern_core::clock::to_millis(now),
    }))
}

/// Why push is off for a user who reported a request.
/// The user's push standing (blocked after a report, the streak of unanswered pushes).
pub async fn standing(state: &AppState, user_id: &str) -> Result<PushStanding, StoreError> {
    let push = state.store.find_push_state(user_id).await?;
    Ok(PushStanding {
        blocked: push.blocked.is_some(),
        unanswered: push.unanswered,
    })
}

/// Whether push may be offered to the user now, and if not, why (in words for the page).
pub async fn push_refusal(state: &AppState, user_id: &str) -> Result<Option<String>, StoreError> {
    let standing = standing(state, user_id).await?;
    if standing.blocked {
        return Ok(rules::refusal(standing, 0));
    }
    let since = state.clock.now() - rules::FATIGUE_WINDOW;
    let recent = state.store.list_user_challenges(user_id, since).await?;
    Ok(rules::refusal(standing, recent.len()))
}

/// Sends a push for a sign-in to every push device of the user: stores the challenge, then wakes
/// the devices that have a connection open (and records which were woken).
/// What sending a push did.
pub enum Started {
    /// A new request, sent.
    Sent(Box<Challenge>),
    /// The flow's request still waiting for an answer (nothing new was sent).
    Waiting(Box<Challenge>),
    /// The user reached the limit of requests (3 per 5 minutes): nothing was sent.
    Limited,
}

pub async fn start(
    state: &AppState,
    flow: &postern_core::flow::Flow,
    user_id: &str,
    methods: &[Method],
    ip: &str,
) -> Result<Started, StoreError> {
    let now = state.clock.now();
    let mut deliveries = vec![];
    for m in methods.iter().filter(|m| m.kind() == MethodKind::Push) {
        let seen = state.store.find_device_contact(&m.id).await?;
        let subscriptions = state.store.list_web_push_subscriptions(&m.id).await?;
        deliveries.push(Delivery::new(
            &m.id,
            &m.name,
            seen.map(postern_core::clock::to_millis),
            u32::try_from(subscriptions.len()).unwrap_or(u32::MAX),
        ));
    }
    let challenge = Challenge {
        id: random::uuid(&*state.rng),
        user_id: user_id.to_owned(),
        flow_id: flow.id.clone(),
        correlation_id: flow.correlation_id.clone(),
        app_name: flow.client_name.clone(),
        ip: ip.to_owned(),
        number: rules::new_number(&*state.rng),
        created: now,
        expires: now + Duration::seconds(state.config.policy.push_timeout_seconds),
        deliveries,
        answer: None,
        failure_logged: false,
        version: 1,
    };
    let since = now - rules::FATIGUE_WINDOW;
    match state
        .store
        .create_challenge_limited(&challenge, since, rules::FATIGUE_LIMIT)
        .await?
    {
        ChallengeCreated::Created => notifications::notify(state, &challenge),
        ChallengeCreated::Limited => return Ok(Started::Limited),
        ChallengeCreated::Existing(c) => return Ok(Started::Waiting(c)),
    }
    let woken: Vec<String> = challenge
        .deliveries
        .iter()
        .filter(|d| {
            state
                .wakeups
                .wake_device(&d.device_id, DeviceEvent::Challenge(challenge.id.clone()))
        })
        .map(|d| d.device_id.clone())
        .collect();
    if woken.is_empty() {
        return Ok(Started::Sent(Box::new(challenge)));
    }
    let written = record_woken(state, &challenge.id, &woken).await?;
    Ok(Started::Sent(Box::new(written.unwrap_or(challenge))))
}

/// Records that `devices` were woken over an open connection now (on this node or another).
/// Retried over concurrent writes: a woken device may mark it fetched at the same moment.
pub async fn record_woken(
    state: &AppState,
    id: &str,
    devices: &[String],
) -> Result<Option<Challenge>, StoreError> {
    let at = postern_core::clock::to_millis(state.clock.now());
    modify(state, id, |c| {
        let mut changed = false;
        for d in c
            .deliveries
            .iter_mut()
            .filter(|d| devices.contains(&d.device_id) && d.woke_ms.is_none())
        {
            d.woke_ms = Some(at);
            changed = true;
        }
        changed
    })
    .await
}

/// The wire form of a challenge for a device.
pub fn to_pending(c: &Challenge, username: &str) -> PendingChallenge {
    let rfc3339 = |t: time::OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    };
    PendingChallenge {
        id: c.id.clone(),
        app: c.app_name.clone(),
        ip: c.ip.clone(),
        username: username.to_owned(),
        created: rfc3339(c.created),
        expires: rfc3339(c.expires),
    }
}

/// Applies `change` to a challenge with optimistic concurrency; returns the challenge as written
/// (None if it is gone). `change` returns false to write nothing.
async fn modify<F>(
    state: &AppState,
    id: &str,
    mut change: F,
) -> Result<Option<Challenge>, StoreError>
where
    F: FnMut(&mut Challenge) -> bool,
{
    for _ in 0..ATTEMPTS {
        let Some(mut c) = state.store.find_challenge(id).await? else {
            return Ok(None);
        };
        if !change(&mut c) {
            return Ok(Some(c));
        }
        if state.store.update_challenge(&c).await? {
            c.version += 1;
            state.wakeups.challenge_changed(&c.id);
            return Ok(Some(c));
        }
    }
    Err(StoreError::Conflict(format!(
        "push challenge {id} (too contended)"
    )))
}

/// Records that `device` fetched challenge `id` (first time only).
pub async fn mark_fetched(state: &AppState, device_id: &str, id: &str) -> Result<(), StoreError> {
    let now = postern_core::clock::to_millis(state.clock.now());
    modify(state, id, |c| match c.delivery_mut(device_id) {
        Some(d) if d.fetched_ms.is_none() => {
            d.fetched_ms = Some(now);
            true
        }
        _ => false,
    })
    .await?;
    Ok(())
}

/// Whether challenge `c` is one `device` should be shown now: its user's, addressed to it, and
/// still pending.
pub fn is_for(c: &Challenge, device: &Method, now: time::OffsetDateTime) -> bool {
    c.user_id == device.user_id
        && c.deliveries.iter().any(|d| d.device_id == device.id)
        && c.status(now) == Status::Pending
}

/// What is pending for a device now, marked as fetched by it; the first fetch of each request is
/// a step in its sign-in log (not every refresh), whichever way it came (pending list or stream).
pub async fn pending_for(
    state: &AppState,
    device: &Method,
    request_id: &str,
) -> Result<Vec<Challenge>, StoreError> {
    let now = state.clock.now();
    let recent = state
        .store
        .list_user_challenges(&device.user_id, now - PENDING_HORIZON)
        .await?;
    let mut out = vec![];
    for c in recent {
        if !is_for(&c, device, now) {
            continue;
        }
        let Some(delivery) = c.deliveries.iter().find(|d| d.device_id == device.id) else {
            continue;
        };
        if delivery.fetched_ms.is_none() {
            mark_fetched(state, &device.id, &c.id).await?;
            steps::fetched(state, &c, &device.name, request_id).await?;
        }
        out.push(c);
    }
    out.sort_by_key(|c| c.created);
    Ok(out)
}

/// Records that the app showed challenge `id` to the user: `None` if it is not this device's,
/// else whether this was the first time.
pub async fn mark_shown(
    state: &AppState,
    device: &Method,
    id: &str,
) -> Result<Option<bool>, StoreError> {
    let now = postern_core::clock::to_millis(state.clock.now());
    let mut first = false;
    let c = modify(state, id, |c| {
        first = false;
        if c.user_id != device.user_id {
            return false;
        }
        match c.delivery_mut(&device.id) {
            Some(d) if d.shown_ms.is_none() => {
                d.fetched_ms.get_or_insert(now);
                d.shown_ms = Some(now);
                first = true;
                true
            }
            _ => false,
        }
    })
    .await?;
    let mine = c.is_some_and(|c| {
        c.user_id == device.user_id && c.deliveries.iter().any(|d| d.device_id == device.id)
    });
    Ok(mine.then_some(first))
}

/// A device's answer to challenge `id`. `None` when it is not a challenge of this device.
pub async fn answer(
    state: &AppState,
    device: &Method,
    id: &str,
    decision: rules::Decision,
) -> Result<Option<AnswerOutcome>, StoreError> {
    let now = state.clock.now();
    let mut outcome = None;
    // Set by the run of `change` that was written (a retried run resets it).
    let mut resolved = None;
    let written = modify(state, id, |c| {
        resolved = None;
        outcome = None;
        if c.user_id != device.user_id {
            return false;
        }
        match rules::check_answer(c, &device.id, decision, now) {
            AnswerCheck::NotTargeted => false,
            AnswerCheck::Expired => {
                outcome = Some(AnswerOutcome::Expired);
                false
            }
            AnswerCheck::AlreadyAnswered => {
                outcome = Some(AnswerOutcome::AlreadyAnswered);
                false
            }
            AnswerCheck::Resolve(resolution) => {
                outcome = Some(match resolution {
                    Resolution::Approved => AnswerOutcome::Approved,
                    Resolution::Denied | Resolution::Reported => AnswerOutcome::Denied,
                    Resolution::WrongNumber => AnswerOutcome::WrongNumber,
                });
                resolved = Some(resolution);
                let at = postern_core::clock::to_millis(now);
                if let Some(d) = c.delivery_mut(&device.id) {
                    d.fetched_ms.get_or_insert(at);
                    d.shown_ms.get_or_insert(at);
                }
                c.answer = Some(rules::Answer {
                    device_id: device.id.clone(),
                    resolution,
                    at_ms: at,
                });
                true
            }
        }
    })
    .await?;
    if let (Some(c), Some(resolution)) = (written, resolved) {
        after_answer(state, &c, resolution).await?;
    }
    Ok(outcome)
}

/// What an answer changes beyond the challenge: the push state, the second-factor lockout for a
/// wrong number, and the other devices (which stop showing it).
async fn after_answer(
    state: &AppState,
    c: &Challenge,
    resolution: Resolution,
) -> Result<(), StoreError> {
    let now = state.clock.now();
    let reported = (resolution == Resolution::Reported).then_some(now);
    state
        .store
        .record_push_answer(&c.user_id, resolution == Resolution::Approved, reported)
        .await?;
    if let Some(at) = reported {
        // "I didn't try to sign in": every other request still waiting is over too.
        let reporter = c
            .answer
            .as_ref()
            .map(|a| a.device_id.clone())
            .unwrap_or_default();
        for other in state
            .store
            .list_user_challenges(&c.user_id, now - PENDING_HORIZON)
            .await?
        {
            if other.id == c.id || other.status(now) != Status::Pending {
                continue;
            }
            let resolved = modify(state, &other.id, |o| {
                if o.answer.is_some() {
                    return false;
                }
                o.answer = Some(rules::Answer {
                    device_id: reporter.clone(),
                    resolution: Resolution::Reported,
                    at_ms: postern_core::clock::to_millis(at),
                });
                true
            })
            .await?;
            if let Some(o) = resolved {
                for d in &o.deliveries {
                    state
                        .wakeups
                        .wake_device(&d.device_id, DeviceEvent::Resolved(o.id.clone()));
                }
            }
        }
    }
    if resolution == Resolution::WrongNumber {
        // A wrong number is a failed second-factor attempt (its own fingerprint: never a repeat).
        let print = lockout::fingerprint(state, Kind::SecondFactor, &c.user_id, &c.id, "push");
        let (lock, version) = lockout::find(state, &c.user_id, Kind::SecondFactor).await?;
        lockout::record_failure(state, &c.user_id, Kind::SecondFactor, &print, lock, version)
            .await?;
    }
    for d in &c.deliveries {
        state
            .wakeups
            .wake_device(&d.device_id, DeviceEvent::Resolved(c.id.clone()));
    }
    Ok(())
}

/// Counts an expired (ignored) push once in the user's unanswered streak. What decides is the
/// challenge as stored, not the caller's copy: a copy read before a late answer (a wrong number
/// just before the expiry) would otherwise count the push a second time, after the answer
/// already counted it.
pub async fn record_ignored(state: &AppState, c: &Challenge) -> Result<bool, StoreError> {
    let mut first = false;
    let mut ignored = false;
    modify(state, &c.id, |c| {
        first = false;
        if c.failure_logged {
            return false;
        }
        ignored = c.answer.is_none();
        c.failure_logged = true;
        first = true;
        true
    })
    .await?;
    if first && ignored {
        state
            .store
            .record_push_answer(&c.user_id, false, None)
            .await?;
    }
    Ok(first)
}
