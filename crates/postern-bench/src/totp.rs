//! Sign-ins with an authenticator app (TOTP) as the second factor: the users, and the two
//! measurements (whole sign-ins, and the code step alone).
//!
//! The users are written straight into the store before the server starts, each with a TOTP
//! method whose seed is sealed with the master key the server is then started with (writing
//! thousands through the Security info pages would cost a password sign-in each). One more user
//! enrolls through those pages while the server runs, as a person would, and signs in with the
//! app: that checks that the seeded methods and the pages agree.
//!
//! The server accepts each time step of a user's app once (RFC 6238 §5.2), so the pool hands out
//! (user, current step) pairs, never the same twice; with a few thousand users a user signs in
//! again only in a later 30 s step. Every code sent is right: five wrong ones would lock the user's
//! second step.

use crate::browser::{self, App, unescape};
use crate::load::Failures;
use postern_core::credential::method::{Method, MethodSecret, totp_seal_context};
use postern_core::credential::password::{PasswordHasher, PasswordParams};
use postern_core::credential::totp::{self as otp, TotpParams, TotpState};
use postern_core::random::{self, OsRandom};
use postern_core::sealed::MasterKey;
use postern_core::secret::SecretString;
use postern_core::user::User;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A user and the authenticator app on their phone.
pub struct TotpUser {
    pub username: String,
    seed: Vec<u8>,
    params: TotpParams,
    /// The last time step this harness used (-1: none).
    last_step: AtomicI64,
}

impl TotpUser {
    /// The app's code for a time step.
    pub fn code(&self, step: i64) -> String {
        otp::code_at_step(&self.seed, &self.params, step)
    }
}

fn unix_seconds() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// The current 30-second time step.
pub fn current_step() -> i64 {
    otp::step_at(unix_seconds(), &TotpParams::default())
}

/// Users handed out so that no (user, time step) pair is used twice.
pub struct Pool {
    users: Vec<TotpUser>,
    cursor: AtomicUsize,
    /// How often every user had used the current step and a browser waited for the next one
    /// (then the pool is too small for the rate, and the figure is low).
    pub waits: AtomicU64,
}

impl Pool {
    pub fn new(users: Vec<TotpUser>) -> Pool {
        Pool {
            users,
            cursor: AtomicUsize::new(0),
            waits: AtomicU64::new(0),
        }
    }

    /// A user who has not used the current time step, and that step (now taken).
    pub async fn claim(&self) -> (&TotpUser, i64) {
        loop {
            let step = current_step();
            for _ in 0..self.users.len() {
                let user =
                    &self.users[self.cursor.fetch_add(1, Ordering::Relaxed) % self.users.len()];
                let last = user.last_step.load(Ordering::Acquire);
                if last < step
                    && user
                        .last_step
                        .compare_exchange(last, step, Ordering::AcqRel, Ordering::Acquire)
                        .is_ok()
                {
                    return (user, step);
                }
            }
            self.waits.fetch_add(1, Ordering::Relaxed);
            let into = unix_seconds().rem_euclid(30) as u64;
            tokio::time::sleep(Duration::from_secs(30 - into)).await;
        }
    }
}

/// Writes `count` users named `{prefix}{n}` with `password` (one Argon2id hash shared by all: the
/// check costs the same) straight into the store of `dir`, each with an authenticator app as
/// their default method if `with_app`. Run it while the server is stopped.
pub async fn seed(
    config: &postern_server::config::Config,
    master: &MasterKey,
    prefix: &str,
    count: usize,
    password: &str,
    with_app: bool,
) -> Vec<TotpUser> {
    let store = postern_server::app::open_store(config).await.unwrap();
    let hasher = PasswordHasher::new(PasswordParams::default(), &OsRandom).unwrap();
    let phc = hasher.hash(&SecretString::new(password), &OsRandom);
    let now = time::OffsetDateTime::now_utc();
    let params = TotpParams::default();
    let mut users = Vec::with_capacity(count);
    for n in 0..count {
        let user = User {
            id: random::uuid(&OsRandom),
            username: format!("{prefix}{n:05}"),
            email: None,
            name: None,
            password_hash: Some(phc.clone()),
            disabled: false,
            created: now,
        };
        store.create_user(&user).await.unwrap();
        let seed = random::bytes(&OsRandom, otp::SECRET_BYTES);
        if with_app {
            let id = random::uuid(&OsRandom);
            let sealed = master.seal(&OsRandom, &totp_seal_context(&id), &seed);
            let method = Method {
                id,
                user_id: user.id.clone(),
                name: "Authenticator app".into(),
                created: now,
                last_used: None,
                is_default: true,
                secret: MethodSecret::Totp {
                    sealed_seed: data_encoding::BASE64URL_NOPAD.encode(&sealed),
                    params,
                    state: TotpState::default(),
                    paired_device: None,
                },
                version: 1,
            };
            store.create_method(&method).await.unwrap();
        }
        users.push(TotpUser {
            username: user.username,
            seed,
            params,
            last_step: AtomicI64::new(-1),
        });
    }
    store.close().await;
    users
}

