//! The changes a user makes on Security info: add an authenticator app, (re)generate recovery
//! codes, set the default method, remove a method, revoke remembered devices, sign out everywhere.
//! Each answers with a redirect back to the page (post/redirect/get) or a page of its own.

use super::{Account, check_form, needs_fresh_sign_in, render, signed_in};
use crate::http::RequestId;
use crate::http::cookies;
use crate::http::errors::{self, ErrorContext};
use crate::methods::recovery;
use crate::methods::totp::{self, Finished};
use crate::pages::{self, RecoveryCodesPage, TotpEnrollPage};
use crate::passkeys;
use crate::signin;
use crate::state::AppState;
use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use postern_core::ErrorCode;
use postern_store::{MethodRemoval, StoreError};

/// Whether a change needs a session with a second factor behind it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Guard {
    /// Changes to sign-in methods.
    SecondFactor,
    /// Protective actions (sign out, forget devices): any session may.
    Session,
}

/// Runs a Security info change for the signed-in account: `None` fields means a GET.
async fn with_account<F, Fut>(
    state: AppState,
    rid: RequestId,
    headers: HeaderMap,
    form: Option<(&Bytes, &[&str])>,
    guard: Guard,
    change: F,
) -> Response
where
    F: FnOnce(AppState, Account, postern_core::oidc::params::Params, ErrorContext) -> Fut,
    Fut: std::future::Future<Output = Result<Response, StoreError>>,
{
    let ctx = ErrorContext::new(&state, &rid);
    let account = match signed_in(&state, &headers).await {
        Err(e) => return errors::internal(&state, &e, &ctx),
        Ok(Err(to_sign_in)) => return to_sign_in,
        Ok(Ok(a)) => a,
    };
    let params = match form {
        Some((body, fields)) => match check_form(&state, &account, &headers, body, fields, &ctx) {
            Ok(p) => p,
            Err(refused) => return *refused,
        },
        None => Default::default(),
    };
    let methods = match state.store.list_methods(&account.user.id).await {
        Ok(m) => m,
        Err(e) => return errors::internal(&state, &e, &ctx),
    };
    if guard == Guard::SecondFactor && !account.may_change(&methods) {
        return needs_fresh_sign_in(&state);
    }
    let ctx2 = ErrorContext::new(&state, &rid);
    change(state.clone(), account, params, ctx2)
        .await
        .unwrap_or_else(|e| errors::internal(&state, &e, &ctx))
}

fn enroll_page(
    state: &AppState,
    account: &Account,
    enroll: totp::Enrollment,
    error: Option<pages::ErrorView>,
) -> Response {
    pages::render(&TotpEnrollPage {
        org: state.config.organisation.clone(),
        username: account.user.username.clone(),
        action: "/account/security/totp".into(),
        csrf: account.csrf(state),
        enroll: enroll.into(),
        error,
    })
}

/// `GET /account/security/totp`: the QR code and secret key of a new authenticator app.
pub async fn start_totp(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
) -> Response {
    with_account(
        state,
        rid,
        headers,
        None,
        Guard::SecondFactor,
        |state, account, _, _| async move {
            let enroll = totp::start(&state, &account.user);
            Ok(enroll_page(&state, &account, enroll, None))
        },
    )
    .await
}

