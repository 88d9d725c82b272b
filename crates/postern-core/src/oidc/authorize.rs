//! The authorization request (`/authorize`): parsing and validation.
//!
//! Two kinds of failure, as RFC 6749 §4.1.2.1 demands: while the client or its redirect URI is not
//! established the error is shown on Postern's own page and **never redirects**; after that, errors
//! go back to the application's redirect URI with `error`, `error_description` and `state`.

use super::params::Params;
use super::pkce;
use crate::client::{Client, ClientKind};
use postern_proto::ErrorCode;
use serde::{Deserialize, Serialize};

/// `prompt`: `none` (silent), `login` (always ask again) or the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Prompt {
    #[default]
    Default,
    None,
    Login,
}

/// A validated authorization request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizeRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    /// S256 challenge (required for public clients).
    pub code_challenge: Option<String>,
    pub prompt: Prompt,
    pub max_age: Option<u64>,
    pub login_hint: Option<String>,
}

impl AuthorizeRequest {
    pub fn has_scope(&self, s: &str) -> bool {
        self.scope.iter().any(|x| x == s)
    }
}

/// A failed authorization request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeError {
    /// Show Postern's error page; do not redirect.
    Page { code: ErrorCode, detail: String },
    /// Redirect to the application with the error.
    Redirect {
        redirect_uri: String,
        state: Option<String>,
        code: ErrorCode,
        detail: String,
    },
}

/// Scopes Postern understands; others are ignored (RFC 6749 §3.3 lets the server narrow scope).
pub const SUPPORTED_SCOPES: &[&str] = &["openid", "profile", "email", "offline_access"];

/// Validates an authorization request. `find_client` looks a client up by id.
pub fn validate(
    params: &Params,
    find_client: impl FnOnce(&str) -> Option<Client>,
) -> Result<(AuthorizeRequest, Client), AuthorizeError> {
    let page = |code, detail: &str| AuthorizeError::Page {
        code,
        detail: detail.to_owned(),
    };
    let client_id = params
        .get("client_id")
        .ok_or_else(|| page(ErrorCode::MissingParameter, "client_id is missing"))?;
    let client = find_client(client_id).ok_or_else(|| {
        page(
            ErrorCode::UnknownClient,
            &format!(
                "no application is registered with client_id '{}'",
                short(client_id)
            ),
        )
    })?;
    let redirect_uri = params
        .get("redirect_uri")
        .ok_or_else(|| page(ErrorCode::MissingParameter, "redirect_uri is missing"))?;
    if !client.has_redirect_uri(redirect_uri) {
        return Err(page(
            ErrorCode::RedirectUriMismatch,
            &format!(
                "the redirect URI '{}' is not registered for the application '{}'",
                short(redirect_uri),
                client.name
            ),
        ));
    }

    let state = params.get("state").map(str::to_owned);
    let redirect = |code, detail: &str| AuthorizeError::Redirect {
        redirect_uri: redirect_uri.to_owned(),
        state: state.clone(),
        code,
        detail: detail.to_owned(),
    };

    match params.get("response_type") {
        None => {
            return Err(redirect(
                ErrorCode::MissingParameter,
                "response_type is missing",
            ));
        }
        Some("code") => {}
        Some(_) => {
            return Err(redirect(
                ErrorCode::UnsupportedResponseType,
                "only response_type=code is supported",
            ));
        }
    }
    if let Some(mode) = params.get("response_mode")
        && mode != "query"
    {
        return Err(redirect(
            ErrorCode::InvalidRequest,
            "only response_mode=query is supported",
        ));
    }
    // OIDC Core §3.1.2.6: each has its own error (discovery says neither is supported).
    if params.get("request").is_some() {
        return Err(redirect(
            ErrorCode::RequestNotSupported,
            "request objects are not supported",
        ));
    }
    if params.get("request_uri").is_some() {
        return Err(redirect(
            ErrorCode::RequestUriNotSupported,
            "request_uri is not supported",
        ));
    }

    let scope: Vec<String> = params
        .get("scope")
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if !scope.iter().any(|s| s == "openid") {
        return Err(redirect(
            ErrorCode::InvalidScope,
            "the scope must include 'openid'",
        ));
    }
    let mut granted: Vec<String> = Vec::new();
    for s in scope {
        if SUPPORTED_SCOPES.contains(&s.as_str()) && !granted.contains(&s) {
            granted.push(s);
        }
    }

    let code_challenge = match (
        params.get("code_challenge"),
        params.get("code_challenge_method"),
    ) {
        (None, None) if client.kind == ClientKind::Public => {
            return Err(redirect(
                ErrorCode::InvalidRequest,
                "PKCE is required for public clients: send code_challenge with code_challenge_method=S256",
            ));
        }
        (None, None) => None,
        (None, Some(_)) => {
            return Err(redirect(
                ErrorCode::MissingParameter,
                "code_challenge is missing",
            ));
        }
        (Some(_), Some("plain")) | (Some(_), None) => {
            return Err(redirect(
                ErrorCode::InvalidRequest,
                "the PKCE method 'plain' is refused: use code_challenge_method=S256",
            ));
        }
        (Some(c), Some("S256")) => {
            if !pkce::is_valid_challenge(c) {
                return Err(redirect(
                    ErrorCode::InvalidRequest,
                    "code_challenge is not a valid S256 challenge",
                ));
            }
            Some(c.to_owned())
        }
        (Some(_), Some(_)) => {
            return Err(redirect(
                ErrorCode::InvalidRequest,
                "code_challenge_method must be S256",
            ));
        }
    };

    let prompt =
        parse_prompt(params.get("prompt")).map_err(|d| redirect(ErrorCode::InvalidRequest, d))?;
    let max_age = match params.get("max_age") {
        None => None,
        Some(v) => Some(v.parse::<u64>().map_err(|_| {
            redirect(
                ErrorCode::InvalidRequest,
                "max_age must be a number of seconds",
            )
        })?),
    };

    let request = AuthorizeRequest {
        client_id: client.id.clone(),
        redirect_uri: redirect_uri.to_owned(),
        scope: granted,
        state,
        nonce: params.get("nonce").map(str::to_owned),
        code_challenge,
        prompt,
        max_age,
        login_hint: params.get("login_hint").map(str::to_owned),
    };
    Ok((request, client))
}

