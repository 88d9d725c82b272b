//! Test support: boots the real server in-process on port 0 (SQLite in a temp dir, or a fresh
//! PostgreSQL database), with a clock the tests move instead of sleeping, and a cookie-keeping
//! HTTP "browser" that does not follow redirects so every hop can be checked.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use postern_core::client::{Client, ClientKind};
use postern_core::clock::{Clock, ManualClock};
use postern_core::oidc::jws::SigningAlg;
use postern_core::random::{self, OsRandom};
use postern_core::secret::{SecretString, hash_token};
use postern_core::signin_log::SignInEntry;
use postern_core::user::User;
use postern_server::app::{RunningServer, start};
use postern_server::config::Config;
pub use postern_store::Backend;
use postern_store::testing::TestDatabase;
use serde_json::Value;
pub mod cdp;
pub mod push_service;
pub mod qr;
pub mod webdriver;
use postern_store::Store;
use std::sync::Arc;

/// Runs an async test body once per backend, as `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::common::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::common::Backend::Postgres).await
            }
        }
    )*};
}

pub const PASSWORD: &str = "correct horse battery staple";

pub struct TestServer {
    pub server: RunningServer,
    pub clock: Arc<ManualClock>,
    pub config: Config,
    db: Option<TestDatabase>,
    data_dir: std::path::PathBuf,
}

impl TestServer {
    pub async fn start(backend: Backend) -> TestServer {
        Self::start_with(backend, |_| {}).await
    }

    pub async fn start_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> TestServer {
        let db = TestDatabase::create(backend).await;
        let url = db.url.clone();
        Self::start_node(&url, Some(db), tweak).await
    }

