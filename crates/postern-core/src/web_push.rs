//! Web Push messages, as pure functions: message encryption (RFC 8291, `aes128gcm` content coding
//! of RFC 8188, one record), the VAPID authorisation of the application server (RFC 8292), and
//! the rules for a subscription's push endpoint — the server must never be made to POST to an
//! internal address. Sending (HTTP, DNS) is the server's business; randomness is passed in.

use crate::oidc::jws::{SigningAlg, SigningKey};
use crate::random::Random;
use aws_lc_rs::aead::{AES_128_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::agreement::{self, ECDH_P256, ParsedPublicKey, PrivateKey, UnparsedPublicKey};
use aws_lc_rs::hmac;
use data_encoding::BASE64URL_NOPAD as B64;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use time::{Duration, OffsetDateTime};

/// The record size written in the header (RFC 8188 §2): the whole message is one record.
pub const RECORD_SIZE: u32 = 4096;
/// Salt (16) + record size (4) + key id length (1) + the sender's public key (65).
const HEADER_LEN: usize = 86;
/// The largest plaintext one record holds: 4096 − 16 (tag) − 1 (delimiter) − 86 (header). Push
/// services accept at least 4096 bytes of body (RFC 8030 §7.2).
pub const MAX_PLAINTEXT: usize = RECORD_SIZE as usize - 16 - 1 - HEADER_LEN;
/// The longest endpoint URL accepted.
pub const MAX_ENDPOINT_LEN: usize = 1024;
/// How long a VAPID token is valid (RFC 8292 allows up to 24 hours).
pub const VAPID_LIFETIME: Duration = Duration::hours(12);

/// A subscription's keys (RFC 8291 §2): the browser's P-256 public key and its auth secret.
#[derive(Clone, PartialEq, Eq)]
pub struct SubscriberKeys {
    p256dh: [u8; 65],
    auth: [u8; 16],
}

impl std::fmt::Debug for SubscriberKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubscriberKeys").finish_non_exhaustive()
    }
}

/// Why a subscription's keys were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriptionError {
    BadP256dh,
    BadAuth,
}

impl std::fmt::Display for SubscriptionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SubscriptionError::BadP256dh => {
                "keys.p256dh must be a P-256 public key: the 65-byte uncompressed point, base64url"
            }
            SubscriptionError::BadAuth => "keys.auth must be 16 bytes, base64url",
        })
    }
}

impl std::error::Error for SubscriptionError {}

fn decode_b64url(text: &str, max: usize) -> Option<Vec<u8>> {
    if text.len() > max {
        return None;
    }
    B64.decode(text.trim_end_matches('=').as_bytes()).ok()
}

impl SubscriberKeys {
    /// Reads the keys of `PushSubscription.toJSON()` (base64url, padded or not).
    pub fn parse(p256dh: &str, auth: &str) -> Result<SubscriberKeys, SubscriptionError> {
        let point = decode_b64url(p256dh, 100)
            .and_then(|b| <[u8; 65]>::try_from(b).ok())
            .filter(|b| b[0] == 0x04 && valid_point(b))
            .ok_or(SubscriptionError::BadP256dh)?;
        let auth = decode_b64url(auth, 40)
            .and_then(|b| <[u8; 16]>::try_from(b).ok())
            .ok_or(SubscriptionError::BadAuth)?;
        Ok(SubscriberKeys {
            p256dh: point,
            auth,
        })
    }

    pub fn p256dh(&self) -> &[u8; 65] {
        &self.p256dh
    }

    pub fn auth(&self) -> &[u8; 16] {
        &self.auth
    }
}

/// Whether `bytes` is a point on P-256 (parsing checks it).
fn valid_point(bytes: &[u8]) -> bool {
    ParsedPublicKey::try_from(&UnparsedPublicKey::new(&ECDH_P256, bytes)).is_ok()
}

/// A message could not be encrypted or signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebPushError(pub String);

impl std::fmt::Display for WebPushError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for WebPushError {}

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut ctx = hmac::Context::with_key(&hmac::Key::new(hmac::HMAC_SHA256, key));
    for p in parts {
        ctx.update(p);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.sign().as_ref());
    out
}

/// Encrypts `plaintext` for a subscription with a fresh sender key and salt from `rng`.
pub fn encrypt(
    keys: &SubscriberKeys,
    plaintext: &[u8],
    rng: &dyn Random,
) -> Result<Vec<u8>, WebPushError> {
    let mut salt = [0u8; 16];
    rng.fill(&mut salt);
    // A random scalar is a valid P-256 private key unless it is zero or above the order (odds
    // about 2^-32): draw again then.
    for _ in 0..8 {
        let mut scalar = zeroize::Zeroizing::new([0u8; 32]);
        rng.fill(&mut *scalar);
        if PrivateKey::from_private_key(&ECDH_P256, &*scalar).is_ok() {
            return encrypt_with(keys, plaintext, &scalar, salt);
        }
    }
    Err(WebPushError("no usable sender key could be drawn".into()))
}

