//! The push step of a sign-in: the waiting page with the number to type, its event stream (so it
//! moves on the moment the app answers), sending another request, and the 500121 page that says
//! what happened and opens every other door without retyping the password.

use super::Answer;
use super::carry::{Carried, Who, carry, flow_page};
use super::open::FlowForm;
use crate::http::errors::{self, ErrorContext};
use crate::pages::{self, PushFailedPage, PushWaitPage};
use crate::push;
use crate::signin;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use postern_core::ErrorCode;
use postern_core::credential::method::{Method, MethodKind, usable};
use postern_core::credential::push::{self as push_rules, Challenge, Resolution, Status};
use postern_core::flow::{Event as FlowEvent, Flow, FlowState, PushSettlement};
use std::convert::Infallible;

/// What the push step shows for a flow.
pub(super) enum Shown {
    Page(Response),
    /// Push may not be used now (blocked, or too many requests): the words why.
    Refused(String),
}

/// `GET /signin/{flow}` when the method is push: the current request's page, a new request, or
/// the end of the sign-in once approved.
#[allow(clippy::too_many_arguments)]
pub(super) async fn prompt(
    state: &AppState,
    flow: &Flow,
    user_id: &str,
    device: &Method,
    methods: &[Method],
    headers: &HeaderMap,
    ctx: &ErrorContext,
) -> Result<Shown, postern_store::StoreError> {
    let now = state.clock.now();
    // A locked second step is locked for push too.
    let (lock, _) =
        crate::lockout::find(state, user_id, crate::lockout::Kind::SecondFactor).await?;
    if let Some(until) = lock.locked_until(now) {
        return Ok(Shown::Refused(push_rules::locked_words(until)));
    }
    let latest = state.store.latest_flow_challenge(&flow.id).await?;
    let challenge = match latest {
        Some(c) => c,
        None => {
            if state
                .store
                .find_push_state(user_id)
                .await?
                .blocked
                .is_some()
            {
                return Ok(Shown::Refused(push_rules::BLOCKED.into()));
            }
            match send(state, flow, user_id, methods, ctx).await? {
                Some(c) => c,
                None => return Ok(Shown::Refused(push_rules::fatigue_words())),
            }
        }
    };
    let username = super::ways::username_of(state, user_id).await?;
    match challenge.status(now) {
        Status::Pending => Ok(Shown::Page(wait_page(
            state, flow, &challenge, device, methods, &username,
        ))),
        Status::Resolved(Resolution::Approved) => {
            // The approval counts only if push is still allowed and the approving device is
            // still registered (a report or a removal since then wins).
            let approver = challenge.answer.as_ref().map(|a| a.device_id.as_str());
            let still_registered = methods.iter().any(|m| Some(m.id.as_str()) == approver);
            let blocked = state
                .store
                .find_push_state(user_id)
                .await?
                .blocked
                .is_some();
            let settled = if blocked {
                PushSettlement::Blocked
            } else if !still_registered {
                PushSettlement::ApproverRemoved
            } else {
                let device_name = challenge
                    .answer
                    .as_ref()
                    .and_then(|a| {
                        challenge
                            .deliveries
                            .iter()
                            .find(|d| d.device_id == a.device_id)
                    })
                    .map(|d| d.device_name.clone())
                    .unwrap_or_else(|| device.name.clone());
                PushSettlement::Approved { device_name }
            };
            let t = flow.advance(FlowEvent::PushSettled(settled), now);
            let who = Who {
                user_id: Some(user_id),
                username: &username,
            };
            Ok(match carry(state, headers, flow, t, who, ctx).await? {
                Carried::Done(res) => Shown::Page(res),
                Carried::OfferCode(why) => Shown::Refused(why),
                Carried::Retry(_) => Shown::Page(flow_page(flow)),
            })
        }
        Status::Resolved(_) | Status::Expired => Ok(Shown::Page(
            failed_page(state, flow, &challenge, methods, &username, ctx).await?,
        )),
    }
}

/// Creates and sends a new challenge for the flow, logged; the one still waiting if there is
/// one; `None` when the user reached the limit of requests.
async fn send(
    state: &AppState,
    flow: &Flow,
    user_id: &str,
    methods: &[Method],
    ctx: &ErrorContext,
) -> Result<Option<Challenge>, postern_store::StoreError> {
    let ip = state
        .store
        .find_signin(&flow.correlation_id)
        .await?
        .and_then(|e| e.ip)
        .unwrap_or_default();
    let c = match push::start(state, flow, user_id, methods, &ip).await? {
        push::Started::Sent(c) => c,
        push::Started::Waiting(c) => return Ok(Some(*c)),
        push::Started::Limited => return Ok(None),
    };
    push::steps::sent(state, &c, &ctx.request_id).await?;
    Ok(Some(*c))
}

