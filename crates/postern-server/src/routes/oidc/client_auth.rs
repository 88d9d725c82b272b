//! Client authentication at the token, revocation and introspection endpoints:
//! `client_secret_basic`, `client_secret_post`, or `none` (a public client naming itself).
//! Using two methods at once is refused (RFC 6749 §2.3).

use crate::state::AppState;
use axum::http::{HeaderMap, header};
use postern_core::ErrorCode;
use postern_core::client::{Client, ClientKind};
use postern_core::oidc::params::Params;

/// An authenticated (or, for public clients, identified) client.
pub struct AuthenticatedClient {
    pub client: std::sync::Arc<Client>,
    /// True when a secret was checked.
    pub confidential: bool,
}

/// Authenticates the calling client.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    params: &Params,
) -> Result<AuthenticatedClient, (ErrorCode, String)> {
    let basic = match headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        Some(v) if v.len() > 6 && v[..6].eq_ignore_ascii_case("basic ") => {
            Some(parse_basic(&v[6..])?)
        }
        _ => None,
    };
    let (id, secret) = match (basic, params.get("client_secret")) {
        (Some(_), Some(_)) => {
            return Err((
                ErrorCode::InvalidRequest,
                "use one client authentication method, not both Basic and client_secret".into(),
            ));
        }
        (Some((id, secret)), None) => {
            if params.get("client_id").is_some_and(|p| p != id) {
                return Err((
                    ErrorCode::InvalidRequest,
                    "client_id differs from the Basic credentials".into(),
                ));
            }
            (id, Some(secret))
        }
        (None, secret) => match params.get("client_id") {
            Some(id) => (id.to_owned(), secret.map(str::to_owned)),
            None => {
                return Err((
                    ErrorCode::InvalidClientSecret,
                    "client authentication is missing".into(),
                ));
            }
        },
    };
    let client = state
        .clients
        .find(&state.store, &id)
        .await
        .map_err(|e| crate::http::errors::store_refusal(&e))?
        // The same answer as a wrong secret (RFC 6749 §5.2), so client ids cannot be probed.
        .ok_or((
            ErrorCode::InvalidClientSecret,
            "client authentication failed".to_owned(),
        ))?;
    match (client.kind, secret) {
        (ClientKind::Confidential, Some(s)) if client.secret_matches(&s) => {
            Ok(AuthenticatedClient {
                client,
                confidential: true,
            })
        }
        (ClientKind::Confidential, _) => Err((
            ErrorCode::InvalidClientSecret,
            "client authentication failed".into(),
        )),
        (ClientKind::Public, None) => Ok(AuthenticatedClient {
            client,
            confidential: false,
        }),
        (ClientKind::Public, Some(_)) => Err((
            ErrorCode::InvalidClientSecret,
            "a public client has no secret; send only client_id".into(),
        )),
    }
}

/// `Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 §2.3.1).
fn parse_basic(encoded: &str) -> Result<(String, String), (ErrorCode, String)> {
    let bad = || {
        (
            ErrorCode::InvalidClientSecret,
            "malformed Basic credentials".to_owned(),
        )
    };
    let raw = data_encoding::BASE64
        .decode(encoded.trim().as_bytes())
        .map_err(|_| bad())?;
    let raw = String::from_utf8(raw).map_err(|_| bad())?;
    let (id, secret) = raw.split_once(':').ok_or_else(bad)?;
    let decode = |s: &str| -> Result<String, (ErrorCode, String)> {
        let p = Params::parse(format!("v={s}").as_bytes()).map_err(|_| bad())?;
        Ok(p.get("v").unwrap_or_default().to_owned())
    };
    Ok((decode(id)?, decode(secret)?))
}

/// A back-channel token request (revocation, introspection): an authenticated client and the
/// `token` it asks about.
pub struct TokenRequest {
    pub client: AuthenticatedClient,
    pub token: String,
}

/// Parses a revocation or introspection request: a form body, an authenticated client and a
/// `token` parameter. Refusals are ready-made OAuth error responses.
pub async fn token_request(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
    ctx: &crate::http::errors::ErrorContext,
) -> Result<TokenRequest, axum::response::Response> {
    use crate::http::errors::refusal_json;
    let params = crate::http::forms::form(headers, body)
        .map_err(|(code, detail)| refusal_json(code, &detail, ctx))?;
    let client = authenticate(state, headers, &params)
        .await
        .map_err(|(code, detail)| refusal_json(code, &detail, ctx))?;
    let token = params
        .get("token")
        .ok_or_else(|| refusal_json(ErrorCode::MissingParameter, "token is missing", ctx))?
        .to_owned();
    Ok(TokenRequest { client, token })
}