    /// Starts a server on an existing database (another node of the same deployment); the
    /// database is dropped by whichever node owns it (`db`).
    pub async fn start_node(
        database_url: &str,
        db: Option<TestDatabase>,
        tweak: impl FnOnce(&mut Config),
    ) -> TestServer {
        let data_dir =
            std::env::temp_dir().join(format!("postern-test-{}", random::token(&OsRandom, 9)));
        std::fs::create_dir_all(&data_dir).unwrap();
        let mut config = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: data_dir.clone(),
            database_url: Some(database_url.to_owned()),
            ..Config::default()
        };
        config.limits.signin_per_minute = 100_000;
        config.limits.token_per_second = 100_000;
        // Password-only users sign straight in unless a test asks for the `required` policy
        // (the second-factor tests do).
        config.policy.mfa = postern_core::policy::MfaPolicy::WhenRegistered;
        tweak(&mut config);
        let clock = Arc::new(ManualClock::new());
        let server = start(config.clone(), clock.clone())
            .await
            .expect("the server starts");
        TestServer {
            server,
            clock,
            config,
            db,
            data_dir,
        }
    }

    pub fn issuer(&self) -> &str {
        &self.server.issuer
    }

    pub fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    pub fn store(&self) -> &Store {
        &self.server.state.store
    }

    pub fn data_dir(&self) -> &std::path::Path {
        &self.data_dir
    }

    pub fn advance(&self, by: time::Duration) {
        self.clock.advance(by);
    }

    /// Moves the clock to the start of the next 30-second TOTP step. The test clock runs with
    /// real time (plus what tests add), so a test whose codes must all fall in one step starts
    /// here: a step boundary crossed mid-test on a loaded machine would change every code.
    pub fn start_of_step(&self) {
        let into_ms = postern_core::clock::to_millis(self.clock.now()).rem_euclid(30_000);
        self.clock
            .advance(time::Duration::milliseconds(30_000 - into_ms));
    }

    /// A user with [`PASSWORD`], written straight into the store (no audit entry: the tests'
    /// fixture, not an administrator's act), on the server's clock.
    pub async fn create_user(&self, username: &str) -> User {
        let hasher = postern_core::credential::password::PasswordHasher::new(
            self.config.password,
            &OsRandom,
        )
        .unwrap();
        let user = User {
            id: random::uuid(&OsRandom),
            username: postern_core::user::normalize_username(username).unwrap(),
            email: Some(format!("{username}@school.example")),
            name: Some(format!("{username} Example")),
            password_hash: Some(hasher.hash(&SecretString::new(PASSWORD), &OsRandom)),
            disabled: false,
            created: self.clock.now(),
        };
        self.store().create_user(&user).await.unwrap();
        user
    }

    /// Registers a client; returns it with its secret (None for public clients).
    pub async fn create_client(
        &self,
        kind: ClientKind,
        alg: SigningAlg,
    ) -> (Client, Option<String>) {
        let secret = (kind == ClientKind::Confidential).then(|| random::token(&OsRandom, 32));
        let id = random::uuid(&OsRandom);
        let client = Client {
            id: id.clone(),
            name: format!("App {}", &id[..8]),
            kind,
            secret_hash: secret.as_deref().map(hash_token),
            redirect_uris: vec!["http://127.0.0.1:9/callback".into()],
            post_logout_redirect_uris: vec!["http://127.0.0.1:9/signed-out".into()],
            id_token_alg: alg,
            created: self.clock.now(),
        };
        self.store().create_client(&client).await.unwrap();
        (client, secret)
    }

    /// Stops the server and starts it again on the same address, database, data directory and
    /// clock (what survives a restart is what the store keeps).
    pub async fn restart(&mut self) {
        let addr = self.server.addr;
        let issuer = self.server.issuer.clone();
        self.server.shut_down().await;
        let mut config = self.config.clone();
        config.listen = addr;
        config.issuer = Some(issuer);
        self.server = start(config, self.clock.clone())
            .await
            .expect("the server starts again");
    }

    pub async fn stop(mut self) {
        self.server.stop().await;
        if let Some(db) = self.db.take() {
            db.drop_database().await;
        }
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// Where a browser ends up after following Postern's redirects.
#[derive(Debug)]
pub enum Landing {
    /// A Postern page.
    Page {
        status: u16,
        url: String,
        body: String,
        request_id: String,
    },
    /// A redirect out of Postern (to the application).
    App(String),
}

impl Landing {
    pub fn app_url(&self) -> &str {
        match self {
            Landing::App(u) => u,
            other => panic!("expected a redirect to the app, got {other:?}"),
        }
    }

    pub fn page(&self) -> (&str, &str) {
        match self {
            Landing::Page { url, body, .. } => (url, body),
            other => panic!("expected a Postern page, got {other:?}"),
        }
    }

    pub fn body(&self) -> &str {
        self.page().1
    }
}

/// A browser: keeps cookies, sends Origin and Sec-Fetch-Site like a real one, follows redirects
/// itself.
#[derive(Clone)]
pub struct Browser {
    pub http: reqwest::Client,
    issuer: String,
}

impl Browser {
    pub fn new(server: &TestServer) -> Browser {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Browser {
            http,
            issuer: server.issuer().to_owned(),
        }
    }

    /// GETs `url` and follows redirects while they stay on Postern.
    pub async fn open(&self, url: &str) -> Landing {
        let res = self.http.get(url).send().await.unwrap();
        self.land(res).await
    }

    /// POSTs a form (as a same-origin page would) and follows redirects within Postern.
    pub async fn submit(&self, url: &str, form: &[(&str, &str)]) -> Landing {
        let res = self
            .http
            .post(url)
            .header("origin", &self.issuer)
            .header("sec-fetch-site", "same-origin")
            .form(form)
            .send()
            .await
            .unwrap();
        self.land(res).await
    }

    async fn land(&self, mut res: reqwest::Response) -> Landing {
        for _ in 0..10 {
            let status = res.status().as_u16();
            if (300..400).contains(&status) {
                let loc = res.headers()["location"].to_str().unwrap().to_owned();
                let next = if loc.starts_with('/') {
                    format!("{}{loc}", self.issuer)
                } else {
                    loc
                };
                if !next.starts_with(&self.issuer) {
                    return Landing::App(next);
                }
                res = self.http.get(&next).send().await.unwrap();
                continue;
            }
            let url = res.url().to_string();
            let request_id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
            let body = res.text().await.unwrap();
            return Landing::Page {
                status,
                url,
                body,
                request_id,
            };
        }
        panic!("redirect loop");
    }

    /// Opens `authorize_url`, fills the sign-in form and returns where it lands.
    pub async fn sign_in(&self, authorize_url: &str, username: &str, password: &str) -> Landing {
        let landing = self.open(authorize_url).await;
        let (url, body) = landing.page();
        assert!(
            url.contains("/signin/"),
            "expected the sign-in page, got {url}"
        );
        self.submit_password(body, username, password).await
    }

    /// Fills the sign-in form found in `body`.
    pub async fn submit_password(&self, body: &str, username: &str, password: &str) -> Landing {
        let action = format!("{}{}", self.issuer, attr(body, "action").expect("a form"));
        let csrf = hidden(body, "csrf").expect("a csrf field");
        self.submit(
            &action,
            &[
                ("csrf", &csrf),
                ("username", username),
                ("password", password),
            ],
        )
        .await
    }
}

impl Browser {
    /// Signs `username` in to `client` (PKCE, plus `extra` parameters) and returns the
    /// authorization code and the PKCE verifier.
    pub async fn code_for(
        &self,
        server: &TestServer,
        client: &Client,
        username: &str,
        extra: &[(&str, &str)],
    ) -> (String, String) {
        let (url, verifier, _, _) = authorize_url(server, client, extra);
        let landing = self.sign_in(&url, username, PASSWORD).await;
        (
            query_param(landing.app_url(), "code").expect("a code"),
            verifier,
        )
    }
}

/// The sign-in form of a page: where it posts and its anti-forgery token, for tests that post it
/// themselves (in parallel, to another node, with odd bodies).
pub struct SignInForm {
    pub action: String,
    pub csrf: String,
}

impl SignInForm {
    pub fn of(server: &TestServer, body: &str) -> SignInForm {
        SignInForm {
            action: format!(
                "{}{}",
                server.issuer(),
                attr(body, "action").expect("a form")
            ),
            csrf: hidden(body, "csrf").expect("a csrf field"),
        }
    }

    /// Posts username and password as a same-origin page would.
    pub async fn post(
        &self,
        http: &reqwest::Client,
        origin: &str,
        username: &str,
        password: &str,
    ) -> reqwest::Response {
        http.post(&self.action)
            .header("origin", origin)
            .form(&[
                ("csrf", self.csrf.as_str()),
                ("username", username),
                ("password", password),
            ])
            .send()
            .await
            .unwrap()
    }
}

/// The value of the first `NAME="…"` attribute.
pub fn attr(body: &str, name: &str) -> Option<String> {
    let key = format!("{name}=\"");
    let start = body.find(&key)? + key.len();
    let end = body[start..].find('"')? + start;
    Some(
        body[start..end]
            .replace("&#x2f;", "/")
            .replace("&#47;", "/"),
    )
}

/// The value of a hidden input.
pub fn hidden(body: &str, name: &str) -> Option<String> {
    let key = format!("name=\"{name}\" value=\"");
    let start = body.find(&key)? + key.len();
    let end = body[start..].find('"')? + start;
    Some(body[start..end].to_owned())
}

/// A query parameter of a URL.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// An authorization URL for `client` with PKCE; returns (url, verifier, state, nonce).
pub fn authorize_url(
    server: &TestServer,
    client: &Client,
    extra: &[(&str, &str)],
) -> (String, String, String, String) {
    let verifier = random::token(&OsRandom, 32);
    let state = random::token(&OsRandom, 8);
    let nonce = random::token(&OsRandom, 8);
    let challenge = postern_core::oidc::pkce::challenge_s256(&verifier);
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("response_type", "code")
        .append_pair("client_id", &client.id)
        .append_pair("redirect_uri", &client.redirect_uris[0])
        .append_pair("scope", "openid profile email")
        .append_pair("state", &state)
        .append_pair("nonce", &nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    for (k, v) in extra {
        q.append_pair(k, v);
    }
    (
        format!("{}/authorize?{}", server.issuer(), q.finish()),
        verifier,
        state,
        nonce,
    )
}

/// Redeems a code with a confidential client's Basic credentials (or as a public client).
pub async fn redeem(
    server: &TestServer,
    client: &Client,
    secret: Option<&str>,
    code: &str,
    verifier: &str,
) -> reqwest::Response {
    let http = reqwest::Client::new();
    let mut req = http.post(server.url("/token"));
    let mut form = vec![
        ("grant_type", "authorization_code".to_owned()),
        ("code", code.to_owned()),
        ("redirect_uri", client.redirect_uris[0].clone()),
        ("code_verifier", verifier.to_owned()),
    ];
    match secret {
        Some(s) => req = req.basic_auth(&client.id, Some(s)),
        None => form.push(("client_id", client.id.clone())),
    }
    req.form(&form).send().await.unwrap()
}

/// Undoes the HTML escaping of an attribute value or text.
pub fn unescape(s: &str) -> String {
    s.replace("&#x2f;", "/")
        .replace("&#47;", "/")
        .replace("&#38;", "&")
        .replace("&amp;", "&")
        .replace("&#x3d;", "=")
        .replace("&#61;", "=")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
}

/// The `otpauth://` URI an enrollment page carries in its `data-otpauth-uri` attribute.
pub fn otpauth_uri(body: &str) -> String {
    unescape(&attr(body, "data-otpauth-uri").expect("a data-otpauth-uri attribute"))
}

/// An authenticator app, as an independent implementation (the `totp-rs` crate) set up from the
/// `otpauth://` URI exactly as a phone app would scan it.
pub struct AuthenticatorApp(pub totp_rs::Totp);

impl AuthenticatorApp {
    pub fn scan(uri: &str) -> AuthenticatorApp {
        AuthenticatorApp(totp_rs::Totp::from_url(uri).expect("a standard otpauth URI"))
    }

    /// The code the app shows at the server's current time (plus `offset`).
    pub fn code(&self, server: &TestServer, offset: time::Duration) -> String {
        let now = (server.clock.now() + offset).unix_timestamp() as u64;
        self.0.generate(now).to_string()
    }
}

/// The values of every `data-recovery-code` element.
pub fn recovery_codes(body: &str) -> Vec<String> {
    body.split("<code data-recovery-code>")
        .skip(1)
        .filter_map(|rest| rest.split_once("</code>").map(|(code, _)| code.to_owned()))
        .collect()
}

impl Browser {
    /// Adds an authenticator app from Security info (the browser must be signed in); returns it.
    pub async fn add_authenticator(&self, server: &TestServer) -> AuthenticatorApp {
        let page = self.open(&server.url("/account/security/totp")).await;
        let body = page.body();
        assert!(body.contains("Secret key"), "{body}");
        let app = AuthenticatorApp::scan(&otpauth_uri(body));
        let landing = self
            .submit(
                &server.url("/account/security/totp"),
                &[
                    ("csrf", &hidden(body, "csrf").unwrap()),
                    ("enrollment", &hidden(body, "enrollment").unwrap()),
                    ("name", "Phone"),
                    ("code", &app.code(server, time::Duration::ZERO)),
                ],
            )
            .await;
        assert!(
            landing.body().contains("Authenticator app added"),
            "{}",
            landing.body()
        );
        app
    }

    /// Makes a new set of recovery codes from Security info; returns them.
    pub async fn create_recovery_codes(&self, server: &TestServer) -> Vec<String> {
        let page = self.open(&server.url("/account/security")).await;
        let csrf = hidden(page.body(), "csrf").unwrap();
        let landing = self
            .submit(
                &server.url("/account/security/recovery-codes"),
                &[("csrf", &csrf)],
            )
            .await;
        let codes = recovery_codes(landing.body());
        assert_eq!(codes.len(), 10, "{}", landing.body());
        codes
    }

    /// Answers a second-factor prompt page with `code`.
    pub async fn submit_code(&self, body: &str, code: &str, remember: bool) -> Landing {
        let action = format!("{}{}", self.issuer, attr(body, "action").expect("a form"));
        let mut form = vec![
            ("csrf", hidden(body, "csrf").expect("a csrf field")),
            ("method", hidden(body, "method").expect("a method field")),
            ("code", code.to_owned()),
        ];
        if remember {
            form.push(("remember", "yes".to_owned()));
        }
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.submit(&action, &form).await
    }
}

// Second factors.

/// One TOTP time step.
pub const STEP: time::Duration = time::Duration::seconds(30);

/// Redeems a public client's code and returns the claims of the ID token it gets.
pub async fn signed_in_claims(
    server: &TestServer,
    client: &Client,
    code: &str,
    verifier: &str,
) -> Value {
    let tokens: Value = redeem(server, client, None, code, verifier)
        .await
        .json()
        .await
        .unwrap();
    id_token_claims(&tokens)
}

/// The claims of an ID token (its signature is checked by the OIDC tests).
pub fn id_token_claims(tokens: &Value) -> Value {
    let jwt = tokens["id_token"].as_str().unwrap();
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &data_encoding::BASE64URL_NOPAD
            .decode(payload.as_bytes())
            .unwrap(),
    )
    .unwrap()
}

/// A user with an authenticator app added through Security info (after a password-only sign-in
/// under `when_registered`), and a fresh browser.
pub async fn user_with_app(server: &TestServer, name: &str) -> AuthenticatorApp {
    server.create_user(name).await;
    let setup = Browser::new(server);
    let landing = setup
        .sign_in(&server.url("/account/signin"), name, PASSWORD)
        .await;
    assert!(
        landing.body().contains("Security info"),
        "{}",
        landing.body()
    );
    let app = setup.add_authenticator(server).await;
    // The enrollment code's time step is used up; sign-ins use the next codes.
    server.advance(STEP);
    app
}

/// The most recent sign-in log entry of `username`.
pub async fn last_signin(server: &TestServer, username: &str) -> SignInEntry {
    server
        .store()
        .list_signins(50)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.username.as_deref() == Some(username))
        .expect("a sign-in log entry")
}

