//! Push devices: a Postern Authenticator built from the wire contract alone.

use super::*;

// Push devices.

/// A Postern Authenticator as the server sees it: a device key and signed requests, built from the
/// wire contract (`postern_proto::authenticator`) alone.
pub struct TestDevice {
    pub id: String,
    key: DeviceKey,
    pub http: reqwest::Client,
    /// The node its requests go to (`http://host:port`), when not the server's issuer: another
    /// node of the deployment, as a load balancer would pick.
    pub node: Option<String>,
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
        (
            TestDevice {
                id,
                key,
                http,
                node: None,
            },
            app,
        )
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
        let url = match &self.node {
            Some(node) => format!("{node}{path}"),
            None => server.url(path),
        };
        self.http
            .request(method, url)
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
