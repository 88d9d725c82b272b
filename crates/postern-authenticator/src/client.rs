//! The authenticator API client: activation, and the device-signed calls (pending requests,
//! shown, answer, device status, the event stream).
//!
//! Owns the HTTP edge only: building URLs under `{issuer}/api/authenticator/v1`, signing exactly
//! the bytes sent, and turning `ApiError` answers into [`ClientError`]s that say what to do.
//! It keeps no state between calls and never touches the vault; callers store what it returns.

use std::sync::Arc;
use std::time::Duration;

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use postern_proto::authenticator::{
    ACTIVATION_PATH, API_PREFIX, ActivateRequest, ActivateResponse, AnswerOutcome, AnswerRequest,
    AnswerResponse, ApiError, Decision, DeviceStatus, HEADER_DEVICE, HEADER_SIGNATURE,
    HEADER_TIMESTAMP, PendingList,
};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use url::Url;

use crate::account::{Account, PushDevice, Registration};
use crate::device_key::{DeviceKey, KeyError};
use crate::sse::{SseEvent, SseParser};
use crate::totp::Totp;

/// The app's version, sent at activation.
pub const APP_VERSION: &str = env!("CARGO_PKG_VERSION");

/// How long one ordinary API call may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Characters escaped in a path segment (a challenge id).
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}');

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("not an activation link: {0}")]
    InvalidLink(String),
    #[error("'{0}' has no push registration (it only shows codes)")]
    NotPush(String),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("cannot reach {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("{}", explain(error))]
    Api {
        status: u16,
        error: ApiError,
        /// The server's clock from the `Date` header, when it sent one (unix milliseconds).
        server_date_ms: Option<i64>,
    },
    #[error("the server answered {status} to {url}: {body}")]
    Http {
        url: String,
        status: u16,
        body: String,
    },
    #[error("unexpected answer from {url}: {reason}")]
    Protocol { url: String, reason: String },
}

impl ClientError {
    /// The API's error code (`unknown_device`, `clock_skew`, …) when the server sent one.
    pub fn api_code(&self) -> Option<&str> {
        match self {
            Self::Api { error, .. } => Some(&error.error),
            _ => None,
        }
    }

    /// The server no longer knows this device: it was removed from the account.
    pub fn is_unknown_device(&self) -> bool {
        self.api_code() == Some("unknown_device")
    }
}

/// The API's error codes in words, with what the user can do.
fn explain(error: &ApiError) -> String {
    let advice = match error.error.as_str() {
        "unknown_device" => {
            "this device was removed from the account; add it again from Security info"
        }
        "activation_invalid" => {
            "the activation link is not valid (links work once and for 10 minutes); open Security \
             info, add the authenticator app again and use the new link"
        }
        "bad_signature" => {
            "the server refused this device's signature (the vault's key does not match the \
             registration); remove the account and add it again from Security info"
        }
        "clock_skew" => {
            "this computer's clock is more than 60 s away from the server's, so signed requests \
             are refused; set the clock automatically (NTP) and try again"
        }
        "replayed" => "the server has seen this exact request before; try again",
        "not_found" => {
            "no such request for this device: it was answered, has expired, or was never sent here"
        }
        "rate_limited" => "too many requests; wait a minute and try again",
        "invalid_request" => "the server refused the request as malformed",
        _ => "",
    };
    let server = if error.message.is_empty() {
        error.error.clone()
    } else {
        format!("{} ({})", error.message, error.error)
    };
    if advice.is_empty() {
        format!("the server refused: {server}")
    } else {
        format!("{advice} [server: {server}]")
    }
}

/// Where an activation link points: the issuer (API base) and the single-use code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivationLink {
    /// `https://id.example.org` or, with a path prefix, `https://example.org/idp`.
    pub api_base: String,
    pub code: String,
}

