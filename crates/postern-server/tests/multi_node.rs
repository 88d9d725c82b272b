//! Two Postern nodes on one PostgreSQL database, as behind a load balancer: a sign-in started on
//! one node finishes on the other, codes redeem anywhere, the lockouts (password and second
//! factor) count across nodes, a TOTP code used on one node is refused on the other, and keys
//! rotated through one are published by both. Three nodes: a push made on one reaches the app
//! whose event stream another holds, the waiting page on the third moves on when the answer
//! lands, a device removed through one node is cut off on the others, and a node whose
//! wake-up listener lost its connection re-reads what it missed. The database away for a few
//! seconds, alone and under sign-ins on two nodes: fast 503s with their code, nothing lost, both
//! nodes ready again by themselves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Backend, Browser, TestServer, authorize_url, query_param, redeem};
use postern_core::client::ClientKind;
use postern_core::clock::Clock;
use postern_core::oidc::jws::{SigningAlg, verify_with_jwks};
use postern_store::testing::TestDatabase;
use serde_json::Value;
use sqlx::Connection;

const MASTER_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";

/// Two nodes on a fresh PostgreSQL database: (A, B, B's own address). A's address is the issuer.
async fn two_nodes() -> (TestServer, TestServer, String) {
    let db = TestDatabase::create(Backend::Postgres).await;
    let url = db.url.clone();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let issuer = format!("http://127.0.0.1:{port}");
    let a = TestServer::start_node(&url, Some(db), |c| {
        c.listen = format!("127.0.0.1:{port}").parse().unwrap();
        c.master_key = Some(MASTER_KEY.into());
    })
    .await;
    let b = TestServer::start_node(&url, None, move |c| {
        c.issuer = Some(issuer);
        c.master_key = Some(MASTER_KEY.into());
    })
    .await;
    let b_addr = format!("http://{}", b.server.addr);
    (a, b, b_addr)
}

/// `n` nodes on a fresh PostgreSQL database: the nodes and their own addresses. The first
/// node's address is the issuer; it owns the database.
async fn nodes(n: usize) -> (Vec<TestServer>, Vec<String>) {
    let db = TestDatabase::create(Backend::Postgres).await;
    let url = db.url.clone();
    nodes_on(db, &url, n, |_| {}).await
}

/// [`nodes`] on `db`, reached through `url` (a proxy's, say), each node's settings changed by
/// `tweak` as well.
async fn nodes_on(
    db: TestDatabase,
    url: &str,
    n: usize,
    tweak: impl Fn(&mut postern_server::config::Config) + Clone,
) -> (Vec<TestServer>, Vec<String>) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let issuer = format!("http://127.0.0.1:{port}");
    let first = tweak.clone();
    let mut servers = vec![
        TestServer::start_node(url, Some(db), move |c| {
            c.listen = format!("127.0.0.1:{port}").parse().unwrap();
            c.master_key = Some(MASTER_KEY.into());
            first(c);
        })
        .await,
    ];
    for _ in 1..n {
        let (issuer, tweak) = (issuer.clone(), tweak.clone());
        servers.push(
            TestServer::start_node(url, None, move |c| {
                c.issuer = Some(issuer);
                c.master_key = Some(MASTER_KEY.into());
                tweak(c);
            })
            .await,
        );
    }
    let addrs = servers
        .iter()
        .map(|s| format!("http://{}", s.server.addr))
        .collect();
    (servers, addrs)
}

/// Moves every node's clock.
fn advance_all(servers: &[TestServer], by: time::Duration) {
    for s in servers {
        s.advance(by);
    }
}