/// [`encrypt`] with the sender's private key and the salt given (RFC 8291 §3.3–3.4; the
/// appendix's example is reproduced with it).
pub fn encrypt_with(
    keys: &SubscriberKeys,
    plaintext: &[u8],
    sender_private: &[u8; 32],
    salt: [u8; 16],
) -> Result<Vec<u8>, WebPushError> {
    if plaintext.len() > MAX_PLAINTEXT {
        return Err(WebPushError(format!(
            "a push message holds at most {MAX_PLAINTEXT} bytes"
        )));
    }
    let failed = |what: &str| WebPushError(format!("web push encryption failed: {what}"));
    let private = PrivateKey::from_private_key(&ECDH_P256, sender_private)
        .map_err(|_| failed("sender key"))?;
    let public = private
        .compute_public_key()
        .map_err(|_| failed("sender public key"))?;
    let as_public: &[u8] = public.as_ref();
    let ecdh_secret = agreement::agree(
        &private,
        UnparsedPublicKey::new(&ECDH_P256, &keys.p256dh),
        failed("key agreement"),
        |secret| Ok(zeroize::Zeroizing::new(secret.to_vec())),
    )?;
    // HKDF-Extract(auth, ecdh) then Expand with "WebPush: info" || 0 || ua_public || as_public.
    let prk_key = hmac_sha256(&keys.auth, &[&ecdh_secret]);
    let ikm = hmac_sha256(
        &prk_key,
        &[b"WebPush: info\0", &keys.p256dh, as_public, &[1]],
    );
    let prk = hmac_sha256(&salt, &[&ikm]);
    let cek = hmac_sha256(&prk, &[b"Content-Encoding: aes128gcm\0", &[1]]);
    let nonce = hmac_sha256(&prk, &[b"Content-Encoding: nonce\0", &[1]]);

    let key =
        LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &cek[..16]).map_err(|_| failed("key"))?);
    let nonce = Nonce::try_assume_unique_for_key(&nonce[..12]).map_err(|_| failed("nonce"))?;
    let mut record = Vec::with_capacity(plaintext.len() + 17);
    record.extend_from_slice(plaintext);
    // The last (and only) record's padding delimiter.
    record.push(2);
    key.seal_in_place_append_tag(nonce, Aad::empty(), &mut record)
        .map_err(|_| failed("seal"))?;

    let mut body = Vec::with_capacity(HEADER_LEN + record.len());
    body.extend_from_slice(&salt);
    body.extend_from_slice(&RECORD_SIZE.to_be_bytes());
    body.push(65);
    body.extend_from_slice(as_public);
    body.extend_from_slice(&record);
    Ok(body)
}

/// The application server's VAPID key pair (RFC 8292): ES256 over P-256.
pub struct VapidKey(SigningKey);

impl std::fmt::Debug for VapidKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("VapidKey")
            .field(&self.public_key_b64url())
            .finish()
    }
}

impl VapidKey {
    pub fn generate() -> Result<VapidKey, WebPushError> {
        SigningKey::generate(SigningAlg::ES256)
            .map(VapidKey)
            .map_err(|e| WebPushError(e.to_string()))
    }

    pub fn from_pkcs8(der: &[u8]) -> Result<VapidKey, WebPushError> {
        SigningKey::from_pkcs8(SigningAlg::ES256, der)
            .map(VapidKey)
            .map_err(|e| WebPushError(e.to_string()))
    }

    /// The private key as PKCS#8 DER (the server seals and stores it).
    pub fn to_pkcs8(&self) -> Result<Vec<u8>, WebPushError> {
        self.0.to_pkcs8().map_err(|e| WebPushError(e.to_string()))
    }

    /// The public key as the 65-byte uncompressed point.
    pub fn public_key(&self) -> [u8; 65] {
        let jwk = self.0.public_jwk();
        let coordinate = |name: &str| {
            jwk[name]
                .as_str()
                .and_then(|s| B64.decode(s.as_bytes()).ok())
                .unwrap_or_default()
        };
        let mut point = [0u8; 65];
        point[0] = 0x04;
        let (x, y) = (coordinate("x"), coordinate("y"));
        if x.len() == 32 && y.len() == 32 {
            point[1..33].copy_from_slice(&x);
            point[33..].copy_from_slice(&y);
        }
        point
    }

    /// What browsers take as `applicationServerKey`.
    pub fn public_key_b64url(&self) -> String {
        B64.encode(&self.public_key())
    }