/// The words of every step of an entry, one per line.
pub fn steps_text(entry: &SignInEntry) -> String {
    entry
        .steps
        .iter()
        .map(|s| format!("{} {} {}", s.method, s.result.as_str(), s.detail))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The error code shown on a page, if any.
pub fn shown_code(body: &str) -> Option<String> {
    let key = "data-field=\"error-code\">";
    let start = body.find(key)? + key.len();
    Some(body[start..].split('<').next()?.to_owned())
}

/// Every link target of a page, unescaped.
pub fn links(body: &str) -> Vec<String> {
    body.split("href=\"")
        .skip(1)
        .filter_map(|r| r.split('"').next())
        .map(unescape)
        .collect()
}

/// The id of the user's recovery-code set.
pub async fn recovery_method_id(server: &TestServer, username: &str) -> String {
    let user = server
        .store()
        .find_user_by_username(username)
        .await
        .unwrap()
        .unwrap();
    server
        .store()
        .list_methods(&user.id)
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.kind() == postern_core::credential::method::MethodKind::RecoveryCodes)
        .unwrap()
        .id
}

/// Signs `username` in to `client` up to the second-factor prompt; returns its body and the
/// PKCE verifier.
pub async fn prompt_for(
    server: &TestServer,
    browser: &Browser,
    client: &postern_core::client::Client,
    username: &str,
    extra: &[(&str, &str)],
) -> (String, String) {
    let (url, verifier, _, _) = authorize_url(server, client, extra);
    let landing = browser.sign_in(&url, username, PASSWORD).await;
    let body = landing.body().to_owned();
    assert!(
        body.contains("name=\"method\""),
        "expected a second-factor prompt: {body}"
    );
    (body, verifier)
}