/// The seed and parameters in an `otpauth://totp/…` URI, as an app scanning the QR code reads it.
fn read_otpauth(uri: &str) -> Result<(Vec<u8>, TotpParams), String> {
    let url = url::Url::parse(uri).map_err(|e| format!("otpauth URI '{uri}': {e}"))?;
    let mut params = TotpParams::default();
    let mut seed = None;
    for (k, v) in url.query_pairs() {
        match k.as_ref() {
            "secret" => {
                seed = data_encoding::BASE32_NOPAD
                    .decode(v.trim_end_matches('=').as_bytes())
                    .ok()
            }
            "digits" => params.digits = v.parse().map_err(|_| "otpauth digits")?,
            "period" => params.period = v.parse().map_err(|_| "otpauth period")?,
            "algorithm" if v != "SHA1" => return Err(format!("otpauth algorithm {v}")),
            _ => {}
        }
    }
    Ok((seed.ok_or("otpauth URI without a secret")?, params))
}

/// Signs in at Security info (password only: the user has no second factor yet, which the
/// `when_registered` policy allows), adds an authenticator app there as a person would — reading
/// the setup link, typing the app's code — and returns the user with the app.
pub async fn enroll_through_pages(
    issuer: &str,
    username: &str,
    password: &str,
) -> Result<TotpUser, String> {
    enroll_and_stay(issuer, username, password)
        .await
        .map(|(_, user)| user)
}

/// [`enroll_through_pages`], returning also the browser (cookies kept, redirects followed), still
/// signed in at Security info with a session that has now proved a second factor.
pub async fn enroll_and_stay(
    issuer: &str,
    username: &str,
    password: &str,
) -> Result<(reqwest::Client, TotpUser), String> {
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .resolve("localhost", browser::localhost())
        .build()
        .unwrap();
    let failed = |what: &str, e: reqwest::Error| format!("{what}: {e}");
    let res = http
        .get(format!("{issuer}/account/signin"))
        .send()
        .await
        .map_err(|e| failed("account sign-in", e))?;
    let page = res.url().clone();
    let body = res.text().await.unwrap_or_default();
    let csrf = browser::between(&body, "name=\"csrf\" value=\"", "\"")
        .ok_or("account sign-in: no form")?
        .to_owned();
    let res = http
        .post(page)
        .header("origin", issuer)
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", username),
            ("password", password),
        ])
        .send()
        .await
        .map_err(|e| failed("password", e))?;
    if res.url().path() != "/account/security" {
        return Err(format!("password: ended at {}", res.url()));
    }
    let res = http
        .get(format!("{issuer}/account/security/totp"))
        .send()
        .await
        .map_err(|e| failed("add an app", e))?;
    let body = res.text().await.unwrap_or_default();
    let field = |start: &str| browser::between(&body, start, "\"").map(unescape);
    let (Some(uri), Some(csrf), Some(enrollment)) = (
        field("data-otpauth-uri=\""),
        field("name=\"csrf\" value=\""),
        field("name=\"enrollment\" value=\""),
    ) else {
        return Err("add an app: no setup link or form".into());
    };
    let (seed, params) = read_otpauth(&uri)?;
    let step = current_step();
    let code = otp::code_at_step(&seed, &params, step);
    let res = http
        .post(format!("{issuer}/account/security/totp"))
        .header("origin", issuer)
        .form(&[
            ("csrf", csrf.as_str()),
            ("enrollment", enrollment.as_str()),
            ("name", "Phone"),
            ("code", code.as_str()),
        ])
        .send()
        .await
        .map_err(|e| failed("app's code", e))?;
    if res.url().query() != Some("notice=totp-added") {
        return Err(format!("app's code: ended at {}", res.url()));
    }
    let user = TotpUser {
        username: username.to_owned(),
        seed,
        params,
        last_step: AtomicI64::new(step),
    };
    Ok((http, user))
}