/// `POST /account/security/totp`: the new app's code; saves the method if right.
pub async fn add_totp(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fields = ["csrf", "enrollment", "code", "name"];
    with_account(
        state,
        rid,
        headers,
        Some((&body, &fields)),
        Guard::SecondFactor,
        |state, account, params, ctx| async move {
            let token = params.get("enrollment").unwrap_or_default();
            let code = params.get("code").unwrap_or_default();
            let name = params.get("name").unwrap_or_default();
            let (enroll, view) =
                match totp::finish(&state, &account.user, token, code, name).await? {
                    Finished::Added(_) => {
                        // The new app's code is a second factor proven in this session.
                        let amr = postern_core::flow::amr_with(
                            &account.session.amr,
                            postern_core::credential::method::MethodKind::Totp,
                        );
                        state
                            .store
                            .update_session_amr(&account.session.id_hash, &amr)
                            .await?;
                        return Ok(signin::redirect("/account/security?notice=totp-added"));
                    }
                    Finished::AlreadyAdded => {
                        return Ok(signin::redirect("/account/security?notice=totp-added"));
                    }
                    Finished::WrongCode { .. } => (
                        totp::resume(&state, &account.user, token)
                            .unwrap_or_else(|| totp::start(&state, &account.user)),
                        ctx.view(
                            ErrorCode::WrongVerificationCode,
                            Some("Enter the code your app shows now for this account.".into()),
                        ),
                    ),
                    Finished::Stale => (
                        totp::start(&state, &account.user),
                        ctx.view(
                            ErrorCode::FlowExpired,
                            Some("That setup page had expired. Scan the new QR code below.".into()),
                        ),
                    ),
                };
            Ok(enroll_page(&state, &account, enroll, Some(view)))
        },
    )
    .await
}

/// The page that registers a passkey from Security info.
fn passkey_page(state: &AppState, account: &Account, error: Option<pages::ErrorView>) -> Response {
    pages::render(&pages::PasskeyPage {
        org: state.config.organisation.clone(),
        client_name: "Security info".into(),
        username: account.user.username.clone(),
        heading: "Add a passkey or security key".into(),
        instruction: "Create a passkey on this device, or touch your security key: your browser asks for your fingerprint, face, PIN or screen lock. Next time you sign in with it, nothing to type.".into(),
        button: "Create a passkey".into(),
        mode: "register",
        action: "/account/security/passkey".into(),
        options_url: "/account/security/passkey/options".into(),
        csrf: account.csrf(state),
        other_url: "/account/security".into(),
        other_label: "Back to Security info".into(),
        error,
    })
}

/// `GET /account/security/passkey`: "Add a passkey or security key".
pub async fn start_passkey(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
) -> Response {
    with_account(
        state,
        rid,
        headers,
        None,
        Guard::SecondFactor,
        |state, account, _, ctx| async move {
            let error = state
                .passkeys
                .unavailable()
                .map(|why| ctx.view(ErrorCode::InvalidRequest, Some(format!("{why}."))));
            Ok(passkey_page(&state, &account, error))
        },
    )
    .await
}

/// `POST /account/security/passkey/options`: the registration options for the page's script
/// (the user's passkeys excluded), the ceremony kept for this session.
pub async fn passkey_options(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    with_account(
        state,
        rid,
        headers,
        Some((&body, &["csrf"])),
        Guard::SecondFactor,
        |state, account, _, ctx| async move {
            if let Some(why) = state.passkeys.unavailable() {
                let why = Some(format!("{why}."));
                return Ok(errors::page(&state, ErrorCode::InvalidRequest, why, &ctx));
            }
            let methods = state.store.list_methods(&account.user.id).await?;
            let key = passkeys::session_key(&account.session.id_hash);
            let options = passkeys::register::start(&state, &key, &account.user, &methods).await?;
            let mut res = axum::Json(options).into_response();
            res.headers_mut().insert(
                header::CACHE_CONTROL,
                axum::http::HeaderValue::from_static("no-store"),
            );
            Ok(res)
        },
    )
    .await
}

/// `POST /account/security/passkey`: the browser's new credential; saved if it checks out and
/// the policy admits it.
pub async fn add_passkey(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fields = ["csrf", "credential", "name"];
    with_account(
        state,
        rid,
        headers,
        Some((&body, &fields)),
        Guard::SecondFactor,
        |state, account, params, ctx| async move {
            let answer = params.get("credential").unwrap_or_default();
            let name = params.get("name").unwrap_or_default();
            let key = passkeys::session_key(&account.session.id_hash);
            let refusal = if answer.is_empty() || answer.len() > 64 * 1024 {
                ctx.view(
                    ErrorCode::MissingParameter,
                    Some("The browser sent no passkey. Try again.".into()),
                )
            } else {
                match passkeys::register::finish(&state, &key, &account.user, answer, name).await? {
                    Ok(method) => {
                        let synced = matches!(
                            method.secret,
                            postern_core::credential::method::MethodSecret::Passkey {
                                synced: true,
                                ..
                            }
                        );
                        // The ceremony verified the user: a second factor proven in this session.
                        let amr = postern_core::flow::amr_plus(
                            &account.session.amr,
                            postern_core::credential::passkey::amr(synced),
                        );
                        state
                            .store
                            .update_session_amr(&account.session.id_hash, &amr)
                            .await?;
                        tracing::info!(user = %account.user.id, method = %method.id, "passkey registered");
                        return Ok(signin::redirect("/account/security?notice=passkey-added"));
                    }
                    Err(refused) => {
                        tracing::info!(user = %account.user.id, why = %refused.words(), "passkey registration refused");
                        ctx.view(refused.code(), Some(refused.shown()))
                    }
                }
            };
            Ok(passkey_page(&state, &account, Some(refusal)))
        },
    )
    .await
}

