//! Passkeys as a browser and an authenticator play them: two software authenticators and the
//! HTTP steps of the pages' script (options as JSON, the answer posted as a form).
//!
//! - [`SoftKey`]: `webauthn-authenticator-rs`'s soft passkey (the WebAuthn library's own project):
//!   device-bound, no discoverable credentials, counter kept.
//! - [`TestKey`]: an authenticator written here from the WebAuthn and CTAP2 texts alone (CBOR,
//!   authenticator data, ES256 over aws-lc-rs), independent of the server's library, with every
//!   flag in the test's hands: discoverable credentials with a user handle, synced (BE/BS),
//!   user verification or not, a chosen AAGUID, a counter that can be moved back, a bad signature.

use super::*;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use data_encoding::BASE64URL_NOPAD as B64U;

/// The issuer's origin and RP id, as a browser derives them.
fn origin_of(server: &TestServer) -> (String, String) {
    let url = url::Url::parse(server.issuer()).unwrap();
    (
        url.origin().ascii_serialization(),
        url.host_str().unwrap().to_owned(),
    )
}

// --- CBOR, just what an authenticator writes (RFC 8949 major types 0, 1, 2, 3, 5).
fn cbor_head(out: &mut Vec<u8>, major: u8, n: u64) {
    let m = major << 5;
    match n {
        0..=23 => out.push(m | n as u8),
        24..=0xff => out.extend([m | 24, n as u8]),
        0x100..=0xffff => {
            out.push(m | 25);
            out.extend((n as u16).to_be_bytes());
        }
        _ => {
            out.push(m | 26);
            out.extend((n as u32).to_be_bytes());
        }
    }
}
fn cbor_int(out: &mut Vec<u8>, v: i64) {
    if v >= 0 {
        cbor_head(out, 0, v as u64);
    } else {
        cbor_head(out, 1, (-1 - v) as u64);
    }
}
fn cbor_bytes(out: &mut Vec<u8>, b: &[u8]) {
    cbor_head(out, 2, b.len() as u64);
    out.extend_from_slice(b);
}
fn cbor_text(out: &mut Vec<u8>, s: &str) {
    cbor_head(out, 3, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// An independent software authenticator holding one credential.
pub struct TestKey {
    key: EcdsaKeyPair,
    pub credential_id: Vec<u8>,
    pub aaguid: [u8; 16],
    /// Backup eligible and backed up: a synced passkey.
    pub synced: bool,
    /// Whether it verifies the user (PIN, biometrics).
    pub verifies_user: bool,
    pub counter: u32,
    /// The user handle it stored at registration (a discoverable credential).
    pub user_handle: Option<Vec<u8>>,
    /// Corrupts the next signature.
    pub forge_signature: bool,
}

impl TestKey {
    pub fn new() -> TestKey {
        let mut credential_id = vec![0u8; 16];
        aws_lc_rs::rand::SecureRandom::fill(&SystemRandom::new(), &mut credential_id).unwrap();
        TestKey {
            key: EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap(),
            credential_id,
            aaguid: [0; 16],
            synced: false,
            verifies_user: true,
            counter: 0,
            user_handle: None,
            forge_signature: false,
        }
    }

    /// A key of the model `aaguid` (hyphenated).
    pub fn model(mut self, aaguid: &str) -> TestKey {
        let hex = aaguid.replace('-', "");
        let bytes = data_encoding::HEXLOWER_PERMISSIVE
            .decode(hex.as_bytes())
            .unwrap();
        self.aaguid.copy_from_slice(&bytes);
        self
    }

    pub fn synced(mut self) -> TestKey {
        self.synced = true;
        self
    }

    fn flags(&self, attested_data: bool) -> u8 {
        let mut f = 0x01; // UP
        if self.verifies_user {
            f |= 0x04;
        }
        if self.synced {
            f |= 0x08 | 0x10;
        }
        if attested_data {
            f |= 0x40;
        }
        f
    }

    fn client_data(kind: &str, challenge: &str, origin: &str) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "type": kind, "challenge": challenge, "origin": origin, "crossOrigin": false
        }))
        .unwrap()
    }

    fn cose_key(&self) -> Vec<u8> {
        let point = self.key.public_key().as_ref();
        assert_eq!(point.len(), 65, "an uncompressed P-256 point");
        let mut k = vec![];
        cbor_head(&mut k, 5, 5);
        cbor_int(&mut k, 1);
        cbor_int(&mut k, 2); // kty: EC2
        cbor_int(&mut k, 3);
        cbor_int(&mut k, -7); // alg: ES256
        cbor_int(&mut k, -1);
        cbor_int(&mut k, 1); // crv: P-256
        cbor_int(&mut k, -2);
        cbor_bytes(&mut k, &point[1..33]);
        cbor_int(&mut k, -3);
        cbor_bytes(&mut k, &point[33..65]);
        k
    }

    /// `navigator.credentials.create` with `options` (the server's JSON) at `server`'s origin.
    pub fn register(&mut self, server: &TestServer, options: &Value) -> String {
        let (origin, rp_id) = origin_of(server);
        let pk = &options["publicKey"];
        assert_eq!(
            pk["rp"]["id"],
            rp_id.as_str(),
            "the RP id is the issuer's host"
        );
        let excluded = pk["excludeCredentials"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mine = B64U.encode(&self.credential_id);
        assert!(
            !excluded.iter().any(|c| c["id"] == mine.as_str()),
            "a browser refuses to register an excluded authenticator (InvalidStateError)"
        );
        let challenge = pk["challenge"].as_str().unwrap();
        if pk["authenticatorSelection"]["residentKey"] != "discouraged" {
            self.user_handle = Some(
                B64U.decode(pk["user"]["id"].as_str().unwrap().as_bytes())
                    .unwrap(),
            );
        }
        let client_data = Self::client_data("webauthn.create", challenge, &origin);
        let mut auth_data = postern_core::secret::sha256(rp_id.as_bytes()).to_vec();
        auth_data.push(self.flags(true));
        auth_data.extend(self.counter.to_be_bytes());
        auth_data.extend(self.aaguid);
        auth_data.extend((self.credential_id.len() as u16).to_be_bytes());
        auth_data.extend(&self.credential_id);
        auth_data.extend(self.cose_key());
        let mut object = vec![];
        cbor_head(&mut object, 5, 3);
        cbor_text(&mut object, "fmt");
        cbor_text(&mut object, "none");
        cbor_text(&mut object, "attStmt");
        cbor_head(&mut object, 5, 0);
        cbor_text(&mut object, "authData");
        cbor_bytes(&mut object, &auth_data);
        json!({
            "id": mine, "rawId": mine, "type": "public-key",
            "response": {
                "attestationObject": B64U.encode(&object),
                "clientDataJSON": B64U.encode(&client_data),
                "transports": ["internal"]
            },
            "extensions": {}
        })
        .to_string()
    }

    /// `navigator.credentials.get` with `options` at `server`'s origin (bumps the counter).
    pub fn sign(&mut self, server: &TestServer, options: &Value) -> String {
        let (origin, rp_id) = origin_of(server);
        let pk = &options["publicKey"];
        let challenge = pk["challenge"].as_str().unwrap();
        self.counter += 1;
        let client_data = Self::client_data("webauthn.get", challenge, &origin);
        let mut auth_data = postern_core::secret::sha256(rp_id.as_bytes()).to_vec();
        auth_data.push(self.flags(false));
        auth_data.extend(self.counter.to_be_bytes());
        let mut signed = auth_data.clone();
        signed.extend(postern_core::secret::sha256(&client_data));
        let mut signature = self
            .key
            .sign(&SystemRandom::new(), &signed)
            .unwrap()
            .as_ref()
            .to_vec();
        if std::mem::take(&mut self.forge_signature) {
            let last = signature.len() - 1;
            signature[last] ^= 0x55;
        }
        let id = B64U.encode(&self.credential_id);
        let mut response = json!({
            "authenticatorData": B64U.encode(&auth_data),
            "clientDataJSON": B64U.encode(&client_data),
            "signature": B64U.encode(&signature),
        });
        if let Some(handle) = &self.user_handle {
            response["userHandle"] = json!(B64U.encode(handle));
        }
        json!({"id": id, "rawId": id, "type": "public-key", "response": response, "extensions": {}})
            .to_string()
    }
}

