//! The Postern Authenticator's API (`/api/authenticator/v1`, contract in
//! `postern_proto::authenticator`): activation, what is pending, "shown", answers, the device's
//! own status and removal, its Web Push subscription, and the event stream that wakes the app.
//! Every call but activation and the Web Push key is signed by the device (`push::device_auth`);
//! every change is a step in the sign-in log of its challenge.

use crate::http::RequestId;
use crate::push::{self, device_auth, wakeup::DeviceEvent};
use crate::state::AppState;
use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method as HttpMethod, StatusCode, Uri};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use postern_core::credential::method::Method;
use postern_core::credential::push::{self as push_rules, Decision as PushDecision};
use postern_proto::authenticator::{
    ActivateRequest, AnswerRequest, AnswerResponse, ApiError, DeviceStatus, EVENT_CHALLENGE,
    EVENT_RESOLVED, PendingList, WebPushInfo, WebPushSubscription,
};
use postern_store::MethodRemoval;
use std::convert::Infallible;

fn api_error(status: StatusCode, error: &str, message: impl Into<String>) -> Response {
    (
        status,
        Json(ApiError {
            error: error.to_owned(),
            message: message.into(),
            server_time_ms: None,
        }),
    )
        .into_response()
}

fn internal(e: &postern_store::StoreError) -> Response {
    if e.is_unavailable() {
        tracing::warn!(error = %e, "authenticator API: database unavailable");
        return api_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "the database is not answering; try again in a few seconds",
        );
    }
    tracing::error!(error = %e, "authenticator API: storage failed");
    api_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "server_error",
        "the server could not complete this request; try again",
    )
}

/// The signed-in device, or the API's refusal.
async fn device(
    state: &AppState,
    method: &HttpMethod,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Method, Response> {
    match device_auth::authenticate(state, method, uri, headers, body).await {
        Err(e) => Err(internal(&e)),
        Ok(Err(refusal)) => Err((
            StatusCode::UNAUTHORIZED,
            Json(ApiError {
                error: refusal.error.to_owned(),
                message: refusal.message,
                server_time_ms: refusal.server_time_ms,
            }),
        )
            .into_response()),
        Ok(Ok(device)) => Ok(device),
    }
}

/// `POST /api/authenticator/v1/activate`.
pub async fn activate(State(state): State<AppState>, body: Bytes) -> Response {
    let Ok(req) = serde_json::from_slice::<ActivateRequest>(&body) else {
        return api_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the body must be an activation request (JSON)",
        );
    };
    match push::activate(&state, &req).await {
        Err(e) => internal(&e),
        Ok(Err(push::Refused(error, message))) => {
            api_error(StatusCode::BAD_REQUEST, error, message)
        }
        Ok(Ok(res)) => Json(res).into_response(),
    }
}

async fn username(state: &AppState, user_id: &str) -> String {
    state
        .store
        .find_user_by_id(user_id)
        .await
        .ok()
        .flatten()
        .map(|u| u.username)
        .unwrap_or_default()
}

/// `GET /api/authenticator/v1/pending`: the pull-to-refresh.
pub async fn pending(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    method: HttpMethod,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let device = match device(&state, &method, &uri, &headers, b"").await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let found = push::pending_for(&state, &device, &rid.0).await;
    let challenges = match found {
        Ok(c) => c,
        Err(e) => return internal(&e),
    };
    let name = username(&state, &device.user_id).await;
    Json(PendingList {
        challenges: challenges
            .iter()
            .map(|c| push::to_pending(c, &name))
            .collect(),
        server_time_ms: postern_core::clock::to_millis(state.clock.now()),
    })
    .into_response()
}

/// `POST /api/authenticator/v1/challenges/{id}/shown`.
pub async fn shown(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    Path(id): Path<String>,
    method: HttpMethod,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let device = match device(&state, &method, &uri, &headers, &body).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    match push::mark_shown(&state, &device, &id).await {
        Err(e) => internal(&e),
        Ok(None) => api_error(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such request for this device",
        ),
        Ok(Some(false)) => StatusCode::NO_CONTENT.into_response(),
        Ok(Some(true)) => {
            if let Ok(Some(c)) = state.store.find_challenge(&id).await {
                let written = push::steps::shown(&state, &c, &device.name, &rid.0).await;
                push::steps::warn_unwritten(written, "shown", &c);
            }
            StatusCode::NO_CONTENT.into_response()
        }
    }
}

