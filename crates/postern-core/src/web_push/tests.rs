use super::*;
use crate::random::OsRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey as SigKey};

fn b64(s: &str) -> Vec<u8> {
    B64.decode(s.as_bytes()).unwrap()
}

// RFC 8291, Appendix A ("Intermediate Values for Encryption").
const PLAINTEXT: &str = "When I grow up, I want to be a watermelon";
const UA_PUBLIC: &str =
    "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
const UA_PRIVATE: &str = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94";
const AS_PRIVATE: &str = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw";
const AS_PUBLIC: &str =
    "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8";
const AUTH: &str = "BTBZMqHH6r4Tts7J_aSIgg";
const SALT: &str = "DGv6ra1nlYgDCS1FRnbzlw";
const BODY: &str = "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN";

#[test]
fn encryption_matches_rfc_8291_appendix_a() {
    let keys = SubscriberKeys::parse(UA_PUBLIC, AUTH).unwrap();
    let private: [u8; 32] = b64(AS_PRIVATE).try_into().unwrap();
    let salt: [u8; 16] = b64(SALT).try_into().unwrap();
    let body = encrypt_with(&keys, PLAINTEXT.as_bytes(), &private, salt).unwrap();
    assert_eq!(B64.encode(&body), BODY);
    assert_eq!(
        &body[21..86],
        b64(AS_PUBLIC).as_slice(),
        "the key id is the sender's key"
    );
}

/// The receiving side (RFC 8291 §3.4 in reverse), to check fresh messages.
fn decrypt(body: &[u8], ua_private: &[u8], ua_public: &[u8], auth: &[u8]) -> Vec<u8> {
    let (salt, rest) = body.split_at(16);
    assert_eq!(
        u32::from_be_bytes(rest[..4].try_into().unwrap()),
        RECORD_SIZE
    );
    assert_eq!(rest[4], 65);
    let (as_public, record) = rest[5..].split_at(65);
    let private = PrivateKey::from_private_key(&ECDH_P256, ua_private).unwrap();
    let secret = agreement::agree(
        &private,
        UnparsedPublicKey::new(&ECDH_P256, as_public),
        (),
        |s| Ok(s.to_vec()),
    )
    .unwrap();
    let prk_key = hmac_sha256(auth, &[&secret]);
    let ikm = hmac_sha256(&prk_key, &[b"WebPush: info\0", ua_public, as_public, &[1]]);
    let prk = hmac_sha256(salt, &[&ikm]);
    let cek = hmac_sha256(&prk, &[b"Content-Encoding: aes128gcm\0", &[1]]);
    let nonce = hmac_sha256(&prk, &[b"Content-Encoding: nonce\0", &[1]]);
    let key = LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &cek[..16]).unwrap());
    let mut data = record.to_vec();
    let plain = key
        .open_in_place(
            Nonce::try_assume_unique_for_key(&nonce[..12]).unwrap(),
            Aad::empty(),
            &mut data,
        )
        .unwrap();
    assert_eq!(plain.last(), Some(&2), "the last record's delimiter");
    plain[..plain.len() - 1].to_vec()
}

#[test]
fn fresh_messages_decrypt_and_differ() {
    let keys = SubscriberKeys::parse(UA_PUBLIC, AUTH).unwrap();
    let a = encrypt(&keys, b"{\"type\":\"challenge\"}", &OsRandom).unwrap();
    let b = encrypt(&keys, b"{\"type\":\"challenge\"}", &OsRandom).unwrap();
    assert_ne!(a, b, "a new salt and sender key each time");
    let plain = decrypt(&a, &b64(UA_PRIVATE), &b64(UA_PUBLIC), &b64(AUTH));
    assert_eq!(plain, b"{\"type\":\"challenge\"}");
    assert_eq!(
        decrypt(&b64(BODY), &b64(UA_PRIVATE), &b64(UA_PUBLIC), &b64(AUTH)),
        PLAINTEXT.as_bytes()
    );
    let too_big = vec![b'x'; MAX_PLAINTEXT + 1];
    assert!(encrypt(&keys, &too_big, &OsRandom).is_err());
    let full = encrypt(&keys, &too_big[1..], &OsRandom).unwrap();
    assert_eq!(
        full.len(),
        RECORD_SIZE as usize,
        "the largest message fills one record"
    );
}

#[test]
fn subscription_keys_are_checked() {
    assert!(SubscriberKeys::parse(UA_PUBLIC, AUTH).is_ok());
    assert!(SubscriberKeys::parse(&format!("{UA_PUBLIC}="), "BTBZMqHH6r4Tts7J_aSIgg==").is_ok());
    let mut off_curve = b64(UA_PUBLIC);
    off_curve[64] ^= 1;
    for bad in [
        B64.encode(&off_curve),
        "BAAA".into(),
        "x".repeat(200),
        "!!".into(),
    ] {
        assert_eq!(
            SubscriberKeys::parse(&bad, AUTH),
            Err(SubscriptionError::BadP256dh),
            "{bad}"
        );
    }
    assert_eq!(
        SubscriberKeys::parse(UA_PUBLIC, "AAAA"),
        Err(SubscriptionError::BadAuth)
    );
    assert!(format!("{:?}", SubscriberKeys::parse(UA_PUBLIC, AUTH).unwrap()).contains(".."));
}