/// `webauthn-authenticator-rs`'s soft passkey, as the browser would drive it.
pub struct SoftKey(webauthn_authenticator_rs::softpasskey::SoftPasskey);

impl SoftKey {
    pub fn new() -> SoftKey {
        // It has no PIN of its own: "falsify UV" makes it claim user verification, as a key with
        // a PIN entered would.
        SoftKey(webauthn_authenticator_rs::softpasskey::SoftPasskey::new(
            true,
        ))
    }

    pub fn register(&mut self, server: &TestServer, options: &Value) -> String {
        use webauthn_authenticator_rs::prelude::WebauthnAuthenticator;
        let origin = url::Url::parse(&origin_of(server).0).unwrap();
        let options = serde_json::from_value(options.clone()).unwrap();
        let answer = self.0.do_registration(origin, options).unwrap();
        serde_json::to_string(&answer).unwrap()
    }

    pub fn sign(&mut self, server: &TestServer, options: &Value) -> String {
        use webauthn_authenticator_rs::prelude::WebauthnAuthenticator;
        let origin = url::Url::parse(&origin_of(server).0).unwrap();
        let options = serde_json::from_value(options.clone()).unwrap();
        let answer = self.0.do_authentication(origin, options).unwrap();
        serde_json::to_string(&answer).unwrap()
    }
}