/// `POST /api/authenticator/v1/challenges/{id}/answer`.
pub async fn answer(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    Path(id): Path<String>,
    method: HttpMethod,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let device = match device(&state, &method, &uri, &headers, &body).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let Ok(req) = serde_json::from_slice::<AnswerRequest>(&body) else {
        return api_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the body must be an answer (JSON)",
        );
    };
    let decision = PushDecision::from_wire(req.decision, req.number, req.report);
    let outcome = match push::answer(&state, &device, &id, decision).await {
        Err(e) => return internal(&e),
        Ok(None) => {
            return api_error(
                StatusCode::NOT_FOUND,
                "not_found",
                "no such request for this device",
            );
        }
        Ok(Some(o)) => o,
    };
    if let Ok(Some(c)) = state.store.find_challenge(&id).await {
        let answered = push_rules::answer_step(outcome, decision, &device.name);
        // The answer is written already: a log that cannot be written is said, not hidden.
        let written = push::steps::answered(&state, &c, answered, &rid.0).await;
        push::steps::warn_unwritten(written, "answer", &c);
    }
    Json(AnswerResponse { outcome }).into_response()
}

/// `GET /api/authenticator/v1/device`: is this registration valid; the server's clock.
pub async fn status(
    State(state): State<AppState>,
    method: HttpMethod,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let device = match device(&state, &method, &uri, &headers, b"").await {
        Ok(d) => d,
        Err(r) => return r,
    };
    Json(DeviceStatus {
        device_id: device.id.clone(),
        device_name: device.name.clone(),
        username: username(&state, &device.user_id).await,
        server_time_ms: postern_core::clock::to_millis(state.clock.now()),
    })
    .into_response()
}

/// `DELETE /api/authenticator/v1/device`: the app's "Remove from this phone" — the device (and
/// its offline codes) leave the account, under the same rule as Security info: never the last
/// way in while the policy requires a second factor.
pub async fn remove(
    State(state): State<AppState>,
    method: HttpMethod,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let device = match device(&state, &method, &uri, &headers, &body).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    match state
        .store
        .delete_method(&device.user_id, &device.id, state.config.policy.mfa)
        .await
    {
        Err(e) => internal(&e),
        Ok(MethodRemoval::Refused(why)) => {
            api_error(StatusCode::CONFLICT, "last_method", why.message())
        }
        Ok(MethodRemoval::Removed | MethodRemoval::NotFound) => {
            tracing::info!(device = %device.id, user = %device.user_id, "a device removed itself");
            state.wakeups.wake_device(&device.id, DeviceEvent::Revoked);
            StatusCode::NO_CONTENT.into_response()
        }
    }
}

/// `GET /api/authenticator/v1/web-push`: the VAPID public key a browser subscribes with.
pub async fn web_push_info(State(state): State<AppState>) -> Response {
    match &state.web_push {
        Some(web_push) => Json(WebPushInfo {
            application_server_key: web_push.application_server_key(),
        })
        .into_response(),
        None => api_error(
            StatusCode::NOT_FOUND,
            "not_found",
            "Web Push is turned off on this server (web_push.enabled = false)",
        ),
    }
}

/// `PUT /api/authenticator/v1/web-push/subscription`: this device's browser push subscription.
pub async fn save_subscription(
    State(state): State<AppState>,
    method: HttpMethod,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let device = match device(&state, &method, &uri, &headers, &body).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let Some(web_push) = &state.web_push else {
        return api_error(
            StatusCode::NOT_FOUND,
            "not_found",
            "Web Push is turned off on this server (web_push.enabled = false)",
        );
    };
    let Ok(sub) = serde_json::from_slice::<WebPushSubscription>(&body) else {
        return api_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the body must be a push subscription (JSON: endpoint, keys.p256dh, keys.auth)",
        );
    };
    match crate::push::notifications::save(&state, web_push, &device, &sub).await {
        Err(e) => internal(&e),
        Ok(Err(problem)) => api_error(StatusCode::BAD_REQUEST, "invalid_request", problem),
        Ok(Ok(())) => StatusCode::NO_CONTENT.into_response(),
    }
}

