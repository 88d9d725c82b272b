//! `/token`: the authorization-code grant (with PKCE), refresh-token rotation with reuse
//! detection, and client credentials for confidential clients.

use super::client_auth::{self, AuthenticatedClient};
use crate::http::errors::{self, ErrorContext};
use crate::http::{ClientInfo, RequestId, forms};
use crate::metrics::Metrics;
use crate::signin::log;
use crate::state::AppState;
use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use postern_core::ErrorCode;
use postern_core::client::ClientKind;
use postern_core::oidc::claims::{AccessToken, Authentication, IdToken};
use postern_core::oidc::jws::SigningAlg;
use postern_core::oidc::params::Params;
use postern_core::oidc::token::{RefreshDecision, RefreshToken};
use postern_core::random;
use postern_core::secret::hash_token;
use postern_core::signin_log::StepResult;
use postern_store::StoreError;
use serde_json::{Value, json};
use time::Duration;

/// A refusal: code and description.
type Refusal = (ErrorCode, String);

pub async fn token(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    Extension(info): Extension<ClientInfo>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut ctx = ErrorContext::new(&state, &rid);
    if !state.token_limiter.allow(info.ip) {
        Metrics::inc(&state.metrics.rate_limited);
        return errors::oauth_json(
            ErrorCode::RateLimited,
            "too many token requests from this address",
            &ctx,
        );
    }
    let result = async {
        let params = forms::form(&headers, &body)?;
        let client = client_auth::authenticate(&state, &headers, &params).await?;
        match params.get("grant_type") {
            None => Err((ErrorCode::MissingParameter, "grant_type is missing".into())),
            Some("authorization_code") => {
                authorization_code(&state, &client, &params, &rid, &mut ctx).await
            }
            Some("refresh_token") => refresh(&state, &client, &params).await,
            Some("client_credentials") => client_credentials(&state, &client, &params),
            Some(other) => Err((
                ErrorCode::UnsupportedGrantType,
                format!(
                    "grant_type '{}' is not supported",
                    other.chars().take(60).collect::<String>()
                ),
            )),
        }
    }
    .await;
    match result {
        Ok(body) => {
            let mut res = axum::Json(body).into_response();
            res.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            res.headers_mut()
                .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            res
        }
        Err((code @ (ErrorCode::ServerError | ErrorCode::DatabaseUnavailable), detail)) => {
            errors::refusal_json(code, &detail, &ctx)
        }
        Err((code, detail)) => {
            Metrics::inc(&state.metrics.token_errors);
            errors::oauth_json(code, &detail, &ctx)
        }
    }
}

/// Adds a token step to the sign-in the code belongs to (best effort: the grant's answer does not
/// depend on the log).
async fn note(
    state: &AppState,
    correlation_id: &str,
    request_id: &str,
    result: StepResult,
    detail: String,
) {
    let step = log::Step::new("token", result, detail);
    if let Err(e) = log::record(state, correlation_id, request_id, vec![step], None).await {
        tracing::warn!(error = %e, "could not write the sign-in log");
    }
}

/// The grant's user, if it still exists and is enabled.
async fn active_user(state: &AppState, user_id: &str) -> Result<postern_core::user::User, Refusal> {
    state
        .store
        .find_user_by_id(user_id)
        .await
        .map_err(store_err)?
        .filter(|u| !u.disabled)
        .ok_or((
            ErrorCode::InvalidGrant,
            "the user no longer exists or is disabled".to_owned(),
        ))
}

fn store_err(e: StoreError) -> Refusal {
    errors::store_refusal(&e)
}