// Push devices.

/// A Postern Authenticator as the server sees it: a device key and signed requests, built from the
/// wire contract (`postern_proto::authenticator`) alone.
pub struct TestDevice {
    pub id: String,
    key: DeviceKey,
    pub http: reqwest::Client,
}

/// The device key: Ed25519 as the CLI makes it, or ECDSA P-256 as a browser without Ed25519 does.
enum DeviceKey {
    Ed25519(aws_lc_rs::signature::Ed25519KeyPair),
    P256(aws_lc_rs::signature::EcdsaKeyPair),
}

impl DeviceKey {
    fn sign(&self, msg: &[u8]) -> Vec<u8> {
        match self {
            DeviceKey::Ed25519(k) => k.sign(msg).as_ref().to_vec(),
            DeviceKey::P256(k) => k
                .sign(&aws_lc_rs::rand::SystemRandom::new(), msg)
                .unwrap()
                .as_ref()
                .to_vec(),
        }
    }
}

impl TestDevice {
    /// Activates a new device from an activation link; returns it and the TOTP app it also is.
    pub async fn activate(activation_url: &str, name: &str) -> (TestDevice, AuthenticatorApp) {
        use aws_lc_rs::signature::KeyPair;
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let pkcs8 = aws_lc_rs::signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let key = aws_lc_rs::signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let public = key.public_key().as_ref().to_vec();
        Self::activate_with(
            activation_url,
            name,
            DeviceKey::Ed25519(key),
            &public,
            "ed25519",
        )
        .await
    }