#[test]
fn vapid_tokens_verify_with_the_published_key() {
    let key = VapidKey::generate().unwrap();
    let again = VapidKey::from_pkcs8(&key.to_pkcs8().unwrap()).unwrap();
    assert_eq!(again.public_key(), key.public_key());
    let endpoint = url::Url::parse("https://fcm.googleapis.com:443/fcm/send/abc?x=1").unwrap();
    let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
    let header = key.authorization(&endpoint, "mailto:it@school.example", now);
    let (t, k) = header
        .strip_prefix("vapid t=")
        .and_then(|r| r.split_once(", k="))
        .unwrap();
    assert_eq!(k, key.public_key_b64url());
    let (signed, sig) = t.rsplit_once('.').unwrap();
    SigKey::new(&ECDSA_P256_SHA256_FIXED, b64(k))
        .verify(signed.as_bytes(), &b64(sig))
        .unwrap();
    let (head, claims) = signed.split_once('.').unwrap();
    let head: serde_json::Value = serde_json::from_slice(&b64(head)).unwrap();
    assert_eq!(
        (head["alg"].as_str(), head["typ"].as_str()),
        (Some("ES256"), Some("JWT"))
    );
    let claims: serde_json::Value = serde_json::from_slice(&b64(claims)).unwrap();
    assert_eq!(claims["aud"], "https://fcm.googleapis.com");
    assert_eq!(claims["sub"], "mailto:it@school.example");
    assert_eq!(claims["exp"], 1_800_000_000 + 12 * 3600);
}

#[test]
fn endpoints_must_be_https_on_public_addresses() {
    let ok = [
        "https://fcm.googleapis.com/fcm/send/abc",
        "https://web.push.apple.com/QGuQ",
        "https://8.8.8.8/push",
        "https://[2606:4700::1111]/push",
    ];
    for e in ok {
        assert!(check_endpoint(e, false).is_ok(), "{e}");
    }
    let refused = [
        ("http://fcm.googleapis.com/x", EndpointProblem::NotHttps),
        ("ftp://push.example/x", EndpointProblem::NotHttps),
        ("not a url", EndpointProblem::NotAUrl),
        ("https://u:p@push.example/x", EndpointProblem::Credentials),
        ("https://push.example/x#y", EndpointProblem::Fragment),
        (
            "https://127.0.0.1/x",
            EndpointProblem::AddressNotPublic("127.0.0.1".parse().unwrap()),
        ),
        (
            "https://10.1.2.3/x",
            EndpointProblem::AddressNotPublic("10.1.2.3".parse().unwrap()),
        ),
        (
            "https://[::ffff:192.168.1.1]/x",
            EndpointProblem::AddressNotPublic("::ffff:192.168.1.1".parse().unwrap()),
        ),
        ("http://127.0.0.1:9/x", EndpointProblem::NotHttps),
        ("http://localhost:9/x", EndpointProblem::NotHttps),
    ];
    for (e, why) in refused {
        assert_eq!(check_endpoint(e, false), Err(why), "{e}");
    }
    assert_eq!(
        check_endpoint(&format!("https://push.example/{}", "a".repeat(1100)), false),
        Err(EndpointProblem::TooLong)
    );
    // Tests may use a push service on this machine, and nothing else that is not public.
    assert!(check_endpoint("http://127.0.0.1:9/push/1", true).is_ok());
    assert!(check_endpoint("http://localhost:9/push/1", true).is_ok());
    assert!(check_endpoint("http://10.0.0.1:9/push/1", true).is_err());
    assert!(check_endpoint("https://192.168.0.1/push/1", true).is_err());
    assert!(
        EndpointProblem::NotHttps
            .to_string()
            .contains("must be an https:// URL")
    );
}

#[test]
fn only_public_addresses_are_public() {
    let public = [
        "8.8.8.8",
        "1.1.1.1",
        "2606:4700::1111",
        "2a00:1450::1",
        "64:ff9b::808:808",
        "2001:4860:4860::8888",
        "2002:808:808::1",
    ];
    for ip in public {
        assert!(is_public_address(ip.parse().unwrap()), "{ip}");
    }
    let internal = [
        "0.0.0.0",
        "0.1.2.3",
        "127.0.0.1",
        "10.0.0.1",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "100.127.255.255",
        "224.0.0.1",
        "255.255.255.255",
        "240.0.0.1",
        "192.0.2.1",
        "198.51.100.1",
        "203.0.113.1",
        "198.18.0.1",
        "198.19.255.255",
        "192.0.0.8",
        "::",
        "::1",
        "fc00::1",
        "fd12::1",
        "fe80::1",
        "ff02::1",
        "2001:db8::1",
        "100::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "64:ff9b::a00:1",
        "::7f00:1",
        // Outside 2000::/3, or special inside it.
        "fec0::1",
        "64:ff9b:1::a00:1",
        "2001::a00:1",
        "2001:2::1",
        "2002:7f00:1::1",
        "2002:a00:1::1",
        "3fff::1",
    ];
    for ip in internal {
        assert!(!is_public_address(ip.parse().unwrap()), "{ip}");
    }
    assert!(address_allowed("127.0.0.1".parse().unwrap(), true));
    assert!(address_allowed("::1".parse().unwrap(), true));
    assert!(!address_allowed("127.0.0.1".parse().unwrap(), false));
    assert!(!address_allowed("10.0.0.1".parse().unwrap(), true));
    assert!(
        is_public_address("172.15.0.1".parse().unwrap()),
        "just outside 172.16/12"
    );
}