fn wait_page(
    state: &AppState,
    flow: &Flow,
    c: &Challenge,
    device: &Method,
    methods: &[Method],
    username: &str,
) -> Response {
    let code = usable(methods).find(|m| m.kind() == MethodKind::Totp);
    pages::render(&PushWaitPage {
        org: state.config.organisation.clone(),
        client_name: flow.client_name.clone(),
        username: username.to_owned(),
        number: c.number,
        progress: c.progress(state.clock.now()),
        expires: postern_core::clock::iso8601(c.expires),
        events_url: format!("/signin/{}/push/events", flow.id),
        page_url: format!("/signin/{}?method={}", flow.id, device.id),
        other_url: format!("/signin/{}/other", flow.id),
        code_url: code.map(|m| format!("/signin/{}?method={}", flow.id, m.id)),
        notice: None,
    })
}

/// The 500121 page: the cause from the tracked steps (logged once) and every other way on.
async fn failed_page(
    state: &AppState,
    flow: &Flow,
    c: &Challenge,
    methods: &[Method],
    username: &str,
    ctx: &ErrorContext,
) -> Result<Response, postern_store::StoreError> {
    let now = state.clock.now();
    let cause = c.cause(now).unwrap_or_else(|| "not answered".into());
    if c.status(now) == Status::Expired {
        push::record_ignored(state, c).await?;
    }
    if !c.failure_logged {
        let reason = c.failure_reason(now);
        push::steps::failed(state, c, &cause, reason, username, &ctx.request_id).await?;
        if c.status(now) != Status::Expired {
            // Answered: mark it so the cause is written once.
            let mut marked = c.clone();
            marked.failure_logged = true;
            state.store.update_challenge(&marked).await?;
        }
    }
    let retry_refused = push::push_refusal(state, &c.user_id).await?;
    let choices = super::ways::choices(flow, methods, Some(MethodKind::Push));
    Ok(ctx.shown(pages::render(&PushFailedPage {
        org: state.config.organisation.clone(),
        client_name: flow.client_name.clone(),
        username: username.to_owned(),
        cause,
        e: ctx.view(ErrorCode::SecondFactorFailed, None),
        retry_url: format!("/signin/{}/push", flow.id),
        retry_refused,
        csrf: flow.csrf.clone(),
        choices,
    })))
}

/// `POST /signin/{flow}/push`: "Send another request".
pub async fn retry(State(state): State<AppState>, form: FlowForm) -> Response {
    let FlowForm { flow, ctx, .. } = form;
    let FlowState::SecondFactor { user_id, .. } = &flow.state else {
        return flow_page(&flow);
    };
    let answer: Answer = async {
        let methods = state.store.list_methods(user_id).await?;
        let Some(device) = methods.iter().find(|m| m.kind() == MethodKind::Push) else {
            return Ok(flow_page(&flow));
        };
        let current = state.store.latest_flow_challenge(&flow.id).await?;
        let pending = current.is_some_and(|c| c.status(state.clock.now()) == Status::Pending);
        let blocked = state
            .store
            .find_push_state(user_id)
            .await?
            .blocked
            .is_some();
        if !pending && !blocked {
            // Over the limit, the page that follows says so.
            send(&state, &flow, user_id, &methods, &ctx).await?;
        }
        Ok(signin::redirect(&format!(
            "/signin/{}?method={}",
            flow.id, device.id
        )))
    }
    .await;
    answer.unwrap_or_else(|e| errors::internal(&state, &e, &ctx))
}

/// `GET /signin/{flow}/push/events`: the waiting page's stream — `status` with the progress in
/// words when it changes, `done` when the request is answered or expired (the page reloads).
pub async fn events(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Ok(Some(flow)) = state.store.find_flow(&id).await else {
        return axum::http::StatusCode::NOT_FOUND.into_response();
    };
    let bound = crate::http::cookies::get(&state, &headers, crate::http::cookies::BROWSER)
        .is_some_and(|b| {
            postern_core::secret::ct_eq(
                flow.browser_hash.as_bytes(),
                postern_core::secret::hash_token(&b).as_bytes(),
            )
        });
    let Ok(Some(first)) = state.store.latest_flow_challenge(&flow.id).await else {
        return axum::http::StatusCode::NOT_FOUND.into_response();
    };
    if !bound {
        return axum::http::StatusCode::NOT_FOUND.into_response();
    }
    let rx = state.wakeups.subscribe_challenge(&first.id);
    let stream = futures_util::stream::unfold(
        (state, first.id.clone(), rx, String::new(), false),
        |(state, cid, mut rx, last, done)| async move {
            if done {
                return None;
            }
            loop {
                if *state.stopping.borrow() {
                    return None;
                }
                let challenge = state.store.find_challenge(&cid).await.ok().flatten();
                let now = state.clock.now();
                let Some(c) = challenge else {
                    let ev = Event::default().event("done").data("gone");
                    return Some((Ok::<_, Infallible>(ev), (state, cid, rx, last, true)));
                };
                if c.status(now) != Status::Pending {
                    let ev = Event::default().event("done").data("resolved");
                    return Some((Ok(ev), (state, cid, rx, last, true)));
                }
                let progress = c.progress(now);
                if progress != last {
                    let ev = Event::default().event("status").data(progress.clone());
                    return Some((Ok(ev), (state, cid, rx, progress, false)));
                }
                // Woken by a change, or every second (expiry is a matter of the clock).
                let _ = tokio::time::timeout(std::time::Duration::from_secs(1), rx.recv()).await;
            }
        },
    );
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}