    /// Activates a new device whose key is ECDSA P-256 (`key_algorithm: p256`).
    pub async fn activate_p256(activation_url: &str, name: &str) -> (TestDevice, AuthenticatorApp) {
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
        let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let public = key.public_key().as_ref().to_vec();
        Self::activate_with(activation_url, name, DeviceKey::P256(key), &public, "p256").await
    }

    async fn activate_with(
        activation_url: &str,
        name: &str,
        key: DeviceKey,
        public: &[u8],
        algorithm: &str,
    ) -> (TestDevice, AuthenticatorApp) {
        let (base, code) = activation_url
            .split_once("/authenticator/activate?code=")
            .unwrap();
        let http = reqwest::Client::new();
        let res = http
            .post(format!("{base}/api/authenticator/v1/activate"))
            .json(&serde_json::json!({
                "code": code,
                "public_key": data_encoding::BASE64URL_NOPAD.encode(public),
                "key_algorithm": algorithm,
                "device_name": name,
                "app_version": "test",
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "activation refused");
        assert_eq!(
            res.headers()["cache-control"],
            "no-store",
            "the answer holds the seed"
        );
        let body: Value = res.json().await.unwrap();
        let app = AuthenticatorApp::scan(body["totp_uri"].as_str().unwrap());
        let id = body["device_id"].as_str().unwrap().to_owned();
        (TestDevice { id, key, http }, app)
    }

    /// A request signed at the server's current time.
    pub fn request(
        &self,
        server: &TestServer,
        method: reqwest::Method,
        path: &str,
        body: &[u8],
    ) -> reqwest::RequestBuilder {
        let ts = postern_core::clock::to_millis(server.clock.now());
        self.request_at(server, method, path, body, ts)
    }

    pub fn request_at(
        &self,
        server: &TestServer,
        method: reqwest::Method,
        path: &str,
        body: &[u8],
        ts: i64,
    ) -> reqwest::RequestBuilder {
        let sig = self.signature_at(&method, path, body, ts);
        self.signed_with(server, method, path, body, ts, &sig)
    }

    /// The device's signature of a request (the contract's signing input).
    pub fn signature_at(
        &self,
        method: &reqwest::Method,
        path: &str,
        body: &[u8],
        ts: i64,
    ) -> Vec<u8> {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, body);
        let input = postern_proto::authenticator::signing_input(
            method.as_str(),
            path,
            &data_encoding::BASE64URL_NOPAD.encode(digest.as_ref()),
            ts,
            &self.id,
        );
        self.key.sign(input.as_bytes())
    }

    /// The request of [`TestDevice::request_at`] with a signature given by the caller.
    pub fn signed_with(
        &self,
        server: &TestServer,
        method: reqwest::Method,
        path: &str,
        body: &[u8],
        ts: i64,
        sig: &[u8],
    ) -> reqwest::RequestBuilder {
        self.http
            .request(method, server.url(path))
            .header("postern-device", &self.id)
            .header("postern-timestamp", ts.to_string())
            .header(
                "postern-signature",
                data_encoding::BASE64URL_NOPAD.encode(sig),
            )
            .header("content-type", "application/json")
            .body(body.to_vec())
    }

    /// The pull-to-refresh.
    pub async fn pending(&self, server: &TestServer) -> Vec<Value> {
        let res = self
            .request(
                server,
                reqwest::Method::GET,
                "/api/authenticator/v1/pending",
                b"",
            )
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        body["challenges"].as_array().unwrap().clone()
    }

    /// Answers a request; returns the HTTP status and the body.
    pub async fn answer(
        &self,
        server: &TestServer,
        id: &str,
        approve: bool,
        number: Option<u32>,
        report: bool,
    ) -> (u16, Value) {
        let mut body = serde_json::json!({
            "decision": if approve { "approve" } else { "deny" },
            "report": report,
        });
        if let Some(n) = number {
            body["number"] = n.into();
        }
        let bytes = serde_json::to_vec(&body).unwrap();
        let path = format!("/api/authenticator/v1/challenges/{id}/answer");
        let res = self
            .request(server, reqwest::Method::POST, &path, &bytes)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }
}

impl Browser {
    /// Adds a Postern Authenticator from Security info (signed in); returns the device.
    pub async fn add_push_device(
        &self,
        server: &TestServer,
        name: &str,
    ) -> (TestDevice, AuthenticatorApp) {
        TestDevice::activate(&self.activation_url(server).await, name).await
    }

