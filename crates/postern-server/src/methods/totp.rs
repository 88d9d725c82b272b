//! Enrolling an authenticator app (TOTP) and opening a stored seed.
//!
//! Enrollment is two requests: the first makes a seed and shows it (QR code, the text "Secret
//! key", the `otpauth://` URI); the seed travels in the page only inside an *enrollment token*
//! sealed with the master key and bound to the user and an expiry, so nothing is stored until the
//! user proves their app produces the right code. The seed is then sealed for the store and never
//! shown again.

use super::qr;
use crate::state::AppState;
use postern_core::credential::method::{Method, MethodSecret, default_method, totp_seal_context};
use postern_core::credential::totp::{self as otp, TotpCheck, TotpParams, TotpState};
use postern_core::random;
use postern_core::user::User;
use serde::{Deserialize, Serialize};
use time::Duration;
use zeroize::Zeroizing;

/// How long an enrollment page stays usable.
const ENROLLMENT_LIFETIME: Duration = Duration::minutes(15);

/// What the enrollment page shows.
pub struct Enrollment {
    /// The seed in Base32, for typing into an app ("Secret key").
    pub secret_key: String,
    /// The `otpauth://totp/…` Key URI.
    pub uri: String,
    /// The URI as a QR code (inline SVG).
    pub qr_svg: String,
    /// The sealed enrollment token the form posts back.
    pub token: String,
}

#[derive(Serialize, Deserialize)]
struct Pending {
    /// The id the method will have: a second post of the same page cannot add the seed twice.
    method_id: String,
    seed: String,
    expires_ms: i64,
}

fn context(user_id: &str) -> String {
    format!("totp-enrollment:{user_id}")
}

/// Starts enrolling an authenticator app for `user`.
pub fn start(state: &AppState, user: &User) -> Enrollment {
    let seed = Zeroizing::new(random::bytes(&*state.rng, otp::SECRET_BYTES));
    let params = TotpParams::default();
    let uri = otp::otpauth_uri(&state.config.organisation, &user.username, &seed, &params);
    let pending = Pending {
        method_id: random::uuid(&*state.rng),
        seed: data_encoding::BASE64URL_NOPAD.encode(&seed),
        expires_ms: postern_core::clock::to_millis(state.clock.now() + ENROLLMENT_LIFETIME),
    };
    let plain = Zeroizing::new(serde_json::to_vec(&pending).unwrap_or_default());
    let sealed = state.master.seal(&*state.rng, &context(&user.id), &plain);
    Enrollment {
        secret_key: otp::secret_base32(&seed),
        qr_svg: qr::svg(&uri),
        uri,
        token: data_encoding::BASE64URL_NOPAD.encode(&sealed),
    }
}

/// The same enrollment again (after a wrong code: the app already scanned it), if the token is
/// still valid.
pub fn resume(state: &AppState, user: &User, token: &str) -> Option<Enrollment> {
    let (_, seed) = open_enrollment(state, user, token)?;
    let uri = otp::otpauth_uri(
        &state.config.organisation,
        &user.username,
        &seed,
        &TotpParams::default(),
    );
    Some(Enrollment {
        secret_key: otp::secret_base32(&seed),
        qr_svg: qr::svg(&uri),
        uri,
        token: token.to_owned(),
    })
}

/// What finishing an enrollment did.
pub enum Finished {
    /// The app is registered.
    Added(Box<Method>),
    /// The code was not the app's current one (nothing stored; the same page can be retried).
    WrongCode { clock_off_by: Option<i64> },
    /// The enrollment token is expired, altered or another user's: start again.
    Stale,
    /// This enrollment was already completed (the page was posted twice).
    AlreadyAdded,
}

/// The method id and seed inside a posted enrollment token, if it is this user's and still
/// valid.
fn open_enrollment(
    state: &AppState,
    user: &User,
    token: &str,
) -> Option<(String, Zeroizing<Vec<u8>>)> {
    let sealed = data_encoding::BASE64URL_NOPAD
        .decode(token.as_bytes())
        .ok()?;
    let plain = Zeroizing::new(state.master.open(&context(&user.id), &sealed).ok()?);
    let pending: Pending = serde_json::from_slice(&plain).ok()?;
    if postern_core::clock::to_millis(state.clock.now()) >= pending.expires_ms {
        return None;
    }
    let seed = data_encoding::BASE64URL_NOPAD
        .decode(pending.seed.as_bytes())
        .ok()
        .map(Zeroizing::new)?;
    Some((pending.method_id, seed))
}

/// Checks the code from the new app and, if right, stores the method. It becomes the default when
/// the user has no other method that can be.
pub async fn finish(
    state: &AppState,
    user: &User,
    token: &str,
    code: &str,
    name: &str,
) -> Result<Finished, postern_store::StoreError> {
    let Some((id, seed)) = open_enrollment(state, user, token) else {
        return Ok(Finished::Stale);
    };
    if state.store.find_method(&user.id, &id).await?.is_some() {
        return Ok(Finished::AlreadyAdded);
    }
    let params = TotpParams::default();
    let now = state.clock.now();
    let accepted = match otp::verify(
        &seed,
        &params,
        code,
        now.unix_timestamp(),
        &TotpState::default(),
    ) {
        TotpCheck::Accepted(s) => s,
        TotpCheck::ClockOff { off_by } => {
            return Ok(Finished::WrongCode {
                clock_off_by: Some(off_by),
            });
        }
        TotpCheck::Replay | TotpCheck::Wrong => {
            return Ok(Finished::WrongCode { clock_off_by: None });
        }
    };
    let existing = state.store.list_methods(&user.id).await?;
    let is_default = default_method(&existing).is_none_or(|m| !m.kind().can_be_default());
    let sealed = state
        .master
        .seal(&*state.rng, &totp_seal_context(&id), &seed);
    let method = Method {
        name: super::clean_name(name, "Authenticator app"),
        user_id: user.id.clone(),
        created: now,
        last_used: None,
        is_default,
        // The enrollment code's time step is used: it cannot sign anyone in afterwards.
        secret: MethodSecret::Totp {
            sealed_seed: data_encoding::BASE64URL_NOPAD.encode(&sealed),
            params,
            state: accepted,
            paired_device: None,
        },
        version: 1,
        id,
    };
    match state.store.create_method(&method).await {
        Ok(()) => Ok(Finished::Added(Box::new(method))),
        // The same page posted twice at once: the other post added it.
        Err(postern_store::StoreError::Conflict(_)) => Ok(Finished::AlreadyAdded),
        Err(e) => Err(e),
    }
}

/// The decrypted seed of a stored TOTP method.
pub fn open_seed(state: &AppState, method: &Method) -> Option<Zeroizing<Vec<u8>>> {
    let MethodSecret::Totp { sealed_seed, .. } = &method.secret else {
        return None;
    };
    let sealed = data_encoding::BASE64URL_NOPAD
        .decode(sealed_seed.as_bytes())
        .ok()?;
    state
        .master
        .open(&totp_seal_context(&method.id), &sealed)
        .ok()
        .map(Zeroizing::new)
}