/// Parses `{issuer}/authenticator/activate?code=CODE` (the issuer may carry a path prefix).
pub fn parse_activation_link(link: &str) -> Result<ActivationLink, ClientError> {
    let bad = |why: &str| {
        ClientError::InvalidLink(format!(
            "{why} (expected {{issuer}}{ACTIVATION_PATH}?code=…)"
        ))
    };
    let url = Url::parse(link.trim()).map_err(|e| bad(&format!("{e}")))?;
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
        return Err(bad("not an http(s) address"));
    }
    let path = url.path().trim_end_matches('/');
    let prefix = path
        .strip_suffix(ACTIVATION_PATH)
        .ok_or_else(|| bad(&format!("the path does not end in {ACTIVATION_PATH}")))?;
    let code = url
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .filter(|c| !c.is_empty())
        .ok_or_else(|| bad("the link has no code"))?;
    let mut base = url.clone();
    base.set_query(None);
    base.set_fragment(None);
    base.set_path(prefix);
    Ok(ActivationLink {
        api_base: base.as_str().trim_end_matches('/').to_owned(),
        code,
    })
}

/// The authenticator API client. Cheap to clone (one connection pool).
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    clock: Arc<dyn Fn() -> i64 + Send + Sync>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").finish_non_exhaustive()
    }
}

/// The local clock in unix milliseconds.
pub fn system_now_ms() -> i64 {
    let now = time::OffsetDateTime::now_utc();
    (now.unix_timestamp_nanos() / 1_000_000) as i64
}

/// A signed request, ready to send.
struct Prepared {
    url: Url,
    method: Method,
    body: Vec<u8>,
    headers: Option<crate::device_key::SignedHeaders>,
}

impl Client {
    pub fn new() -> Result<Self, ClientError> {
        Self::with_clock(Arc::new(system_now_ms))
    }