/// `DELETE /api/authenticator/v1/web-push/subscription`: no more notifications for this device.
pub async fn delete_subscriptions(
    State(state): State<AppState>,
    method: HttpMethod,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let device = match device(&state, &method, &uri, &headers, &body).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    match state
        .store
        .delete_device_web_push_subscriptions(&device.id)
        .await
    {
        Err(e) => internal(&e),
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
    }
}

/// `GET /api/authenticator/v1/events`: the wake-up stream. Subscribes first, then sends what is
/// pending, so nothing sent between the two is lost.
pub async fn events(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    method: HttpMethod,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let device = match device(&state, &method, &uri, &headers, b"").await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let rx = state.wakeups.subscribe_device(&device.id);
    let pending = match push::pending_for(&state, &device, &rid.0).await {
        Ok(p) => p,
        Err(e) => return internal(&e),
    };
    let name = username(&state, &device.user_id).await;
    let first: std::collections::VecDeque<Event> = pending
        .iter()
        .map(|c| challenge_event(&push::to_pending(c, &name)))
        .collect();
    let rid = rid.0;
    let stop = state.stopping.subscribe();
    let stream = futures_util::stream::unfold(
        (state, device, name, rx, first, stop),
        move |(state, device, name, mut rx, mut queue, mut stop)| {
            let rid = rid.clone();
            async move {
                loop {
                    if let Some(ev) = queue.pop_front() {
                        let next = (state, device, name, rx, queue, stop);
                        return Some((Ok::<_, Infallible>(ev), next));
                    }
                    let received = tokio::select! {
                        r = rx.recv() => r,
                        // The server is stopping: end the stream (the app reconnects).
                        _ = stop.wait_for(|s| *s) => return None,
                    };
                    match received {
                        Ok(DeviceEvent::Challenge(id)) => {
                            // A wake-up names a challenge; what goes out is decided here, from the
                            // challenge itself: only this user's, addressed to this device and
                            // still pending (a notice from another node is only a hint, and
                            // anyone who can connect to the database can send one).
                            let found = state.store.find_challenge(&id).await;
                            if let Ok(Some(c)) = found
                                && push::is_for(&c, &device, state.clock.now())
                            {
                                queue.push_back(challenge_event(&push::to_pending(&c, &name)));
                                // Recorded before the event goes out, so the log's order is the
                                // order things happened (fetched, then shown, then answered).
                                if let Err(e) = push::mark_fetched(&state, &device.id, &c.id).await
                                {
                                    tracing::warn!(error = %e, challenge = %c.id, "push event: the fetched time could not be written");
                                }
                                let written =
                                    push::steps::received(&state, &c, &device.name, &rid).await;
                                push::steps::warn_unwritten(written, "event", &c);
                            }
                        }
                        Ok(DeviceEvent::Revoked) => return None,
                        Ok(DeviceEvent::Resolved(id)) => {
                            let data = serde_json::json!({ "id": id }).to_string();
                            queue.push_back(Event::default().event(EVENT_RESOLVED).data(data));
                        }
                        // Wake-ups may have been missed (another node's removal too): if the
                        // device is still there, fetch what is pending again.
                        Ok(DeviceEvent::Recheck) => {
                            if let Ok(None) = state.store.find_method_by_id(&device.id).await {
                                return None;
                            }
                            if let Ok(all) = push::pending_for(&state, &device, &rid).await {
                                for c in all {
                                    queue.push_back(challenge_event(&push::to_pending(&c, &name)));
                                }
                            }
                        }
                        // Lagged: fetch what is pending again.
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                            if let Ok(all) = push::pending_for(&state, &device, &rid).await {
                                for c in all {
                                    queue.push_back(challenge_event(&push::to_pending(&c, &name)));
                                }
                            }
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                    }
                }
            }
        },
    );
    Sse::new(stream)
        .keep_alive(KeepAlive::new().text("keepalive"))
        .into_response()
}

fn challenge_event(p: &postern_proto::authenticator::PendingChallenge) -> Event {
    Event::default()
        .event(EVENT_CHALLENGE)
        .data(serde_json::to_string(p).unwrap_or_default())
}