async fn authorization_code(
    state: &AppState,
    client: &AuthenticatedClient,
    params: &Params,
    rid: &RequestId,
    ctx: &mut ErrorContext,
) -> Result<Value, Refusal> {
    let code = params
        .get("code")
        .ok_or((ErrorCode::MissingParameter, "code is missing".to_owned()))?;
    let now = state.clock.now();
    let stored = state
        .store
        .find_auth_code(&hash_token(code))
        .await
        .map_err(store_err)?
        .ok_or((
            ErrorCode::InvalidGrant,
            "the authorization code is unknown".to_owned(),
        ))?;
    ctx.correlation_id = Some(stored.correlation_id.clone());
    let checked = stored.check_redeemable(
        &client.client.id,
        params.get("redirect_uri"),
        params.get("code_verifier"),
        now,
    );
    let first = match checked {
        Ok(()) => state
            .store
            .redeem_auth_code(&stored.code_hash)
            .await
            .map_err(store_err)?,
        Err((ErrorCode::CodeAlreadyRedeemed, _)) => false,
        Err((code, detail)) => {
            note(
                state,
                &stored.correlation_id,
                &rid.0,
                StepResult::Failure,
                detail.to_owned(),
            )
            .await;
            return Err((code, detail.to_owned()));
        }
    };
    if !first {
        // A second redemption: someone else may hold the code. Revoke what the first one issued.
        state
            .store
            .revoke_token_family(&stored.family_id, now)
            .await
            .map_err(store_err)?;
        let detail = "the authorization code was presented a second time; the tokens issued for it were revoked";
        note(
            state,
            &stored.correlation_id,
            &rid.0,
            StepResult::Failure,
            detail.to_owned(),
        )
        .await;
        return Err((
            ErrorCode::CodeAlreadyRedeemed,
            "the authorization code was already redeemed".into(),
        ));
    }
    let user = active_user(state, &stored.user_id).await?;
    let auth = stored.authentication();
    let issued = log::Step::new(
        "token",
        StepResult::Success,
        format!("tokens issued to '{}'", client.client.name),
    );
    let prepared = log::prepare(state, &rid.0, vec![issued], None);
    let record = prepared.record(&stored.correlation_id);
    let grant = Grant {
        user: &user,
        auth: &auth,
        scope: &stored.scope,
        family_id: &stored.family_id,
    };
    let body = issue(state, client, &grant, stored.nonce.as_deref(), &record).await?;
    Metrics::inc(&state.metrics.grant_code);
    Ok(body)
}

async fn refresh(
    state: &AppState,
    client: &AuthenticatedClient,
    params: &Params,
) -> Result<Value, Refusal> {
    let presented = params.get("refresh_token").ok_or((
        ErrorCode::MissingParameter,
        "refresh_token is missing".to_owned(),
    ))?;
    let now = state.clock.now();
    let stored = state
        .store
        .find_refresh_token(&hash_token(presented))
        .await
        .map_err(store_err)?
        .ok_or((
            ErrorCode::InvalidGrant,
            "the refresh token is unknown".to_owned(),
        ))?;
    match stored.decide(&client.client.id, now) {
        RefreshDecision::Rotate => {}
        RefreshDecision::ReuseDetected => {
            state
                .store
                .revoke_token_family(&stored.family_id, now)
                .await
                .map_err(store_err)?;
            tracing::warn!(client_id = %client.client.id, family = %stored.family_id, "refresh token reuse: family revoked");
            return Err((
                ErrorCode::RefreshTokenReused,
                "the refresh token was already used; every token of its sign-in was revoked".into(),
            ));
        }
        RefreshDecision::Refuse(code, detail) => return Err((code, detail.to_owned())),
    }
    let scope = narrowed_scope(&stored.scope, params.get("scope"))?;
    let user = active_user(state, &stored.user_id).await?;
    let auth = stored.authentication();
    let (new_token, new_row) =
        new_refresh_token(state, client, &auth, &stored.scope, &stored.family_id);
    if !state
        .store
        .rotate_refresh_token(&stored.token_hash, &new_row)
        .await
        .map_err(store_err)?
    {
        // Lost a race with another use of the same token: treat as reuse.
        state
            .store
            .revoke_token_family(&stored.family_id, now)
            .await
            .map_err(store_err)?;
        return Err((
            ErrorCode::RefreshTokenReused,
            "the refresh token was already used".into(),
        ));
    }
    let grant = Grant {
        user: &user,
        auth: &auth,
        scope: &scope,
        family_id: &stored.family_id,
    };
    let mut body = tokens(state, client, &grant, None, None, None).await?;
    body["refresh_token"] = Value::String(new_token);
    Metrics::inc(&state.metrics.grant_refresh);
    Ok(body)
}

fn client_credentials(
    state: &AppState,
    client: &AuthenticatedClient,
    params: &Params,
) -> Result<Value, Refusal> {
    if client.client.kind != ClientKind::Confidential || !client.confidential {
        return Err((
            ErrorCode::UnsupportedGrantType,
            "client_credentials needs a confidential client".into(),
        ));
    }
    let scope: Vec<String> = params
        .get("scope")
        .unwrap_or_default()
        .split(' ')
        .filter(|s| {
            !s.is_empty() && !matches!(*s, "openid" | "profile" | "email" | "offline_access")
        })
        .map(str::to_owned)
        .collect();
    let now = state.clock.now();
    let jti = random::token(&*state.rng, 16);
    let key = state
        .keys
        .active(SigningAlg::ES256)
        .ok_or((ErrorCode::ServerError, "no ES256 key".to_owned()))?;
    let claims = AccessToken {
        issuer: &state.issuer,
        client_id: &client.client.id,
        subject: &client.client.id,
        auth: None,
        scope: &scope,
        jti: &jti,
        now,
        lifetime_secs: state.config.tokens.access_token_seconds,
    }
    .claims();
    Metrics::inc(&state.metrics.grant_client_credentials);
    let mut body = json!({
        "access_token": key.sign("at+jwt", &claims),
        "token_type": "Bearer",
        "expires_in": state.config.tokens.access_token_seconds,
    });
    if !scope.is_empty() {
        body["scope"] = scope.join(" ").into();
    }
    Ok(body)
}

