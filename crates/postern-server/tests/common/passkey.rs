//! Passkeys as a browser and an authenticator play them: two software authenticators and the
//! HTTP steps of the pages' script (options as JSON, the answer posted as a form).
//!
//! - [`SoftKey`]: `webauthn-authenticator-rs`'s soft passkey (the WebAuthn library's own project):
//!   device-bound, no discoverable credentials, counter kept.
//! - [`TestKey`] (`test_key.rs`): an authenticator written from the specifications alone,
//!   independent of the server's library, with every flag in the test's hands.

pub use super::test_key::TestKey;
use super::*;

/// The issuer's origin and RP id, as a browser derives them.
pub fn origin_of(server: &TestServer) -> (String, String) {
    let url = url::Url::parse(server.issuer()).unwrap();
    (
        url.origin().ascii_serialization(),
        url.host_str().unwrap().to_owned(),
    )
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
        let (origin, rp_id) = origin_of(server);
        self.register(&origin, &rp_id, options)
    }
    fn get(&mut self, server: &TestServer, options: &Value) -> String {
        let (origin, rp_id) = origin_of(server);
        self.sign(&origin, &rp_id, options)
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

/// An authenticator maker: a root certificate (PEM, for `passkeys.attestation_roots`) whose
/// attestation certificates carry a model's AAGUID, as WebAuthn §8.2.1 asks of packed
/// attestation.
pub struct Maker {
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    pub root_pem: String,
}

impl Maker {
    pub fn new(name: &str) -> Maker {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, format!("{name} Root"));
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        let root = params.self_signed(&key).unwrap();
        Maker {
            root_pem: root.pem(),
            issuer: rcgen::Issuer::new(params, key),
        }
    }

    /// Writes the root into `dir` and returns its path.
    pub fn root_file(&self, dir: &std::path::Path) -> String {
        let path = dir.join(format!("root-{}.pem", random::token(&OsRandom, 6)));
        std::fs::write(&path, &self.root_pem).unwrap();
        path.to_string_lossy().into_owned()
    }

    /// `key`, attested by this maker as the model `key.aaguid`.
    pub fn attest(&self, mut key: TestKey) -> TestKey {
        let leaf = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        for (kind, value) in [
            (rcgen::DnType::CountryName, "SE"),
            (rcgen::DnType::OrganizationName, "Test Maker"),
            (
                rcgen::DnType::OrganizationalUnitName,
                "Authenticator Attestation",
            ),
            (rcgen::DnType::CommonName, "Test Key"),
        ] {
            params.distinguished_name.push(kind, value);
        }
        params.is_ca = rcgen::IsCa::ExplicitNoCa;
        params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
        let mut octets = vec![0x04, 16];
        octets.extend(key.aaguid);
        params
            .custom_extensions
            .push(rcgen::CustomExtension::from_oid_content(
                &[1, 3, 6, 1, 4, 1, 45724, 1, 1, 4],
                octets,
            ));
        let certificate = params.signed_by(&leaf, &self.issuer).unwrap();
        let signer = aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            &leaf.serialize_der(),
        )
        .unwrap();
        key.attestation = Some((signer, certificate.der().to_vec()));
        key
    }
}
