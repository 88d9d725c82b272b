//! Request ids: every HTTP request gets one, in the tracing span, in the `x-request-id` response
//! header and on every error page; metrics count every response here.

use crate::state::AppState;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use std::net::{IpAddr, SocketAddr};
use tracing::Instrument;

/// The id of the current request.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Who is calling: address and user agent (for the sign-in log).
#[derive(Debug, Clone)]
pub struct ClientInfo {
    pub ip: std::net::IpAddr,
    pub user_agent: Option<String>,
}

/// Middleware: assigns the request id, records the span, sets security headers, counts the response.
pub async fn assign(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let id = uuid_v4(&*state.rng);
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(std::net::IpAddr::from([127, 0, 0, 1]));
    let ip = client_ip(peer, req.headers(), &state.config.trusted_proxies);
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(512).collect());
    req.extensions_mut().insert(RequestId(id.clone()));
    req.extensions_mut().insert(ClientInfo { ip, user_agent });
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path());
    let mut res = next.run(req).instrument(span).await;
    if let Some(shown) = res
        .extensions_mut()
        .remove::<crate::http::errors::ShownInSignIn>()
        && let Err(e) = state.store.link_shown_request(&shown.0, &id).await
    {
        tracing::warn!(error = %e, "could not link the request id to its sign-in");
    }
    state.metrics.count_status(res.status().as_u16());
    let headers = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&id) {
        headers.insert("x-request-id", v);
    }
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    // Not `no-referrer`: with it browsers send `Origin: null` on form posts, defeating the check.
    headers.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    res
}

/// The client's address: the TCP peer, unless the peer is a trusted proxy, in which case the
/// right-most address of `X-Forwarded-For` that is not itself a trusted proxy.
pub fn client_ip(peer: IpAddr, headers: &axum::http::HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    let peer = peer.to_canonical();
    if !trusted.contains(&peer) {
        return peer;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    // From the nearest hop outwards: skip our own proxies; the first other entry is the client.
    // One we cannot read (a port, "unknown", garbage) means we cannot tell: use the peer.
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>().map(|ip| ip.to_canonical()) {
            Ok(ip) if trusted.contains(&ip) => continue,
            Ok(ip) => return ip,
            Err(_) => return peer,
        }
    }
    peer
}

fn uuid_v4(rng: &dyn postern_core::random::Random) -> String {
    postern_core::random::uuid(rng)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderMap;

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            "203.0.113.9, 198.51.100.7".parse().unwrap(),
        );
        let student: IpAddr = "198.51.100.7".parse().unwrap();
        assert_eq!(
            client_ip(proxy, &headers, &[proxy]),
            student,
            "the right-most untrusted hop"
        );
        assert_eq!(
            client_ip(proxy, &headers, &[]),
            proxy,
            "untrusted peers cannot claim an address"
        );
        let inner: IpAddr = "10.0.0.2".parse().unwrap();
        headers.insert("x-forwarded-for", "198.51.100.7, 10.0.0.2".parse().unwrap());
        assert_eq!(
            client_ip(proxy, &headers, &[proxy, inner]),
            student,
            "chained trusted proxies are skipped"
        );
        assert_eq!(client_ip(proxy, &HeaderMap::new(), &[proxy]), proxy);
        headers.insert("x-forwarded-for", "203.0.113.9, unknown".parse().unwrap());
        assert_eq!(
            client_ip(proxy, &headers, &[proxy]),
            proxy,
            "an unreadable nearest hop is not skipped"
        );
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        headers.insert("x-forwarded-for", "198.51.100.7".parse().unwrap());
        assert_eq!(
            client_ip(mapped, &headers, &[proxy]),
            student,
            "IPv4-mapped peers match"
        );
    }
}