    /// A client whose signatures carry the time from `clock` (unix milliseconds): tests move it.
    pub fn with_clock(clock: Arc<dyn Fn() -> i64 + Send + Sync>) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("postern-authenticator/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::Unreachable {
                url: String::new(),
                reason: format!("cannot start the HTTP client: {e}"),
            })?;
        Ok(Self { http, clock })
    }

    /// The time signatures use.
    pub fn now_ms(&self) -> i64 {
        (self.clock)()
    }

    /// Registers this device from an activation link: makes a new key, posts it, and returns
    /// the account to store (push registration, plus the TOTP seed the server gave).
    pub async fn activate(&self, link: &str, device_name: &str) -> Result<Account, ClientError> {
        let link = parse_activation_link(link)?;
        let key = DeviceKey::generate()?;
        let request = ActivateRequest {
            code: link.code.clone(),
            public_key: key.public_key_b64(),
            key_algorithm: postern_proto::authenticator::KeyAlgorithm::Ed25519,
            device_name: device_name.to_owned(),
            app_version: APP_VERSION.to_owned(),
        };
        let url = api_url(&link.api_base, "/activate")?;
        let prepared = Prepared {
            url,
            method: Method::POST,
            body: to_json(&request)?,
            headers: None,
        };
        let response: ActivateResponse = self.send_json(prepared).await?;
        let push = PushDevice::new(
            Registration {
                api_base: link.api_base,
                issuer: response.account.issuer.clone(),
                organisation: response.account.organisation.clone(),
                username: response.account.username.clone(),
                device_id: response.device_id,
                device_name: device_name.to_owned(),
            },
            &key,
            self.now_ms(),
        );
        Ok(Account {
            name: Account::push_name(&push),
            // A seed the app cannot read does not undo the registration: the account still
            // answers push; `add` says the codes are missing.
            totp: Totp::from_uri(&response.totp_uri).ok(),
            push: Some(push),
            added_ms: self.now_ms(),
        })
    }

    /// `GET /pending`: the requests waiting for this device now.
    pub async fn pending(&self, account: &Account) -> Result<PendingList, ClientError> {
        let prepared = self.signed(account, Method::GET, "/pending", Vec::new())?;
        self.send_json(prepared).await
    }

    /// `POST /challenges/{id}/shown`: tells the server the request is on the user's screen.
    pub async fn shown(&self, account: &Account, id: &str) -> Result<(), ClientError> {
        let path = format!("/challenges/{}/shown", utf8_percent_encode(id, SEGMENT));
        let prepared = self.signed(account, Method::POST, &path, Vec::new())?;
        self.send(prepared, REQUEST_TIMEOUT).await.map(drop)
    }

    /// `POST /challenges/{id}/answer`: approve with the number the browser shows, or deny
    /// (with `report`: "I didn't try to sign in").
    pub async fn answer(
        &self,
        account: &Account,
        id: &str,
        decision: Decision,
        number: Option<u32>,
        report: bool,
    ) -> Result<AnswerOutcome, ClientError> {
        let path = format!("/challenges/{}/answer", utf8_percent_encode(id, SEGMENT));
        let body = to_json(&AnswerRequest {
            decision,
            number,
            report,
        })?;
        let prepared = self.signed(account, Method::POST, &path, body)?;
        let response: AnswerResponse = self.send_json(prepared).await?;
        Ok(response.outcome)
    }

    /// `GET /device`: is this registration still valid, and the server's clock.
    pub async fn device_status(&self, account: &Account) -> Result<DeviceStatus, ClientError> {
        let prepared = self.signed(account, Method::GET, "/device", Vec::new())?;
        self.send_json(prepared).await
    }

    /// `GET /events`: opens the event stream (fails like any call when the server refuses).
    pub async fn events(&self, account: &Account) -> Result<EventStream, ClientError> {
        let prepared = self.signed(account, Method::GET, "/events", Vec::new())?;
        let url = prepared.url.to_string();
        let response = self.send(prepared, Duration::ZERO).await?;
        Ok(EventStream {
            url,
            response,
            parser: SseParser::new(),
            queued: std::collections::VecDeque::new(),
        })
    }

    fn signed(
        &self,
        account: &Account,
        method: Method,
        endpoint: &str,
        body: Vec<u8>,
    ) -> Result<Prepared, ClientError> {
        let push = account
            .push
            .as_ref()
            .ok_or_else(|| ClientError::NotPush(account.name.clone()))?;
        let url = api_url(&push.api_base, endpoint)?;
        let mut path_and_query = url.path().to_owned();
        if let Some(query) = url.query() {
            path_and_query.push('?');
            path_and_query.push_str(query);
        }
        let headers = push.key()?.sign_request(
            &push.device_id,
            method.as_str(),
            &path_and_query,
            &body,
            self.now_ms(),
        );
        Ok(Prepared {
            url,
            method,
            body,
            headers: Some(headers),
        })
    }

    /// Sends; a non-2xx answer becomes an error. `timeout` zero: none (event streams).
    async fn send(
        &self,
        prepared: Prepared,
        timeout: Duration,
    ) -> Result<reqwest::Response, ClientError> {
        let url = prepared.url.to_string();
        let mut request = self.http.request(prepared.method, prepared.url).header(
            reqwest::header::ACCEPT,
            "application/json, text/event-stream",
        );
        if !prepared.body.is_empty() {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(prepared.body);
        }
        if let Some(headers) = prepared.headers {
            request = request
                .header(HEADER_DEVICE, headers.device)
                .header(HEADER_TIMESTAMP, headers.timestamp)
                .header(HEADER_SIGNATURE, headers.signature);
        }
        if !timeout.is_zero() {
            request = request.timeout(timeout);
        }
        let response = request.send().await.map_err(|e| ClientError::Unreachable {
            url: url.clone(),
            reason: describe_reqwest(&e),
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let server_date_ms = response
            .headers()
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_http_date_ms);
        let body = response.text().await.unwrap_or_default();
        match serde_json::from_str::<ApiError>(&body) {
            Ok(error) => Err(ClientError::Api {
                status: status.as_u16(),
                error,
                server_date_ms,
            }),
            Err(_) => Err(ClientError::Http {
                url,
                status: status.as_u16(),
                body: body.chars().take(200).collect(),
            }),
        }
    }

    async fn send_json<T: DeserializeOwned>(&self, prepared: Prepared) -> Result<T, ClientError> {
        let url = prepared.url.to_string();
        let response = self.send(prepared, REQUEST_TIMEOUT).await?;
        if response.status() == StatusCode::NO_CONTENT {
            return Err(ClientError::Protocol {
                url,
                reason: "no content where JSON was expected".into(),
            });
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|e| ClientError::Unreachable {
                url: url.clone(),
                reason: describe_reqwest(&e),
            })?;
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Protocol {
            url,
            reason: e.to_string(),
        })
    }
}

/// An open `GET /events` stream.
pub struct EventStream {
    url: String,
    response: reqwest::Response,
    parser: SseParser,
    queued: std::collections::VecDeque<SseEvent>,
}

