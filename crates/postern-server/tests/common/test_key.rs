//! A software passkey written from the WebAuthn and CTAP2 texts alone (CBOR, authenticator data,
//! ES256 over aws-lc-rs), independent of the server's WebAuthn library, with every flag in the
//! caller's hands: discoverable credentials with a user handle, synced (BE/BS), user
//! verification or not, a chosen AAGUID, a counter that can be moved back, a bad signature.
//! Shared by the integration tests and the benchmark (`postern-bench` includes this file).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use data_encoding::BASE64URL_NOPAD as B64U;
use serde_json::{Value, json};

fn sha256(data: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data)
        .as_ref()
        .to_vec()
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

/// A software authenticator holding one credential.
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
    /// A maker's attestation: the attestation key and its certificate (DER), for a `packed`
    /// attestation statement; `none` without.
    pub attestation: Option<(EcdsaKeyPair, Vec<u8>)>,
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
            attestation: None,
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
    pub fn register(&mut self, origin: &str, rp_id: &str, options: &Value) -> String {
        let pk = &options["publicKey"];
        assert_eq!(pk["rp"]["id"], rp_id, "the RP id is the issuer's host");
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
        let client_data = Self::client_data("webauthn.create", challenge, origin);
        let mut auth_data = sha256(rp_id.as_bytes());
        auth_data.push(self.flags(true));
        auth_data.extend(self.counter.to_be_bytes());
        auth_data.extend(self.aaguid);
        auth_data.extend((self.credential_id.len() as u16).to_be_bytes());
        auth_data.extend(&self.credential_id);
        auth_data.extend(self.cose_key());
        let mut object = vec![];
        cbor_head(&mut object, 5, 3);
        cbor_text(&mut object, "fmt");
        match &self.attestation {
            None => {
                cbor_text(&mut object, "none");
                cbor_text(&mut object, "attStmt");
                cbor_head(&mut object, 5, 0);
            }
            Some((key, certificate)) => {
                // WebAuthn §8.2 packed: the maker's key signs authData ‖ hash(clientData).
                let mut signed = auth_data.clone();
                signed.extend(sha256(&client_data));
                let sig = key.sign(&SystemRandom::new(), &signed).unwrap();
                cbor_text(&mut object, "packed");
                cbor_text(&mut object, "attStmt");
                cbor_head(&mut object, 5, 3);
                cbor_text(&mut object, "alg");
                cbor_int(&mut object, -7);
                cbor_text(&mut object, "sig");
                cbor_bytes(&mut object, sig.as_ref());
                cbor_text(&mut object, "x5c");
                cbor_head(&mut object, 4, 1);
                cbor_bytes(&mut object, certificate);
            }
        }
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
    pub fn sign(&mut self, origin: &str, rp_id: &str, options: &Value) -> String {
        let pk = &options["publicKey"];
        let challenge = pk["challenge"].as_str().unwrap();
        self.counter += 1;
        let client_data = Self::client_data("webauthn.get", challenge, origin);
        let mut auth_data = sha256(rp_id.as_bytes());
        auth_data.push(self.flags(false));
        auth_data.extend(self.counter.to_be_bytes());
        let mut signed = auth_data.clone();
        signed.extend(sha256(&client_data));
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
