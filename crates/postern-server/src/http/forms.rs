//! Strict request parameters: form bodies must say they are forms; duplicated parameters, invalid
//! encoding and invalid UTF-8 are refused before any handler logic runs.

use axum::http::{HeaderMap, header};
use postern_core::ErrorCode;
use postern_core::oidc::params::Params;

/// A refused request: the catalogue code and what was wrong.
pub type Refused = (ErrorCode, String);

/// Parameters of an `application/x-www-form-urlencoded` body.
pub fn form(headers: &HeaderMap, body: &[u8]) -> Result<Params, Refused> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = ct.split(';').next().unwrap_or("").trim();
    if !mime.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Err((
            ErrorCode::InvalidRequest,
            format!(
                "the content type must be application/x-www-form-urlencoded, not '{}'",
                if mime.is_empty() { "(none)" } else { mime }
            ),
        ));
    }
    Params::parse(body).map_err(|e| (ErrorCode::InvalidRequest, e.to_string()))
}

/// Parameters of a query string.
pub fn query(raw: Option<&str>) -> Result<Params, Refused> {
    Params::parse(raw.unwrap_or("").as_bytes())
        .map_err(|e| (ErrorCode::InvalidRequest, e.to_string()))
}

/// GET uses the query string; POST uses the form body (for endpoints that accept both).
pub fn query_or_form(
    method: &axum::http::Method,
    raw_query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Params, Refused> {
    if method == axum::http::Method::POST {
        form(headers, body)
    } else {
        query(raw_query)
    }
}