/// A refresh request may narrow the scope, never widen it.
fn narrowed_scope(granted: &[String], requested: Option<&str>) -> Result<Vec<String>, Refusal> {
    let Some(requested) = requested else {
        return Ok(granted.to_vec());
    };
    let asked: Vec<String> = requested
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if let Some(extra) = asked.iter().find(|s| !granted.contains(s)) {
        return Err((
            ErrorCode::InvalidScope,
            format!("the scope '{extra}' was not granted originally"),
        ));
    }
    Ok(asked)
}

fn new_refresh_token(
    state: &AppState,
    client: &AuthenticatedClient,
    auth: &Authentication,
    scope: &[String],
    family_id: &str,
) -> (String, RefreshToken) {
    let now = state.clock.now();
    let token = random::token(&*state.rng, 32);
    let row = RefreshToken {
        token_hash: hash_token(&token),
        family_id: family_id.to_owned(),
        client_id: client.client.id.clone(),
        user_id: auth.user_id.clone(),
        scope: scope.to_vec(),
        auth_time: auth.auth_time,
        amr: auth.amr.clone(),
        created: now,
        // Sliding, but never past an absolute limit counted from the sign-in itself: a stolen
        // family cannot be kept alive for ever by using it.
        expires: (now + Duration::days(state.config.tokens.refresh_token_days))
            .min(auth.auth_time + Duration::days(state.config.tokens.refresh_family_days)),
        used: false,
        revoked: false,
    };
    (token, row)
}

/// Whose tokens a user grant issues, and from which sign-in family.
struct Grant<'a> {
    user: &'a postern_core::user::User,
    auth: &'a Authentication,
    scope: &'a [String],
    family_id: &'a str,
}

/// Issues ID, access and refresh tokens for a redeemed code, with the request's log record.
async fn issue(
    state: &AppState,
    client: &AuthenticatedClient,
    grant: &Grant<'_>,
    nonce: Option<&str>,
    log: &postern_store::SignInRecord<'_>,
) -> Result<Value, Refusal> {
    let (refresh_token, row) =
        new_refresh_token(state, client, grant.auth, grant.scope, grant.family_id);
    let mut body = tokens(state, client, grant, nonce, Some(&row), Some(log)).await?;
    body["refresh_token"] = Value::String(refresh_token);
    Ok(body)
}

/// The ID token and access token of a user grant; stores `refresh` (when the grant made one)
/// together with the access token's family link and the request's log record, in one transaction.
async fn tokens(
    state: &AppState,
    client: &AuthenticatedClient,
    grant: &Grant<'_>,
    nonce: Option<&str>,
    refresh: Option<&RefreshToken>,
    log: Option<&postern_store::SignInRecord<'_>>,
) -> Result<Value, Refusal> {
    let Grant {
        user,
        auth,
        scope,
        family_id,
    } = *grant;
    let now = state.clock.now();
    let cfg = &state.config.tokens;
    let id_key = state.keys.active(client.client.id_token_alg).ok_or((
        ErrorCode::ServerError,
        format!("no {} key", client.client.id_token_alg),
    ))?;
    let at_key = state
        .keys
        .active(SigningAlg::ES256)
        .ok_or((ErrorCode::ServerError, "no ES256 key".to_owned()))?;
    let jti = random::token(&*state.rng, 16);
    let id_token = id_key.sign(
        "JWT",
        &IdToken {
            issuer: &state.issuer,
            client_id: &client.client.id,
            user,
            auth,
            scope,
            nonce,
            now,
            lifetime_secs: cfg.id_token_seconds,
        }
        .claims(),
    );
    let access_token = at_key.sign(
        "at+jwt",
        &AccessToken {
            issuer: &state.issuer,
            client_id: &client.client.id,
            subject: &user.id,
            auth: Some(auth),
            scope,
            jti: &jti,
            now,
            lifetime_secs: cfg.access_token_seconds,
        }
        .claims(),
    );
    state
        .store
        .record_grant(
            refresh,
            &jti,
            family_id,
            now + Duration::seconds(cfg.access_token_seconds),
            log,
        )
        .await
        .map_err(store_err)?;
    Ok(json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": cfg.access_token_seconds,
        "id_token": id_token,
        "scope": scope.join(" "),
    }))
}