/// `POST /account/security/recovery-codes`: a new set, shown once (the old set stops working).
pub async fn create_recovery_codes(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    with_account(
        state,
        rid,
        headers,
        Some((&body, &["csrf"])),
        Guard::SecondFactor,
        |state, account, _, _| async move {
            let codes = recovery::generate(&state, &account.user.id).await?;
            let generated = postern_core::clock::iso8601(state.clock.now());
            let text = recovery::download_text(
                &state.config.organisation,
                &account.user.username,
                &codes,
                &generated,
            );
            let download_href = format!(
                "data:text/plain;charset=utf-8,{}",
                form_urlencoded::byte_serialize(text.as_bytes())
                    .collect::<String>()
                    .replace('+', "%20")
            );
            Ok(pages::render(&RecoveryCodesPage {
                org: state.config.organisation.clone(),
                codes,
                download_href,
                download_name: format!("{}-recovery-codes.txt", account.user.username),
            }))
        },
    )
    .await
}

/// `POST /account/security/default`: the method asked for first.
pub async fn set_default(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    with_account(
        state,
        rid,
        headers,
        Some((&body, &["csrf", "method"])),
        Guard::SecondFactor,
        |state, account, params, _| async move {
            let id = params.get("method").unwrap_or_default();
            let method = state.store.find_method(&account.user.id, id).await?;
            match method {
                Some(m) if m.kind().can_be_default() => {
                    state.store.set_default_method(&account.user.id, id).await?;
                    Ok(signin::redirect("/account/security?notice=default"))
                }
                Some(_) => {
                    let why =
                        "Recovery codes are for emergencies and cannot be the default method.";
                    render(&state, &account, None, Some(why), None).await
                }
                None => Ok(signin::redirect("/account/security")),
            }
        },
    )
    .await
}

/// `POST /account/security/rename`: a method's new name (a passkey's model name, say, replaced
/// by "Work laptop"). Recovery codes keep theirs.
pub async fn rename_method(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    with_account(
        state,
        rid,
        headers,
        Some((&body, &["csrf", "method", "name"])),
        Guard::SecondFactor,
        |state, account, params, _| async move {
            let id = params.get("method").unwrap_or_default();
            let name = crate::methods::clean_name(params.get("name").unwrap_or_default(), "");
            let Some(method) = state.store.find_method(&account.user.id, id).await? else {
                return Ok(signin::redirect("/account/security"));
            };
            if !method.kind().can_be_renamed() {
                let why = "Recovery codes cannot be renamed.";
                return render(&state, &account, None, Some(why), None).await;
            }
            if name.is_empty() {
                let why = "Give the method a name (up to 60 characters), or keep the one it has.";
                return render(&state, &account, None, Some(why), None).await;
            }
            state
                .store
                .rename_method(&account.user.id, id, &name)
                .await?;
            Ok(signin::redirect("/account/security?notice=renamed"))
        },
    )
    .await
}