/// `prompt` is a space-separated list; `none` must stand alone. `select_account` asks for a fresh
/// sign-in like `login`; `consent` needs nothing (Postern's applications are first-party).
fn parse_prompt(raw: Option<&str>) -> Result<Prompt, &'static str> {
    let Some(raw) = raw else {
        return Ok(Prompt::Default);
    };
    let values: Vec<&str> = raw.split(' ').filter(|s| !s.is_empty()).collect();
    if values.contains(&"none") {
        return if values.len() == 1 {
            Ok(Prompt::None)
        } else {
            Err("prompt=none cannot be combined with other values")
        };
    }
    let mut prompt = Prompt::Default;
    for v in values {
        match v {
            "login" | "select_account" => prompt = Prompt::Login,
            "consent" => {}
            _ => return Err("prompt must be none, login, select_account or consent"),
        }
    }
    Ok(prompt)
}

fn short(s: &str) -> String {
    let mut out: String = s.chars().take(200).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oidc::jws::SigningAlg;

    fn client(kind: ClientKind) -> Client {
        Client {
            id: "hub".into(),
            name: "Learning Hub".into(),
            kind,
            secret_hash: None,
            redirect_uris: vec!["https://hub.example/cb".into()],
            post_logout_redirect_uris: vec![],
            id_token_alg: SigningAlg::RS256,
            created: time::OffsetDateTime::UNIX_EPOCH,
        }
    }

    fn run(q: &str, kind: ClientKind) -> Result<(AuthorizeRequest, Client), AuthorizeError> {
        let params = Params::parse(q.as_bytes()).unwrap();
        validate(&params, |id| (id == "hub").then(|| client(kind)))
    }

    const CH: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    proptest::proptest! {
        /// Whatever the query, validation never panics, and an error only ever redirects to the
        /// registered redirect URI.
        #[test]
        fn never_redirects_anywhere_else(
            pairs in proptest::collection::vec(
                (
                    proptest::sample::select(vec![
                        "client_id", "redirect_uri", "response_type", "scope", "state", "nonce",
                        "code_challenge", "code_challenge_method", "prompt", "max_age", "response_mode",
                        "request", "login_hint",
                    ]),
                    proptest::prop_oneof![
                        proptest::strategy::Just("hub".to_owned()),
                        proptest::strategy::Just("https://hub.example/cb".to_owned()),
                        proptest::strategy::Just("code".to_owned()),
                        proptest::strategy::Just("openid".to_owned()),
                        proptest::strategy::Just("S256".to_owned()),
                        proptest::strategy::Just(CH.to_owned()),
                        "\\PC{0,40}",
                    ],
                ),
                0..12,
            ),
            public in proptest::bool::ANY,
        ) {
            let query: Vec<String> = pairs
                .iter()
                .map(|(k, v)| format!("{k}={}", url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()))
                .collect();
            let Ok(params) = Params::parse(query.join("&").as_bytes()) else { return Ok(()) };
            let kind = if public { ClientKind::Public } else { ClientKind::Confidential };
            match validate(&params, |id| (id == "hub").then(|| client(kind))) {
                Ok((req, _)) => {
                    proptest::prop_assert_eq!(req.redirect_uri.as_str(), "https://hub.example/cb");
                    proptest::prop_assert!(req.scope.iter().any(|s| s == "openid"));
                    if public {
                        proptest::prop_assert!(req.code_challenge.is_some(), "public clients always use PKCE");
                    }
                }
                Err(AuthorizeError::Redirect { redirect_uri, .. }) => {
                    proptest::prop_assert_eq!(redirect_uri.as_str(), "https://hub.example/cb");
                }
                Err(AuthorizeError::Page { .. }) => {}
            }
        }
    }

    #[test]
    fn request_objects_get_their_own_errors() {
        let base = format!(
            "client_id=hub&redirect_uri=https%3A%2F%2Fhub.example%2Fcb&response_type=code&scope=openid&code_challenge={CH}&code_challenge_method=S256"
        );
        for (extra, expected, oauth) in [
            (
                "request=eyJ",
                ErrorCode::RequestNotSupported,
                "request_not_supported",
            ),
            (
                "request_uri=https%3A%2F%2Fhub.example%2Fr",
                ErrorCode::RequestUriNotSupported,
                "request_uri_not_supported",
            ),
        ] {
            match run(&format!("{base}&{extra}"), ClientKind::Public) {
                Err(AuthorizeError::Redirect { code, .. }) => {
                    assert_eq!(code, expected);
                    assert_eq!(code.info().oauth_error, oauth);
                }
                other => panic!("{extra}: {other:?}"),
            }
        }
    }

    #[test]
    fn valid_public_request() {
        let q = format!(
            "client_id=hub&redirect_uri=https%3A%2F%2Fhub.example%2Fcb&response_type=code&scope=openid+email+unknown&state=s&nonce=n&code_challenge={CH}&code_challenge_method=S256&prompt=login&max_age=30"
        );
        let (req, _) = run(&q, ClientKind::Public).unwrap();
        assert_eq!(req.scope, vec!["openid", "email"]);
        assert_eq!(req.prompt, Prompt::Login);
        assert_eq!(req.max_age, Some(30));
        assert_eq!(req.code_challenge.as_deref(), Some(CH));
    }

    #[test]
    fn never_redirects_to_unverified_places() {
        let e = run(
            "client_id=nope&redirect_uri=https%3A%2F%2Fevil",
            ClientKind::Public,
        )
        .unwrap_err();
        assert!(matches!(
            e,
            AuthorizeError::Page {
                code: ErrorCode::UnknownClient,
                ..
            }
        ));
        let e = run(
            "client_id=hub&redirect_uri=https%3A%2F%2Fevil",
            ClientKind::Public,
        )
        .unwrap_err();
        assert!(matches!(
            e,
            AuthorizeError::Page {
                code: ErrorCode::RedirectUriMismatch,
                ..
            }
        ));
        let e = run("client_id=hub", ClientKind::Public).unwrap_err();
        assert!(matches!(
            e,
            AuthorizeError::Page {
                code: ErrorCode::MissingParameter,
                ..
            }
        ));
    }

    #[test]
    fn pkce_rules() {
        let base = "client_id=hub&redirect_uri=https%3A%2F%2Fhub.example%2Fcb&response_type=code&scope=openid&state=xyz";
        let e = run(base, ClientKind::Public).unwrap_err();
        let AuthorizeError::Redirect { code, state, .. } = e else {
            panic!()
        };
        assert_eq!(code, ErrorCode::InvalidRequest);
        assert_eq!(state.as_deref(), Some("xyz"));
        let e = run(
            &format!("{base}&code_challenge={CH}&code_challenge_method=plain"),
            ClientKind::Public,
        )
        .unwrap_err();
        assert!(matches!(
            e,
            AuthorizeError::Redirect {
                code: ErrorCode::InvalidRequest,
                ..
            }
        ));
        let e = run(&format!("{base}&code_challenge={CH}"), ClientKind::Public).unwrap_err();
        assert!(matches!(
            e,
            AuthorizeError::Redirect {
                code: ErrorCode::InvalidRequest,
                ..
            }
        ));
        assert!(
            run(base, ClientKind::Confidential).is_ok(),
            "PKCE is optional for confidential clients"
        );
    }

    #[test]
    fn other_errors_redirect() {
        let base = "client_id=hub&redirect_uri=https%3A%2F%2Fhub.example%2Fcb";
        let e = run(
            &format!("{base}&response_type=token&scope=openid"),
            ClientKind::Confidential,
        )
        .unwrap_err();
        assert!(matches!(
            e,
            AuthorizeError::Redirect {
                code: ErrorCode::UnsupportedResponseType,
                ..
            }
        ));
        let e = run(
            &format!("{base}&response_type=code&scope=email"),
            ClientKind::Confidential,
        )
        .unwrap_err();
        assert!(matches!(
            e,
            AuthorizeError::Redirect {
                code: ErrorCode::InvalidScope,
                ..
            }
        ));
        let e = run(
            &format!("{base}&response_type=code&scope=openid&prompt=none+login"),
            ClientKind::Confidential,
        )
        .unwrap_err();
        assert!(matches!(
            e,
            AuthorizeError::Redirect {
                code: ErrorCode::InvalidRequest,
                ..
            }
        ));
        let e = run(
            &format!("{base}&response_type=code&scope=openid&max_age=-1"),
            ClientKind::Confidential,
        )
        .unwrap_err();
        assert!(matches!(
            e,
            AuthorizeError::Redirect {
                code: ErrorCode::InvalidRequest,
                ..
            }
        ));
    }
}