impl EventStream {
    /// The next event; `Ok(None)` when the server closed the stream. Cancel-safe between
    /// events only as far as the bytes already read (callers drop the stream on error).
    pub async fn next_event(&mut self) -> Result<Option<SseEvent>, ClientError> {
        loop {
            if let Some(event) = self.queued.pop_front() {
                return Ok(Some(event));
            }
            let chunk = self
                .response
                .chunk()
                .await
                .map_err(|e| ClientError::Unreachable {
                    url: self.url.clone(),
                    reason: describe_reqwest(&e),
                })?;
            let Some(chunk) = chunk else {
                return Ok(None);
            };
            let events = self
                .parser
                .feed(&chunk)
                .map_err(|reason| ClientError::Protocol {
                    url: self.url.clone(),
                    reason,
                })?;
            self.queued.extend(events);
        }
    }
}

fn api_url(api_base: &str, endpoint: &str) -> Result<Url, ClientError> {
    let text = format!("{}{API_PREFIX}{endpoint}", api_base.trim_end_matches('/'));
    Url::parse(&text).map_err(|e| ClientError::InvalidLink(format!("{text}: {e}")))
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, ClientError> {
    serde_json::to_vec(value).map_err(|e| ClientError::Protocol {
        url: String::new(),
        reason: e.to_string(),
    })
}

/// reqwest's errors name their cause in a chain; one line with the innermost part helps most.
fn describe_reqwest(error: &reqwest::Error) -> String {
    let mut text = if error.is_timeout() {
        "timed out".to_owned()
    } else if error.is_connect() {
        "connection failed".to_owned()
    } else {
        error.to_string()
    };
    let mut source = std::error::Error::source(error);
    let mut innermost = None;
    while let Some(s) = source {
        innermost = Some(s.to_string());
        source = s.source();
    }
    if let Some(inner) = innermost {
        text.push_str(": ");
        text.push_str(&inner);
    }
    text
}

/// Parses an HTTP `Date` header (IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`).
pub fn parse_http_date_ms(text: &str) -> Option<i64> {
    let format = time::format_description::parse_borrowed::<2>(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT",
    )
    .ok()?;
    let when = time::PrimitiveDateTime::parse(text.trim(), &format).ok()?;
    Some((when.assume_utc().unix_timestamp_nanos() / 1_000_000) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activation_links_with_and_without_a_path_prefix() {
        assert_eq!(
            parse_activation_link("https://id.example.org/authenticator/activate?code=ABC-123")
                .unwrap(),
            ActivationLink {
                api_base: "https://id.example.org".into(),
                code: "ABC-123".into()
            }
        );
        assert_eq!(
            parse_activation_link("http://127.0.0.1:8080/idp/authenticator/activate?code=x%2By")
                .unwrap(),
            ActivationLink {
                api_base: "http://127.0.0.1:8080/idp".into(),
                code: "x+y".into()
            }
        );
        for bad in [
            "https://id.example.org/authenticator/activate",
            "https://id.example.org/somewhere?code=x",
            "ftp://id.example.org/authenticator/activate?code=x",
            "ABC-123",
        ] {
            assert!(
                matches!(parse_activation_link(bad), Err(ClientError::InvalidLink(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn api_urls_keep_the_issuer_prefix() {
        let url = api_url("http://h:1/idp", "/challenges/a%2Fb/answer").unwrap();
        assert_eq!(
            url.path(),
            "/idp/api/authenticator/v1/challenges/a%2Fb/answer"
        );
        assert_eq!(
            utf8_percent_encode("a/b c", SEGMENT).to_string(),
            "a%2Fb%20c"
        );
    }

    #[test]
    fn http_dates() {
        assert_eq!(
            parse_http_date_ms("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777_000)
        );
        assert_eq!(parse_http_date_ms("yesterday"), None);
    }

    #[test]
    fn api_errors_say_what_to_do() {
        let error = ClientError::Api {
            status: 401,
            error: ApiError {
                error: "unknown_device".into(),
                message: "no such device".into(),
                server_time_ms: None,
            },
            server_date_ms: None,
        };
        assert!(error.is_unknown_device());
        assert!(
            error
                .to_string()
                .contains("add it again from Security info")
        );
    }
}