/// `POST /account/security/remove`: removes a method, never the last way in while policy
/// requires a second factor.
pub async fn remove_method(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    with_account(
        state,
        rid,
        headers,
        Some((&body, &["csrf", "method"])),
        Guard::SecondFactor,
        |state, account, params, _| async move {
            let id = params.get("method").unwrap_or_default();
            match state
                .store
                .delete_method(&account.user.id, id, state.config.policy.mfa)
                .await?
            {
                MethodRemoval::Removed => {
                    // A removed Postern Authenticator's open connection ends now.
                    state
                        .wakeups
                        .wake_device(id, crate::push::wakeup::DeviceEvent::Revoked);
                    Ok(signin::redirect("/account/security?notice=removed"))
                }
                MethodRemoval::NotFound => Ok(signin::redirect("/account/security?notice=removed")),
                MethodRemoval::Refused(why) => {
                    render(&state, &account, None, Some(why.message()), None).await
                }
            }
        },
    )
    .await
}

/// `POST /account/security/forget-devices`: every remembered browser asks again.
pub async fn forget_devices(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    with_account(
        state,
        rid,
        headers,
        Some((&body, &["csrf"])),
        Guard::Session,
        |state, account, _, _| async move {
            state
                .store
                .delete_remembered_devices(&account.user.id)
                .await?;
            let mut res = signin::redirect("/account/security?notice=devices-forgotten");
            res.headers_mut().append(
                header::SET_COOKIE,
                cookies::clear(&state, signin::remember::COOKIE),
            );
            Ok(res)
        },
    )
    .await
}

/// `POST /account/security/sign-out-everywhere`: ends every session, refresh token and
/// remembered device of the user.
pub async fn sign_out_everywhere(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    with_account(state, rid, headers, Some((&body, &["csrf"])), Guard::Session, |state, account, _, _| async move {
        let user_id = &account.user.id;
        let (sessions, tokens) = signin::sign_out_everywhere(&state, user_id).await?;
        tracing::info!(user = %user_id, sessions, tokens, "signed out everywhere by the user");
        let mut res = pages::render(&pages::MessagePage {
            org: state.config.organisation.clone(),
            title: "Signed out everywhere".into(),
            paragraphs: vec![
                "Every browser and app signed in as you is signed out, and no device skips the second step any more. Apps already open may keep working for a few minutes, until their access expires.".into(),
            ],
            link: Some(("/account/security".into(), "Sign in again".into())),
        });
        let h = res.headers_mut();
        h.append(header::SET_COOKIE, cookies::clear(&state, cookies::SESSION));
        h.append(header::SET_COOKIE, cookies::clear(&state, signin::remember::COOKIE));
        Ok(res)
    })
    .await
}

/// `GET /account/security/push`: a single-use activation link (10 minutes) for the Postern
/// Authenticator, as a QR code and as text.
pub async fn add_push(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
) -> Response {
    with_account(
        state,
        rid,
        headers,
        None,
        Guard::SecondFactor,
        |state, account, _, _| async move {
            // An activation link gives a lasting factor: only from a sign-in of the last minutes.
            if state.clock.now() - account.session.auth_time > time::Duration::minutes(10) {
                return Ok(super::needs_fresh_sign_in(&state));
            }
            let url = crate::push::new_activation(&state, &account.user.id).await?;
            let expires = state.clock.now() + crate::push::ACTIVATION_LIFETIME;
            Ok(pages::render(&pages::PushEnrollPage {
                org: state.config.organisation.clone(),
                username: account.user.username.clone(),
                qr_svg: crate::methods::qr::svg(&url),
                url,
                expires: postern_core::clock::iso8601(expires),
                web_app_unavailable: crate::routes::web_authenticator::unavailable_reason(
                    &state.issuer,
                ),
                done_href: "/account/security".into(),
                done_label: "Back to Security info".into(),
            }))
        },
    )
    .await
}

/// `POST /account/security/push-unblock`: push requests back on after a report (needs a factor
/// proven in this session, like every change to sign-in methods).
pub async fn unblock_push(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    with_account(
        state,
        rid,
        headers,
        Some((&body, &["csrf"])),
        Guard::SecondFactor,
        |state, account, _, _| async move {
            let push = postern_store::PushState::default();
            state.store.set_push_state(&account.user.id, &push).await?;
            Ok(signin::redirect("/account/security?notice=push-on"))
        },
    )
    .await
}