/// Either authenticator.
pub trait Authenticator {
    fn create(&mut self, server: &TestServer, options: &Value) -> String;
    fn get(&mut self, server: &TestServer, options: &Value) -> String;
}

impl Authenticator for TestKey {
    fn create(&mut self, server: &TestServer, options: &Value) -> String {
        self.register(server, options)
    }
    fn get(&mut self, server: &TestServer, options: &Value) -> String {
        self.sign(server, options)
    }
}

impl Authenticator for SoftKey {
    fn create(&mut self, server: &TestServer, options: &Value) -> String {
        self.register(server, options)
    }
    fn get(&mut self, server: &TestServer, options: &Value) -> String {
        self.sign(server, options)
    }
}

impl Browser {
    /// What the pages' script does first: POSTs the form's anti-forgery token to the options URL
    /// of a `data-passkey` form and reads the JSON.
    pub async fn passkey_options(&self, body: &str) -> Value {
        let options_url = attr(body, "data-passkey-options").expect("a passkey form");
        let csrf = hidden(body, "csrf").unwrap();
        let res = self
            .http
            .post(format!("{}{options_url}", self.issuer))
            .header("origin", &self.issuer)
            .header("sec-fetch-site", "same-origin")
            .form(&[("csrf", csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "passkey options");
        res.json().await.unwrap()
    }

    /// Runs a passkey page's ceremony with `key` (`name` for a registration) and posts the
    /// answer as the script does.
    pub async fn use_passkey(
        &self,
        server: &TestServer,
        body: &str,
        key: &mut dyn Authenticator,
        name: Option<&str>,
    ) -> Landing {
        let options = self.passkey_options(body).await;
        let answer = if options["publicKey"].get("user").is_some() {
            key.create(server, &options)
        } else {
            key.get(server, &options)
        };
        self.answer_passkey(body, &answer, name).await
    }

    /// Posts `answer` as the passkey form of `body` would.
    pub async fn answer_passkey(&self, body: &str, answer: &str, name: Option<&str>) -> Landing {
        let passkey_form = &body[body.find("data-passkey=").expect("a passkey form")..];
        let start = body[..body.len() - passkey_form.len()]
            .rfind("<form")
            .unwrap();
        let action = attr(&body[start..], "action").unwrap();
        let csrf = hidden(body, "csrf").unwrap();
        let mut form = vec![("csrf", csrf.as_str()), ("credential", answer)];
        if let Some(name) = name {
            form.push(("name", name));
        }
        self.submit(&format!("{}{action}", self.issuer), &form)
            .await
    }

    /// Adds a passkey from Security info (signed in); returns the page it lands on.
    pub async fn add_passkey(
        &self,
        server: &TestServer,
        key: &mut dyn Authenticator,
        name: Option<&str>,
    ) -> Landing {
        let page = self.open(&server.url("/account/security/passkey")).await;
        let body = page.body().to_owned();
        assert!(body.contains("Add a passkey or security key"), "{body}");
        self.use_passkey(server, &body, key, name).await
    }
}