    /// The `Authorization` header for a message to `endpoint`: `vapid t=<JWT>, k=<public key>`,
    /// the JWT's audience the endpoint's origin, valid for [`VAPID_LIFETIME`].
    pub fn authorization(&self, endpoint: &url::Url, subject: &str, now: OffsetDateTime) -> String {
        let claims = serde_json::json!({
            "aud": endpoint.origin().ascii_serialization(),
            "exp": (now + VAPID_LIFETIME).unix_timestamp(),
            "sub": subject,
        });
        let token = self.0.sign("JWT", &claims);
        format!("vapid t={token}, k={}", self.public_key_b64url())
    }
}

/// Why a push endpoint was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointProblem {
    TooLong,
    NotAUrl,
    NotHttps,
    Credentials,
    Fragment,
    NoHost,
    AddressNotPublic(IpAddr),
}

impl std::fmt::Display for EndpointProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EndpointProblem::TooLong => {
                write!(f, "the endpoint is longer than {MAX_ENDPOINT_LEN} bytes")
            }
            EndpointProblem::NotAUrl => f.write_str("the endpoint is not a URL"),
            EndpointProblem::NotHttps => f.write_str("the endpoint must be an https:// URL"),
            EndpointProblem::Credentials => {
                f.write_str("the endpoint must not carry a user name or password")
            }
            EndpointProblem::Fragment => f.write_str("the endpoint must not have a #fragment"),
            EndpointProblem::NoHost => f.write_str("the endpoint has no host"),
            EndpointProblem::AddressNotPublic(ip) => {
                write!(
                    f,
                    "the endpoint's address {ip} is not a public internet address"
                )
            }
        }
    }
}

impl std::error::Error for EndpointProblem {}

/// Whether a host name or address is this machine.
fn is_loopback_host(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    }
}

/// Checks a subscription's endpoint: `https://` with a host (an address given literally must be
/// public), no credentials, no fragment, at most [`MAX_ENDPOINT_LEN`] bytes. `allow_loopback`
/// (tests) also admits `http://` and `https://` to this machine. Names are resolved — and their
/// addresses checked with [`address_allowed`] — at each send.
pub fn check_endpoint(endpoint: &str, allow_loopback: bool) -> Result<url::Url, EndpointProblem> {
    if endpoint.len() > MAX_ENDPOINT_LEN {
        return Err(EndpointProblem::TooLong);
    }
    let url = url::Url::parse(endpoint).map_err(|_| EndpointProblem::NotAUrl)?;
    let host = url.host().ok_or(EndpointProblem::NoHost)?;
    let loopback_ok = allow_loopback && is_loopback_host(&host);
    match url.scheme() {
        "https" => {}
        "http" if loopback_ok => {}
        _ => return Err(EndpointProblem::NotHttps),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(EndpointProblem::Credentials);
    }
    if url.fragment().is_some() {
        return Err(EndpointProblem::Fragment);
    }
    let literal = match host {
        url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        url::Host::Domain(_) => None,
    };
    if let Some(ip) = literal
        && !address_allowed(ip, allow_loopback)
    {
        return Err(EndpointProblem::AddressNotPublic(ip));
    }
    Ok(url)
}

/// A public address, or a loopback one when `allow_loopback` (tests).
pub fn address_allowed(ip: IpAddr, allow_loopback: bool) -> bool {
    is_public_address(ip) || (allow_loopback && ip.to_canonical().is_loopback())
}

/// Whether `ip` is an address on the public internet (not this machine, a private network,
/// link-local, shared, reserved, documentation, multicast…). IPv4 inside IPv6 (mapped, NAT64)
/// is judged by the IPv4 address.
pub fn is_public_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0
        || a >= 240
        || (a == 100 && (64..128).contains(&b))
        || (a == 198 && (b == 18 || b == 19))
        || (a == 192 && b == 0 && c == 0))
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let s = ip.segments();
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        let o = ip.octets();
        return is_public_v4(Ipv4Addr::new(o[12], o[13], o[14], o[15]));
    }
    // Global unicast is 2000::/3; everything else (loopback, ::/96, unique-local fc00::/7,
    // link-local, the old site-local fec0::/10, multicast, 64:ff9b:1::/48 local NAT64, 100::/64
    // discard) is not an address a push service has.
    if (s[0] & 0xe000) != 0x2000 {
        return false;
    }
    // Inside 2000::/3: documentation (2001:db8::/32, 3fff::/20), ORCHID and benchmarking under
    // 2001::/23, Teredo (2001::/32, an IPv4 address inside), 6to4 (2002::/16: the IPv4 address
    // in bits 16–47 decides).
    if (s[0] == 0x2001 && s[1] == 0x0db8) || (s[0] & 0xfff0) == 0x3ff0 {
        return false;
    }
    if s[0] == 0x2001 && s[1] < 0x0200 {
        return false;
    }
    if s[0] == 0x2002 {
        let o = ip.octets();
        return is_public_v4(Ipv4Addr::new(o[2], o[3], o[4], o[5]));
    }
    true
}

#[cfg(test)]
mod tests;