    /// A fresh activation link from Security info's "Add the Postern Authenticator".
    pub async fn activation_url(&self, server: &TestServer) -> String {
        let page = self.open(&server.url("/account/security/push")).await;
        unescape(&attr(page.body(), "data-activation-url").expect("an activation link"))
    }
}

impl Browser {
    /// From a second-factor page, "Sign in another way" → the choice whose label starts with
    /// `label`; returns where that lands.
    pub async fn choose_another_way(
        &self,
        server: &TestServer,
        page: &str,
        label: &str,
    ) -> Landing {
        let other = links(page)
            .into_iter()
            .find(|l| l.ends_with("/other"))
            .expect("Sign in another way");
        let ways = self.open(&server.url(&other)).await;
        let link = ways
            .body()
            .split("<a href=\"")
            .skip(1)
            .find(|r| r.contains(&format!(">{label}")))
            .map(|r| unescape(r.split('"').next().unwrap()))
            .unwrap_or_else(|| panic!("no choice '{label}': {}", ways.body()));
        self.open(&server.url(&link)).await
    }
}

/// The number a push waiting page shows.
pub fn match_number(body: &str) -> u32 {
    attr(body, "data-match-number")
        .expect("a push waiting page")
        .parse()
        .unwrap()
}

// Admin API tokens.

/// Makes an admin API token of `role` directly in the store (the bootstrap: the first token of a
/// deployment comes from `postern admin token create` on the server); returns the bearer secret
/// (`pat_…`) and the stored token. `expires_in: None` never expires.
pub async fn create_admin_token(
    server: &TestServer,
    name: &str,
    role: postern_core::admin::Role,
    expires_in: Option<time::Duration>,
) -> (String, postern_core::admin::AdminToken) {
    let secret = format!(
        "{}{}",
        postern_core::admin::TOKEN_PREFIX,
        random::token(&OsRandom, 32)
    );
    let now = server.clock.now();
    let token = postern_core::admin::AdminToken {
        id: random::uuid(&OsRandom),
        name: name.to_owned(),
        role,
        created: now,
        expires: expires_in.map(|d| now + d),
        revoked: None,
        last_used: None,
        created_by: "test set-up".into(),
    };
    server
        .store()
        .create_admin_token(&token, &hash_token(&secret))
        .await
        .unwrap();
    (secret, token)
}

/// Makes a token through `POST /admin/v1/tokens` with an admin token's bearer secret, as every
/// token after the first is made; returns the new bearer secret and the API's answer.
pub async fn create_admin_token_via_api(
    server: &TestServer,
    admin_secret: &str,
    name: &str,
    role: postern_core::admin::Role,
) -> (String, Value) {
    let res = reqwest::Client::new()
        .post(server.url("/admin/v1/tokens"))
        .bearer_auth(admin_secret)
        .json(&serde_json::json!({ "name": name, "role": role }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "token creation refused");
    let body: Value = res.json().await.unwrap();
    let secret = body["token"]
        .as_str()
        .expect("the token, shown once")
        .to_owned();
    (secret, body)
}