/// Reads a streaming response until `needle` arrives (10 s at most); what was read.
async fn read_until(res: &mut reqwest::Response, needle: &str) -> String {
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while !seen.contains(needle) {
        let chunk = tokio::time::timeout_at(deadline, res.chunk())
            .await
            .unwrap_or_else(|_| panic!("'{needle}' within 10 s; read: {seen}"))
            .unwrap()
            .unwrap_or_else(|| panic!("the stream ended before '{needle}': {seen}"));
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    seen
}

async fn device_events(device: &common::TestDevice, server: &TestServer) -> reqwest::Response {
    let res = device
        .request(
            server,
            reqwest::Method::GET,
            "/api/authenticator/v1/events",
            b"",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res
}

/// The flow id in a push waiting page (its "Check again" link, `/signin/{flow}?method=…`).
fn flow_of(body: &str) -> String {
    let link = common::links(body)
        .into_iter()
        .find(|l| l.contains("?method="))
        .expect("a push waiting page");
    link.trim_start_matches("/signin/")
        .split('?')
        .next()
        .unwrap()
        .to_owned()
}

/// Posts a second-factor prompt's form, with `code`, to `node`; returns the response body.
async fn post_code(
    browser: &Browser,
    origin: &str,
    node: &str,
    prompt: &str,
    code: &str,
) -> String {
    let action = common::attr(prompt, "action").unwrap();
    browser
        .http
        .post(format!("{node}{action}"))
        .header("origin", origin)
        .form(&[
            ("csrf", common::hidden(prompt, "csrf").unwrap().as_str()),
            ("method", common::hidden(prompt, "method").unwrap().as_str()),
            ("code", code),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_factor_counters_hold_across_nodes() {
    let (a, b, b_addr) = two_nodes().await;
    let (client, _) = a.create_client(ClientKind::Public, SigningAlg::RS256).await;
    let app = common::user_with_app(&a, "oli").await;
    b.advance(common::STEP);

    // A code used through node A is a replay at node B.
    let first = Browser::new(&a);
    let (prompt, _) = common::prompt_for(&a, &first, &client, "oli", &[]).await;
    let code = app.code(&a, time::Duration::ZERO);
    let done = first.submit_code(&prompt, &code, false).await;
    done.app_url();
    let second = Browser::new(&a);
    let (prompt, _) = common::prompt_for(&a, &second, &client, "oli", &[]).await;
    let body = post_code(&second, a.issuer(), &b_addr, &prompt, &code).await;
    assert!(
        body.contains("990007"),
        "replayed on the other node: {body}"
    );

    // Wrong codes spread over both nodes add up to one lock.
    let right: u32 = code.parse().unwrap();
    let mut body = prompt;
    for i in 0..5u32 {
        let node = if i % 2 == 0 {
            a.issuer().to_owned()
        } else {
            b_addr.clone()
        };
        let wrong = format!("{:06}", (right + 100 + i) % 1_000_000);
        body = post_code(&second, a.issuer(), &node, &body, &wrong).await;
    }
    assert!(
        body.contains("990008"),
        "locked after 5 wrong codes over two nodes: {body}"
    );
    let next = app.code(&a, common::STEP);
    let body = post_code(&second, a.issuer(), &b_addr, &body, &next).await;
    assert!(body.contains("990008"), "still locked on node B");

    b.stop().await;
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_one_postgres_database() {
    let (a, b, b_addr) = two_nodes().await;
    assert_eq!(b.issuer(), a.issuer());

    a.create_user("nia").await;
    let (client, secret) = a
        .create_client(ClientKind::Confidential, SigningAlg::RS256)
        .await;

    // Both nodes publish the same keys.
    let jwks_a: Value = reqwest::get(a.url("/jwks"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwks_b: Value = reqwest::get(format!("{b_addr}/jwks"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks_a, jwks_b);

    // Start on A (the issuer), post the password to B, redeem the code at B.
    let browser = Browser::new(&a);
    let (auth_url, verifier, _, _) = authorize_url(&a, &client, &[]);
    let page = browser.open(&auth_url).await;
    let action = common::attr(page.body(), "action").unwrap();
    let csrf = common::hidden(page.body(), "csrf").unwrap();
    let res = browser
        .http
        .post(format!("{b_addr}{action}"))
        .header("origin", a.issuer())
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", "nia"),
            ("password", common::PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "node B finished the flow node A started");
    let back = res.headers()["location"].to_str().unwrap().to_owned();
    let code = query_param(&back, "code").unwrap();
    let tokens = reqwest::Client::new()
        .post(format!("{b_addr}/token"))
        .basic_auth(&client.id, secret.as_deref())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", client.redirect_uris[0].as_str()),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(tokens.status(), 200);
    let tokens: Value = tokens.json().await.unwrap();
    verify_with_jwks(tokens["id_token"].as_str().unwrap(), &jwks_a).unwrap();
    // The same code at A: already redeemed, across nodes.
    let again = redeem(&a, &client, secret.as_deref(), &code, &verifier).await;
    assert_eq!(
        again.json::<Value>().await.unwrap()["error_codes"][0],
        54005
    );

    // The lockout counts failures from both nodes.
    let other = Browser::new(&a);
    let mut page = other
        .open(&authorize_url(&a, &client, &[("prompt", "login")]).0)
        .await;
    for i in 0..10 {
        let action = common::attr(page.body(), "action").unwrap();
        let csrf = common::hidden(page.body(), "csrf").unwrap();
        let node = if i % 2 == 0 {
            a.issuer().to_owned()
        } else {
            b_addr.clone()
        };
        let res = other
            .http
            .post(format!("{node}{action}"))
            .header("origin", a.issuer())
            .form(&[
                ("csrf", csrf.as_str()),
                ("username", "nia"),
                ("password", format!("wrong-{i}").as_str()),
            ])
            .send()
            .await
            .unwrap();
        let body = res.text().await.unwrap();
        page = common::Landing::Page {
            status: 200,
            url: String::new(),
            body,
            request_id: String::new(),
        };
    }
    assert!(
        page.body().contains("50053"),
        "locked after 10 failures spread over two nodes"
    );

    b.stop().await;
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_made_on_one_node_reaches_the_app_on_another_and_the_page_on_a_third() {
    let (nodes, addrs) = nodes(3).await;
    let (a, b, c) = (&nodes[0], &nodes[1], &nodes[2]);
    let (client, _) = a.create_client(ClientKind::Public, SigningAlg::RS256).await;
    a.create_user("pia").await;
    let setup = Browser::new(a);
    setup
        .sign_in(&a.url("/account/signin"), "pia", common::PASSWORD)
        .await;
    let (mut device, _) = setup.add_push_device(a, "Pixel 7").await;
    advance_all(&nodes, common::STEP);

    // The app's stream is held by node B; the sign-in (and so the challenge) is on node A.
    device.node = Some(addrs[1].clone());
    let mut app = device_events(&device, b).await;
    let browser = Browser::new(a);
    let (url, _, _, _) = authorize_url(a, &client, &[]);
    let page = browser.sign_in(&url, "pia", common::PASSWORD).await;
    // The challenge was made at the end of the request that answered with the waiting page.
    let started = std::time::Instant::now();
    let body = page.body().to_owned();
    let number = common::match_number(&body);
    let seen = read_until(&mut app, "event: challenge").await;
    let delivered = started.elapsed();
    assert!(seen.contains("\"username\":\"pia\""), "{seen}");
    assert!(
        delivered < std::time::Duration::from_secs(1),
        "a push made on node A reached the app on node B in {delivered:?}"
    );

    // The browser's waiting page listens on node C.
    let flow = flow_of(&body);
    let mut page_events = browser
        .http
        .get(format!("{}/signin/{flow}/push/events", addrs[2]))
        .send()
        .await
        .unwrap();
    assert_eq!(page_events.status(), 200);
    let id = device.pending(b).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Node B records the wake-up on the challenge node A wrote (just after waking the app).
    let mut stored = a.store().find_challenge(&id).await.unwrap().unwrap();
    for _ in 0..50 {
        if stored.deliveries[0].woke_ms.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        stored = a.store().find_challenge(&id).await.unwrap().unwrap();
    }
    assert!(
        stored.deliveries[0].woke_ms.is_some(),
        "woken over the open connection on node B: {stored:?}"
    );

    // Approved through node B: the page on node C moves on, and the sign-in ends on node A.
    let (status, outcome) = device.answer(b, &id, true, Some(number), false).await;
    assert_eq!(status, 200, "{outcome}");
    read_until(&mut page_events, "event: done").await;
    let done = browser.open(&a.url(&format!("/signin/{flow}"))).await;
    assert!(
        query_param(done.app_url(), "code").is_some(),
        "signed in: {}",
        done.app_url()
    );

    // Removed through node A's store (what Security info, the helpdesk and the admin API all
    // call): the app's streams on nodes B and C end.
    device.node = Some(addrs[2].clone());
    let mut on_c = device_events(&device, c).await;
    let user = a
        .store()
        .find_user_by_username("pia")
        .await
        .unwrap()
        .unwrap();
    a.store()
        .force_delete_method(&user.id, &device.id)
        .await
        .unwrap();
    for stream in [&mut app, &mut on_c] {
        let ended = tokio::time::timeout(std::time::Duration::from_secs(5), async {
            while let Ok(Some(_)) = stream.chunk().await {}
        })
        .await;
        assert!(
            ended.is_ok(),
            "the removed device's stream ended on another node"
        );
    }
    for n in nodes.into_iter().rev() {
        n.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_lost_its_listener_re_reads_what_it_missed() {
    let (nodes, addrs) = nodes(2).await;
    let (a, b) = (&nodes[0], &nodes[1]);
    a.create_user("rio").await;
    let setup = Browser::new(a);
    setup
        .sign_in(&a.url("/account/signin"), "rio", common::PASSWORD)
        .await;
    let (mut device, _) = setup.add_push_device(a, "Pixel 7").await;
    advance_all(&nodes, common::STEP);
    device.node = Some(addrs[1].clone());
    let mut app = device_events(&device, b).await;

    // A challenge written without a notice (triggers off for this session: a notice lost while
    // a listener was away looks like this to the node), then every listener's connection killed.
    let user = a
        .store()
        .find_user_by_username("rio")
        .await
        .unwrap()
        .unwrap();
    let now = b.clock.now();
    let missed = postern_core::credential::push::Challenge {
        id: "missed-challenge".into(),
        user_id: user.id.clone(),
        flow_id: "some-flow".into(),
        correlation_id: "some-correlation".into(),
        app_name: "Learning hub".into(),
        ip: "192.0.2.7".into(),
        number: 42,
        created: now,
        expires: now + time::Duration::minutes(1),
        deliveries: vec![postern_core::credential::push::Delivery::new(
            &device.id, "Pixel 7", None, 0,
        )],
        answer: None,
        failure_logged: false,
        version: 1,
    };
    let db_url = nodes[0].config.database_url.clone().unwrap();
    let mut conn = sqlx::AnyConnection::connect(&db_url).await.unwrap();
    sqlx::query("SET session_replication_role = replica")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO push_challenges (id, user_id, flow_id, created_ms, expires_ms, data, version)
         VALUES ($1, $2, $3, $4, $5, $6, 1)",
    )
    .bind(&missed.id)
    .bind(&missed.user_id)
    .bind(&missed.flow_id)
    .bind(postern_core::clock::to_millis(missed.created))
    .bind(postern_core::clock::to_millis(missed.expires))
    .bind(serde_json::to_string(&missed).unwrap())
    .execute(&mut conn)
    .await
    .unwrap();
    let killed = sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(killed.len(), 2, "one listening connection per node");
    conn.close().await.unwrap();

    // Node B listens again and its open stream re-reads: the app gets what it missed.
    let seen = read_until(&mut app, "missed-challenge").await;
    assert!(seen.contains("event: challenge"), "{seen}");
    let ready = reqwest::get(format!("{}/readyz", addrs[1])).await.unwrap();
    assert_eq!(ready.status(), 200, "listening again, ready again");
    for n in nodes.into_iter().rev() {
        n.stop().await;
    }
}

#[tokio::test]
async fn a_second_node_on_one_sqlite_file_is_refused_and_told_why() {
    let first = TestServer::start(Backend::Sqlite).await;
    let mut config = first.config.clone();
    config.listen = "127.0.0.1:0".parse().unwrap();
    let refused = postern_server::app::start(config.clone(), first.clock.clone())
        .await
        .err()
        .expect("a second node on the same SQLite file is refused");
    let why = refused.to_string();
    assert!(
        why.contains("already serves the SQLite database")
            && why.contains(&first.server.addr.to_string())
            && why.contains("PostgreSQL"),
        "{why}"
    );
    // Once the first node stops, the file is free again.
    let mut first = first;
    first.restart().await;
    first.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_starting_together_make_one_key_per_algorithm() {
    let db = TestDatabase::create(Backend::Postgres).await;
    let url = db.url.clone();
    let node = |db: Option<TestDatabase>| {
        let url = url.clone();
        async move { TestServer::start_node(&url, db, |c| c.master_key = Some(MASTER_KEY.into())).await }
    };
    let (a, b, c) = tokio::join!(node(Some(db)), node(None), node(None));
    let keys = a.store().list_signing_keys().await.unwrap();
    for alg in SigningAlg::ALL {
        assert_eq!(
            keys.iter().filter(|k| k.alg == alg).count(),
            1,
            "one {alg:?} key for three nodes started together: {:?}",
            keys.iter().map(|k| (&k.kid, k.alg)).collect::<Vec<_>>()
        );
    }
    let mut jwks = vec![];
    for n in [&a, &b, &c] {
        let addr = format!("http://{}/jwks", n.server.addr);
        jwks.push(
            reqwest::get(addr)
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap(),
        );
    }
    assert_eq!(jwks[0], jwks[1]);
    assert_eq!(jwks[0], jwks[2]);
    for n in [c, b, a] {
        n.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_fails_fast_loses_nothing_and_heals_by_itself() {
    use common::db_proxy::{DbProxy, target_of};
    let db = TestDatabase::create(Backend::Postgres).await;
    let proxy = DbProxy::start(target_of(&db.url)).await;
    let url = proxy.url_for(&db.url);
    let node = TestServer::start_node(&url, Some(db), |c| {
        c.master_key = Some(MASTER_KEY.into());
        c.database.acquire_timeout_ms = 1000;
        c.database.statement_timeout_ms = 2000;
    })
    .await;
    let (client, _) = node
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    node.create_user("uma").await;
    let sign_in = async || {
        let browser = Browser::new(&node);
        let (url, _, _, _) = authorize_url(&node, &client, &[]);
        let done = browser.sign_in(&url, "uma", common::PASSWORD).await;
        query_param(done.app_url(), "code").is_some()
    };
    assert!(sign_in().await);

    // PostgreSQL unreachable: a page answers at once with 503, its code and ids; the node says
    // it is not ready.
    proxy.cut();
    let (url, _, _, _) = authorize_url(&node, &client, &[]);
    let started = std::time::Instant::now();
    let res = reqwest::get(&url).await.unwrap();
    let took = started.elapsed();
    assert_eq!(res.status(), 503);
    let body = res.text().await.unwrap();
    assert!(
        body.contains("990017") && body.contains("Request Id") && body.contains("Nothing was lost"),
        "{body}"
    );
    assert!(
        took < std::time::Duration::from_secs(5),
        "failed fast: {took:?}"
    );
    let ready = reqwest::get(node.url("/readyz")).await.unwrap();
    assert_eq!(ready.status(), 503);

    // Back after a few seconds: the node heals by itself, and what was there still is.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    proxy.restore();
    let mut healed = false;
    for _ in 0..50 {
        let ready = reqwest::get(node.url("/readyz")).await.unwrap();
        if ready.status() == 200 {
            healed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(healed, "ready again within 10 s of the database's return");
    assert!(
        sign_in().await,
        "signs in again, with the user made before the outage"
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_guesses_spread_over_two_nodes_meet_one_lock() {
    let (nodes, addrs) = nodes(2).await;
    let a = &nodes[0];
    a.create_user("par").await;
    let (client, _) = a.create_client(ClientKind::Public, SigningAlg::RS256).await;
    let browser = Browser::new(a);
    let page = browser.open(&authorize_url(a, &client, &[]).0).await;
    let form = common::SignInForm::of(a, page.body());
    let path = form.action.trim_start_matches(a.issuer()).to_owned();
    // 30 wrong passwords at once, every other one through node B.
    let guesses: Vec<_> = (0..30)
        .map(|i| {
            let node = addrs[i % 2].clone();
            let form = common::SignInForm {
                action: format!("{node}{path}"),
                csrf: form.csrf.clone(),
            };
            let (http, origin) = (browser.http.clone(), a.issuer().to_owned());
            tokio::spawn(async move {
                let res = form
                    .post(&http, &origin, "par", &format!("guess-{i}"))
                    .await;
                res.text().await.unwrap()
            })
        })
        .collect();
    let mut wrong_answers = 0;
    let mut locked = 0;
    for g in guesses {
        let body = g.await.unwrap();
        if body.contains("50126") {
            wrong_answers += 1;
        } else if body.contains("50053") {
            locked += 1;
        } else {
            panic!("unexpected answer: {body}");
        }
    }
    println!("{wrong_answers} answered wrong password, {locked} locked");
    // The threshold is 10: nine guesses are answered "wrong password", the tenth locks, and
    // neither node lets a guess past the lock however the requests interleave.
    assert!(
        wrong_answers == 9 && locked == 21,
        "{wrong_answers} wrong, {locked} locked"
    );
    let right = browser
        .submit_password(page.body(), "par", common::PASSWORD)
        .await;
    assert!(
        right.body().contains("50053"),
        "the right password waits too"
    );
    for n in nodes.into_iter().rev() {
        n.stop().await;
    }
}

/// A `postern serve` process, killed if the test ends without killing it.
struct NodeProcess(std::process::Child);

impl NodeProcess {
    /// SIGKILL, and wait for it to be gone.
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A `postern serve` process on `database_url` at `port`, with `issuer`; returns once ready.
async fn spawn_node(database_url: &str, port: u16, issuer: &str) -> (NodeProcess, String) {
    let dir = std::env::temp_dir().join(format!(
        "postern-node-{}",
        postern_core::random::token(&postern_core::random::OsRandom, 8)
    ));
    let node = NodeProcess(
        std::process::Command::new(env!("CARGO_BIN_EXE_postern"))
            .arg("--data-dir")
            .arg(&dir)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env("POSTERN_DATABASE_URL", database_url)
            .env("POSTERN_MASTER_KEY", MASTER_KEY)
            .env("POSTERN_ISSUER", issuer)
            .env("POSTERN_POLICY__MFA", "when_registered")
            .env("POSTERN_LOG__LEVEL", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let addr = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if let Ok(res) = reqwest::get(format!("{addr}/readyz")).await
            && res.status() == 200
        {
            return (node, addr);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("node on {port} never became ready");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_mid_sign_in_loses_nothing() {
    // Node A (the address the browser uses) and node B are `postern serve` processes; a third,
    // in-process node on the same database lends the test its store and clock. A is killed
    // (SIGKILL) while the sign-in waits for the push.
    let db = TestDatabase::create(Backend::Postgres).await;
    let (port_a, port_b) = (free_port(), free_port());
    let issuer = format!("http://127.0.0.1:{port_a}");
    let (mut node_a, addr_a) = spawn_node(&db.url, port_a, &issuer).await;
    let (mut node_b, addr_b) = spawn_node(&db.url, port_b, &issuer).await;
    let url = db.url.clone();
    let setup_node = TestServer::start_node(&url, Some(db), {
        let issuer = issuer.clone();
        move |c| {
            c.issuer = Some(issuer);
            c.master_key = Some(MASTER_KEY.into());
        }
    })
    .await;
    setup_node.create_user("kai").await;
    let (client, _) = setup_node
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    // Set up through node A (alive for now), as the user would.
    let setup = Browser::new(&setup_node);
    setup
        .sign_in(&setup_node.url("/account/signin"), "kai", common::PASSWORD)
        .await;
    let (mut device, _) = setup.add_push_device(&setup_node, "Pixel 7").await;

    // The app listens on node A; the browser signs in through node A up to the waiting page.
    device.node = Some(addr_a.clone());
    let mut on_a = device_events(&device, &setup_node).await;
    let browser = Browser::new(&setup_node);
    let (auth_url, verifier, _, _) = authorize_url(&setup_node, &client, &[]);
    let waiting = browser.sign_in(&auth_url, "kai", common::PASSWORD).await;
    let body = waiting.body().to_owned();
    let number = common::match_number(&body);
    let flow = flow_of(&body);
    read_until(&mut on_a, "event: challenge").await;

    // Node A dies.
    node_a.kill();
    let ended = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        while let Ok(Some(_)) = on_a.chunk().await {}
    })
    .await;
    assert!(ended.is_ok(), "the app's connection to node A is gone");

    // The app reconnects to node B and gets the pending request at once; approves it there.
    device.node = Some(addr_b.clone());
    let mut on_b = device_events(&device, &setup_node).await;
    let seen = read_until(&mut on_b, "event: challenge").await;
    assert!(seen.contains("\"username\":\"kai\""), "{seen}");
    let id = device.pending(&setup_node).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, outcome) = device
        .answer(&setup_node, &id, true, Some(number), false)
        .await;
    assert_eq!(status, 200, "{outcome}");

    // The browser, retried against node B, continues its flow and gets its tokens there.
    let done = browser
        .http
        .get(format!("{addr_b}/signin/{flow}"))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 303);
    let back = done.headers()["location"].to_str().unwrap().to_owned();
    let code = query_param(&back, "code").expect("a code from node B");
    let tokens = reqwest::Client::new()
        .post(format!("{addr_b}/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", client.redirect_uris[0].as_str()),
            ("code_verifier", verifier.as_str()),
            ("client_id", client.id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(tokens.status(), 200, "{}", tokens.text().await.unwrap());
    drop(on_b);
    node_b.kill();
    setup_node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_deployment_moves_to_postgresql_and_everyone_still_signs_in() {
    use common::{AuthenticatorApp, TestKey};
    // A SQLite deployment with an authenticator app, a Postern Authenticator and a passkey, an
    // application, sessions, sign-ins and their logs.
    let old = TestServer::start_localhost(Backend::Sqlite, |c| {
        c.master_key = Some(MASTER_KEY.into());
    })
    .await;
    let (client, _) = old
        .create_client(ClientKind::Public, SigningAlg::RS256)
        .await;
    let app: AuthenticatorApp = common::user_with_app(&old, "ana").await;
    let browser = Browser::new(&old);
    let prompt = browser
        .sign_in(&old.url("/account/signin"), "ana", common::PASSWORD)
        .await;
    let security = browser
        .submit_code(prompt.body(), &app.code(&old, time::Duration::ZERO), false)
        .await;
    assert!(security.body().contains("Security info"));
    let mut key = TestKey::new();
    browser.add_passkey(&old, &mut key, None).await;
    old.create_user("ben").await;
    let setup = Browser::new(&old);
    setup
        .sign_in(&old.url("/account/signin"), "ben", common::PASSWORD)
        .await;
    let (mut device, _) = setup.add_push_device(&old, "Pixel 7").await;
    let data_dir = old.data_dir().to_owned();
    let sqlite_url = old.config.database_url();

    // `postern admin migrate --to` into a fresh PostgreSQL database — refused while the node
    // still serves the file (what it wrote during the copy would be left behind), then done.
    let db = TestDatabase::create(Backend::Postgres).await;
    let migrate = |to: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_postern"))
            .arg("--data-dir")
            .arg(&data_dir)
            .args(["admin", "migrate", "--to", to])
            .env("POSTERN_DATABASE_URL", &sqlite_url)
            .env("POSTERN_LOG__LEVEL", "warn")
            .output()
            .unwrap()
    };
    let refused = migrate(&db.url);
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && said.contains("stop it first"),
        "{said}"
    );
    let mut old = old;
    old.server.shut_down().await;
    let out = migrate(&db.url);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    );
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("every table's count and checksum match"),
        "{stdout}"
    );
    assert!(
        stderr.contains("users: 2 rows"),
        "progress per table: {stderr}"
    );
    let sqlite = postern_store::Store::connect(&sqlite_url).await.unwrap();
    let target = postern_store::Store::connect(&db.url).await.unwrap();
    for table in [
        "users",
        "auth_methods",
        "clients",
        "signing_keys",
        "sso_sessions",
        "signins",
        "signin_steps",
    ] {
        let count = async |s: &postern_store::Store| s.count_rows_for_tests(table).await.unwrap();
        let (from, to) = (count(&sqlite).await, count(&target).await);
        assert!(
            from > 0 && from == to,
            "{table}: {from} rows in SQLite, {to} in PostgreSQL"
        );
    }
    sqlite.close().await;
    target.close().await;
    // A second run finds data there and changes nothing.
    let again = migrate(&db.url);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already holds data"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );

    // A node on PostgreSQL with the same master key: the app's code, the passkey and the push
    // device all work.
    let port = free_port();
    let url = db.url.clone();
    let new = TestServer::start_node(&url, Some(db), move |c| {
        c.listen = format!("127.0.0.1:{port}").parse().unwrap();
        c.issuer = Some(format!("http://localhost:{port}"));
        c.master_key = Some(MASTER_KEY.into());
    })
    .await;
    new.advance(common::STEP * 2);
    let (auth_url, _, _, _) = authorize_url(&new, &client, &[]);
    let fresh = Browser::new(&new);
    let prompt = fresh.sign_in(&auth_url, "ana", common::PASSWORD).await;
    let done = fresh
        .submit_code(prompt.body(), &app.code(&new, time::Duration::ZERO), false)
        .await;
    assert!(
        query_param(done.app_url(), "code").is_some(),
        "the migrated TOTP seed opens"
    );

    let passwordless = Browser::new(&new);
    let page = passwordless
        .open(&authorize_url(&new, &client, &[]).0)
        .await;
    let done = passwordless
        .use_passkey(&new, page.body(), &mut key, None)
        .await;
    assert!(
        query_param(done.app_url(), "code").is_some(),
        "the migrated passkey signs in"
    );

    let pushed = Browser::new(&new);
    let waiting = pushed
        .sign_in(
            &authorize_url(&new, &client, &[]).0,
            "ben",
            common::PASSWORD,
        )
        .await;
    let number = common::match_number(waiting.body());
    device.node = None;
    let pending = device.pending(&new).await;
    let id = pending[0]["id"].as_str().unwrap().to_owned();
    let (status, _) = device.answer(&new, &id, true, Some(number), false).await;
    assert_eq!(status, 200, "the migrated device's key signs");
    let flow = flow_of(waiting.body());
    let done = pushed.open(&new.url(&format!("/signin/{flow}"))).await;
    assert!(query_param(done.app_url(), "code").is_some());
    new.stop().await;
    let _ = std::fs::remove_dir_all(&data_dir);
}

/// A step of the restart test answered 503 with the catalogue code (990017 on a page,
/// `temporarily_unavailable` in JSON).
struct Unavailable;

/// One sign-in of the restart test through `node` (its own address; the issuer is node A's):
/// authorize → sign-in page → password → code → token. Each answer is checked: the expected
/// one, or a fast 503 with its code; anything else (a 500, a hang, a 503 without its code) is
/// the error returned. On success, the refresh token.
async fn sign_in_through(
    http: &reqwest::Client,
    issuer: &str,
    node: &str,
    client: &postern_core::client::Client,
) -> Result<Result<String, Unavailable>, String> {
    use std::time::{Duration, Instant};
    let check = async |res: reqwest::Result<reqwest::Response>| -> Result<
        Result<reqwest::Response, Unavailable>,
        String,
    > {
        let res = res.map_err(|e| format!("no answer: {e}"))?;
        if res.status() == 503 {
            let body = res.text().await.unwrap_or_default();
            return if body.contains("990017") || body.contains("temporarily_unavailable") {
                Ok(Err(Unavailable))
            } else {
                Err(format!("503 without its code: {body}"))
            };
        }
        Ok(Ok(res))
    };
    let timed = async |req: reqwest::RequestBuilder| {
        let started = Instant::now();
        let res = req.timeout(Duration::from_secs(10)).send().await;
        let took = started.elapsed();
        if took > Duration::from_secs(5) {
            return Err(format!("an answer took {took:?}"));
        }
        check(res).await
    };
    let on_node = |location: &str| {
        let path = location.strip_prefix(issuer).unwrap_or(location);
        format!("{node}{path}")
    };
    let (url, verifier, _, _) = common::authorize_url_at(issuer, client, &[]);
    let res = match timed(http.get(on_node(&url))).await? {
        Ok(res) if res.status() == 303 => res,
        Ok(res) => return Err(format!("authorize answered {}", res.status())),
        Err(a) => return Ok(Err(a)),
    };
    let page = on_node(res.headers()["location"].to_str().unwrap());
    let body = match timed(http.get(&page)).await? {
        Ok(res) if res.status() == 200 => res.text().await.unwrap(),
        Ok(res) => return Err(format!("the sign-in page answered {}", res.status())),
        Err(a) => return Ok(Err(a)),
    };
    let action = on_node(&common::attr(&body, "action").unwrap());
    let csrf = common::hidden(&body, "csrf").unwrap();
    let post = http.post(action).header("origin", issuer).form(&[
        ("csrf", csrf.as_str()),
        ("username", "rita"),
        ("password", common::PASSWORD),
    ]);
    let app = match timed(post).await? {
        Ok(res) if res.status() == 303 => res.headers()["location"].to_str().unwrap().to_owned(),
        Ok(res) => {
            let status = res.status();
            return Err(format!(
                "the password answered {status}: {}",
                res.text().await.unwrap()
            ));
        }
        Err(a) => return Ok(Err(a)),
    };
    let code = query_param(&app, "code").ok_or_else(|| format!("no code in {app}"))?;
    let token = http.post(format!("{node}/token")).form(&[
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", &client.redirect_uris[0]),
        ("code_verifier", &verifier),
        ("client_id", &client.id),
    ]);
    match timed(token).await? {
        Ok(res) if res.status() == 200 => {
            let tokens: Value = res.json().await.unwrap();
            Ok(Ok(tokens["refresh_token"].as_str().unwrap().to_owned()))
        }
        Ok(res) => {
            let status = res.status();
            Err(format!(
                "the token endpoint answered {status}: {}",
                res.text().await.unwrap()
            ))
        }
        Err(a) => Ok(Err(a)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_restart_under_load_loses_nothing_and_both_nodes_heal() {
    use common::db_proxy::{DbProxy, target_of};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;
    let db = TestDatabase::create(Backend::Postgres).await;
    let proxy = DbProxy::start(target_of(&db.url)).await;
    let url = proxy.url_for(&db.url);
    let (nodes, addrs) = nodes_on(db, &url, 2, |c| {
        c.database.acquire_timeout_ms = 1000;
        c.database.statement_timeout_ms = 2000;
    })
    .await;
    let a = &nodes[0];
    let issuer = addrs[0].clone();
    a.create_user("rita").await;
    let (client, _) = a.create_client(ClientKind::Public, SigningAlg::ES256).await;
    let (admin, _) =
        common::create_admin_token(a, "ops", postern_core::admin::Role::Admin, None).await;

    // Four browsers sign in over and over, alternating nodes; a browser whose step got a 503
    // starts over, as a user would.
    let running = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let refresh_tokens: Arc<Mutex<Vec<(String, std::time::Instant)>>> = Arc::default();
    let unavailable = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let (running, refresh_tokens, unavailable) =
                (running.clone(), refresh_tokens.clone(), unavailable.clone());
            let (issuer, addrs, client) = (issuer.clone(), addrs.clone(), client.clone());
            tokio::spawn(async move {
                let mut turn = w;
                while running.load(std::sync::atomic::Ordering::SeqCst) {
                    let http = reqwest::Client::builder()
                        .cookie_store(true)
                        .redirect(reqwest::redirect::Policy::none())
                        .build()
                        .unwrap();
                    turn += 1;
                    match sign_in_through(&http, &issuer, &addrs[turn % 2], &client).await? {
                        Ok(refresh) => refresh_tokens
                            .lock()
                            .unwrap()
                            .push((refresh, std::time::Instant::now())),
                        Err(Unavailable) => {
                            unavailable.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                }
                Ok::<(), String>(())
            })
        })
        .collect();
    let signed_in = || refresh_tokens.lock().unwrap().len();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before = signed_in();
    assert!(before > 0, "sign-ins before the restart");

    // The database goes away as in a restart: every connection drops, new ones are refused
    // for three seconds. The admin API says so too.
    proxy.cut();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let res = reqwest::Client::new()
        .get(format!("{}/admin/v1/users", addrs[1]))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable", "{body}");
    for node in &addrs {
        let ready = reqwest::get(format!("{node}/readyz")).await.unwrap();
        assert_eq!(
            ready.status(),
            503,
            "{node} not ready while the database is away"
        );
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let during = signed_in() - before;
    proxy.restore();
    let returned = std::time::Instant::now();

    // Both nodes heal by themselves (ready means the wake-up listener is back too), and
    // sign-ins go on through both.
    for node in &addrs {
        let mut healed = false;
        for _ in 0..50 {
            let ready = reqwest::get(format!("{node}/readyz")).await.unwrap();
            if ready.status() == 200 {
                healed = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(
            healed,
            "{node} ready again within 10 s of the database's return"
        );
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    running.store(false, std::sync::atomic::Ordering::SeqCst);
    for w in workers {
        w.await
            .unwrap()
            .unwrap_or_else(|e| panic!("a browser saw {e}"));
    }
    let tokens = refresh_tokens.lock().unwrap().clone();
    let after = tokens.iter().filter(|(_, at)| *at > returned).count();
    let refused = unavailable.load(std::sync::atomic::Ordering::SeqCst);
    println!(
        "{before} sign-ins before, {during} while away, {after} after; {refused} answered 503"
    );
    assert!(refused > 0, "the outage was seen");
    assert!(after > 0, "sign-ins after the return");

    // Nothing committed was lost: every sign-in that got its tokens, before, during or after,
    // still refreshes, on either node.
    let http = reqwest::Client::new();
    for (i, (refresh, _)) in tokens.iter().enumerate() {
        let res = http
            .post(format!("{}/token", addrs[i % 2]))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh),
                ("client_id", &client.id),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "refresh token {i} of {}", tokens.len());
    }
    for n in nodes.into_iter().rev() {
        n.stop().await;
    }
}

/// A challenge for `user` addressed to `device_id`, made on `node`'s store as a sign-in would.
async fn challenge_for(
    node: &TestServer,
    user: &str,
    device_id: &str,
    id: &str,
) -> postern_core::credential::push::Challenge {
    let user = node
        .store()
        .find_user_by_username(user)
        .await
        .unwrap()
        .unwrap();
    let now = node.clock.now();
    let c = postern_core::credential::push::Challenge {
        id: id.into(),
        user_id: user.id,
        flow_id: format!("flow-of-{id}"),
        correlation_id: format!("correlation-of-{id}"),
        app_name: "Learning hub".into(),
        ip: "192.0.2.7".into(),
        number: 42,
        created: now,
        expires: now + time::Duration::minutes(1),
        deliveries: vec![postern_core::credential::push::Delivery::new(
            device_id, "Phone", None, 0,
        )],
        answer: None,
        failure_logged: false,
        version: 0,
    };
    node.store()
        .create_challenge_limited(&c, now - time::Duration::minutes(5), 10)
        .await
        .unwrap();
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_notice_shows_no_one_another_users_request() {
    let (nodes, addrs) = nodes(2).await;
    let (a, b) = (&nodes[0], &nodes[1]);
    let mut devices = vec![];
    for name in ["vic", "mal"] {
        a.create_user(name).await;
        let setup = Browser::new(a);
        setup
            .sign_in(&a.url("/account/signin"), name, common::PASSWORD)
            .await;
        devices.push(setup.add_push_device(a, "Phone").await.0);
        advance_all(&nodes, common::STEP);
    }
    let (victim, mut attacker) = (devices.remove(0), devices.remove(0));
    attacker.node = Some(addrs[1].clone());
    let mut app = device_events(&attacker, b).await;

    // The victim's request exists; then anyone who can connect to the database says, in a
    // notice of its own, that it is addressed to the attacker's phone. Then the attacker's own.
    challenge_for(a, "vic", &victim.id, "victims-request").await;
    let db_url = a.config.database_url.clone().unwrap();
    let mut conn = sqlx::AnyConnection::connect(&db_url).await.unwrap();
    let forged = serde_json::json!({
        "kind": "challenge_new",
        "id": "victims-request",
        "devices": [attacker.id],
    });
    sqlx::query("SELECT pg_notify('postern_wakeups', $1)")
        .bind(forged.to_string())
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    challenge_for(a, "mal", &attacker.id, "attackers-own").await;

    // Notices arrive in commit order: had the forged one been believed, its event would come
    // first. The first challenge the attacker's phone hears of is its own.
    let seen = read_until(&mut app, "attackers-own").await;
    assert!(
        !seen.contains("victims-request") && !seen.contains("\"username\":\"vic\""),
        "{seen}"
    );
    for n in nodes.into_iter().rev() {
        n.stop().await;
    }
}
