use super::*;
use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use postern_core::random::OsRandom;
use std::sync::Mutex;

type Seen = Arc<Mutex<Vec<HeaderMap>>>;

/// A push service on 127.0.0.1 that answers by path.
async fn service() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let record = |seen: Seen| {
        move |headers: HeaderMap| {
            seen.lock().unwrap().push(headers);
            async {}
        }
    };
    let s = seen.clone();
    let app = Router::new()
        .route(
            "/created",
            post(move |h: HeaderMap| {
                let s = s.clone();
                async move {
                    record(s)(h).await;
                    StatusCode::CREATED
                }
            }),
        )
        .route("/gone", post(|| async { StatusCode::GONE }))
        .route(
            "/redirect",
            post(|| async {
                (
                    StatusCode::FOUND,
                    [("location", "http://127.0.0.1:1/created")],
                )
            }),
        )
        .route(
            "/hang",
            post(|| async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                StatusCode::CREATED
            }),
        )
        .route(
            "/huge",
            post(|| async {
                // A body far beyond the cap: the sender stops reading early.
                (StatusCode::PAYLOAD_TOO_LARGE, "x".repeat(8 * 1024 * 1024))
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, seen)
}

fn keys() -> SubscriberKeys {
    SubscriberKeys::parse(
        "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4",
        "BTBZMqHH6r4Tts7J_aSIgg",
    )
    .unwrap()
}

fn message(endpoint: String) -> Message {
    Message {
        endpoint,
        keys: keys(),
        payload: br#"{"type":"challenge"}"#.to_vec(),
        expires: OffsetDateTime::now_utc() + time::Duration::seconds(42),
        urgency: "high",
    }
}

fn sender(allow_loopback: bool, timeout: Duration) -> Sender {
    Sender::new(SenderSettings {
        timeout,
        allow_loopback,
        ..SenderSettings::default()
    })
    .unwrap()
}

async fn send(s: &Sender, endpoint: String) -> SendOutcome {
    let vapid = VapidKey::generate().unwrap();
    s.send(
        &message(endpoint),
        &vapid,
        "mailto:it@school.example",
        &OsRandom,
        &postern_core::clock::SystemClock,
    )
    .await
}

#[tokio::test]
async fn answers_become_outcomes() {
    let (base, seen) = service().await;
    let s = sender(true, Duration::from_secs(5));
    let accepted = send(&s, format!("{base}/created")).await;
    assert_eq!(accepted, SendOutcome::Accepted { status: 201 });
    assert_eq!(accepted.words(), "push service accepted (201)");
    let headers = seen.lock().unwrap().pop().unwrap();
    let ttl: i64 = headers["ttl"].to_str().unwrap().parse().unwrap();
    assert!(
        (41..=42).contains(&ttl),
        "the time left when it leaves: {ttl}"
    );
    assert_eq!(headers["urgency"], "high");
    assert_eq!(headers["content-encoding"], "aes128gcm");
    assert!(
        headers["authorization"]
            .to_str()
            .unwrap()
            .starts_with("vapid t=")
    );

    let gone = send(&s, format!("{base}/gone")).await;
    assert_eq!(gone, SendOutcome::Gone { status: 410 });
    assert_eq!(
        gone.words(),
        "push service refused: 410 → subscription removed"
    );

    // Redirects are not followed: the answer is a refusal, and nothing else is contacted.
    assert!(matches!(
        send(&s, format!("{base}/redirect")).await,
        SendOutcome::Refused { status: 302, .. }
    ));

    let huge = send(&s, format!("{base}/huge")).await;
    match huge {
        SendOutcome::Refused {
            status: 413,
            ref detail,
        } => assert!(detail.len() <= 120),
        ref other => panic!("{other:?}"),
    }
    // What the push service said is for the server's log, not for the device's holder.
    assert_eq!(huge.words(), "push service refused: 413");

    // A message whose challenge has ended is not sent.
    let mut late = message(format!("{base}/created"));
    late.expires = OffsetDateTime::now_utc() - time::Duration::seconds(1);
    let vapid = VapidKey::generate().unwrap();
    let outcome = s
        .send(
            &late,
            &vapid,
            "mailto:it@school.example",
            &OsRandom,
            &postern_core::clock::SystemClock,
        )
        .await;
    assert_eq!(outcome, SendOutcome::Expired);
}

#[tokio::test]
async fn a_hanging_push_service_times_out() {
    let (base, _) = service().await;
    let s = sender(true, Duration::from_millis(300));
    let started = std::time::Instant::now();
    let outcome = send(&s, format!("{base}/hang")).await;
    assert!(started.elapsed() < Duration::from_secs(3));
    match &outcome {
        SendOutcome::Unreachable { detail } => assert!(detail.contains("timed out"), "{detail}"),
        other => panic!("{other:?}"),
    }
    assert!(
        outcome
            .words()
            .starts_with("push service unreachable: timed out after")
    );
}

#[tokio::test]
async fn internal_addresses_are_never_contacted() {
    let (base, seen) = service().await;
    let s = sender(false, Duration::from_secs(5));
    // A literal loopback address, over http or https.
    for endpoint in [
        format!("{base}/created"),
        base.replace("http:", "https:") + "/created",
    ] {
        let outcome = send(&s, endpoint.clone()).await;
        assert!(
            matches!(outcome, SendOutcome::NotAllowed { .. }),
            "{endpoint}: {outcome:?}"
        );
    }
    // A name that resolves to loopback (the DNS rebinding case).
    let port = base.rsplit(':').next().unwrap();
    let outcome = send(&s, format!("https://localhost:{port}/created")).await;
    match &outcome {
        SendOutcome::NotAllowed { detail } => {
            assert!(detail.contains("has no public address"), "{detail}")
        }
        other => panic!("{other:?}"),
    }
    assert!(
        seen.lock().unwrap().is_empty(),
        "nothing reached the service"
    );
}