/// One complete sign-in with the app's code for `step`: authorize → sign-in page → password →
/// second-factor page → code → authorization code → token.
pub async fn sign_in(
    http: &reqwest::Client,
    app: &App,
    user: &TotpUser,
    step: i64,
    password: &str,
) -> Result<(), String> {
    let started = browser::start(http, app).await?;
    let form =
        browser::password_to_second_factor(http, app, &started, &user.username, password).await?;
    let code = browser::post_code(http, app, &started, &form, &user.code(step)).await?;
    browser::redeem(http, app, &code, &started.verifier).await
}

/// What the code step alone measured.
pub struct SecondStep {
    /// Sign-ins brought to the second-factor page (by password) before the codes were posted.
    pub prepared: usize,
    pub prepare_failed: u64,
    /// Codes accepted, each answered with the redirect to the application with a code.
    pub accepted: u64,
    pub failed: u64,
    pub first_error: Option<String>,
    /// Wall time from the first code posted to the last answer.
    pub seconds: f64,
}

impl SecondStep {
    pub fn rate(&self) -> f64 {
        self.accepted as f64 / self.seconds
    }
}

/// The code step alone. First, for `prepare_seconds` (or until `users` are used up), browsers
/// sign in with the password up to the second-factor page, one user each; then they post all those
/// codes as fast as the server answers, and the time until the last answer is measured.
pub async fn second_step(
    browsers: Arc<Vec<reqwest::Client>>,
    app: Arc<App>,
    users: Arc<Vec<TotpUser>>,
    password: Arc<String>,
    prepare_seconds: u64,
) -> SecondStep {
    let next = Arc::new(AtomicUsize::new(0));
    let ready = Arc::new(Mutex::new(Vec::new()));
    let prepare_failures = Arc::new(Failures::default());
    let deadline = Instant::now() + Duration::from_secs(prepare_seconds);
    let tasks: Vec<_> = (0..browsers.len())
        .map(|b| {
            let (browsers, app, users, password, next, ready, failures) = (
                browsers.clone(),
                app.clone(),
                users.clone(),
                password.clone(),
                next.clone(),
                ready.clone(),
                prepare_failures.clone(),
            );
            tokio::spawn(async move {
                let http = &browsers[b];
                while Instant::now() < deadline {
                    let u = next.fetch_add(1, Ordering::Relaxed);
                    let Some(user) = users.get(u) else { break };
                    let prepared = async {
                        let started = browser::start(http, &app).await?;
                        let form = browser::password_to_second_factor(
                            http,
                            &app,
                            &started,
                            &user.username,
                            &password,
                        )
                        .await?;
                        Ok::<_, String>((u, started, form))
                    }
                    .await;
                    match prepared {
                        Ok(p) => ready.lock().unwrap().push(p),
                        Err(why) => failures.record(why),
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
    let prepared = ready.lock().unwrap().len();

    let accepted = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(Failures::default());
    let start = Instant::now();
    let tasks: Vec<_> = (0..browsers.len())
        .map(|b| {
            let (browsers, app, users, ready, accepted, failures) = (
                browsers.clone(),
                app.clone(),
                users.clone(),
                ready.clone(),
                accepted.clone(),
                failures.clone(),
            );
            tokio::spawn(async move {
                let http = &browsers[b];
                loop {
                    let Some((u, started, form)) = ready.lock().unwrap().pop() else {
                        break;
                    };
                    let code = users[u].code(current_step());
                    match browser::post_code(http, &app, &started, &form, &code).await {
                        Ok(_) => {
                            accepted.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(why) => failures.record(why),
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
    SecondStep {
        prepared,
        prepare_failed: prepare_failures.count(),
        accepted: accepted.load(Ordering::Relaxed),
        failed: failures.count(),
        first_error: failures.first(),
        seconds: start.elapsed().as_secs_f64(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_an_escaped_setup_link() {
        let uri = unescape(
            "otpauth:&#x2f;&#x2f;totp&#x2f;Postern:bob?secret=JBSWY3DPEHPK3PXP&#38;issuer=Postern&amp;digits=6&amp;period=30",
        );
        assert_eq!(
            uri,
            "otpauth://totp/Postern:bob?secret=JBSWY3DPEHPK3PXP&issuer=Postern&digits=6&period=30"
        );
        let (seed, params) = read_otpauth(&uri).unwrap();
        assert_eq!(seed, b"Hello!\xde\xad\xbe\xef");
        assert_eq!(params, TotpParams::default());
    }
}
