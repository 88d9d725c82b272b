//! The README's nginx example, run: nginx (Debian's package, installed by `scripts/test-deps`)
//! on a free port in front of two nodes on one PostgreSQL database, with only the addresses
//! replaced. A whole push sign-in goes through it — requests land on both nodes in turn — with
//! the app's and the waiting page's event streams arriving unbuffered, and the sign-in log shows
//! the browser's own address (127.0.0.3), not nginx's and not one the browser made up.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Backend, Browser, TestServer, authorize_url, query_param};
use postern_core::client::ClientKind;
use postern_core::oidc::jws::SigningAlg;
use postern_store::testing::TestDatabase;
use std::net::IpAddr;
use std::time::Duration;

const MASTER_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";

/// The README's nginx example (the fenced block after `<!-- nginx-example -->`).
fn readme_example() -> String {
    let readme = include_str!("../../../README.md");
    let after = readme
        .split("<!-- nginx-example -->")
        .nth(1)
        .expect("the README has the nginx example");
    let block = after
        .split("```nginx\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a fenced nginx block");
    block.to_owned()
}

/// nginx running `example` in its own prefix; killed when dropped.
struct Nginx(std::process::Child, std::path::PathBuf);

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let _ = std::fs::remove_dir_all(&self.1);
    }
}

fn start_nginx(example: &str) -> Nginx {
    let binary = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("nginx is installed (scripts/test-deps installs nginx-light)");
    let prefix = std::env::temp_dir().join(format!(
        "postern-nginx-{}",
        postern_core::random::token(&postern_core::random::OsRandom, 8)
    ));
    std::fs::create_dir_all(&prefix).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&prefix, std::fs::Permissions::from_mode(0o777)).unwrap();
    let p = prefix.display();
    let conf = format!(
        "pid {p}/nginx.pid;\nerror_log {p}/error.log warn;\nevents {{ worker_connections 256; }}\n\
         http {{\n access_log off;\n client_body_temp_path {p}/body;\n proxy_temp_path {p}/proxy;\n\
         fastcgi_temp_path {p}/fastcgi;\n uwsgi_temp_path {p}/uwsgi;\n scgi_temp_path {p}/scgi;\n\
         {example}\n}}\n"
    );
    std::fs::write(prefix.join("nginx.conf"), conf).unwrap();
    let child = std::process::Command::new(binary)
        .arg("-p")
        .arg(&prefix)
        .arg("-c")
        .arg(prefix.join("nginx.conf"))
        .args(["-g", "daemon off;"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    Nginx(child, prefix)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_nginx_example_serves_a_push_sign_in_over_two_nodes() {
    let port = std::net::TcpListener::bind("127.0.0.2:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let issuer = format!("http://127.0.0.2:{port}");
    let db = TestDatabase::create(Backend::Postgres).await;
    let url = db.url.clone();
    let node = |db: Option<TestDatabase>| {
        let (url, issuer) = (url.clone(), issuer.clone());
        async move {
            TestServer::start_node(&url, db, move |c| {
                c.issuer = Some(issuer);
                c.master_key = Some(MASTER_KEY.into());
                c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
            })
            .await
        }
    };
    let a = node(Some(db)).await;
    let b = node(None).await;
    let example = readme_example()
        .replace(
            "server 10.0.0.11:8080",
            &format!("server {}", a.server.addr),
        )
        .replace(
            "server 10.0.0.12:8080",
            &format!("server {}", b.server.addr),
        )
        .replace("listen 80;", &format!("listen 127.0.0.2:{port};"));
    assert!(
        !example.contains("10.0.0."),
        "every address replaced: {example}"
    );
    let _nginx = start_nginx(&example);
    let mut up = false;
    for _ in 0..100 {
        if let Ok(res) = reqwest::get(format!("{issuer}/readyz")).await
            && res.status() == 200
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "nginx answers on {issuer}");

    // Everything below goes through nginx (the issuer), round robin over both nodes.
    let browser_ip: IpAddr = "127.0.0.3".parse().unwrap();
    a.create_user("noa").await;
    let (client, _) = a.create_client(ClientKind::Public, SigningAlg::RS256).await;
    let setup = Browser::from_address(&a, browser_ip);
    setup
        .sign_in(&a.url("/account/signin"), "noa", common::PASSWORD)
        .await;
    let (device, _) = setup.add_push_device(&a, "Pixel 7").await;
    let mut app = device
        .request(
            &a,
            reqwest::Method::GET,
            "/api/authenticator/v1/events",
            b"",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(app.status(), 200);

    let browser = Browser::from_address(&a, browser_ip);
    let (auth_url, _, _, _) = authorize_url(&a, &client, &[]);
    let waiting = browser.sign_in(&auth_url, "noa", common::PASSWORD).await;
    let body = waiting.body().to_owned();
    let number = common::match_number(&body);
    // The app's stream is open and unbuffered: the challenge arrives at once, not when a buffer
    // fills or the next keep-alive (15 s) pushes it out.
    let asked = std::time::Instant::now();
    read_until(&mut app, "event: challenge").await;
    assert!(
        asked.elapsed() < Duration::from_secs(3),
        "the app's event arrived after {:?}: buffered",
        asked.elapsed()
    );
    let flow = common::links(&body)
        .into_iter()
        .find(|l| l.contains("?method="))
        .unwrap()
        .trim_start_matches("/signin/")
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let opened = std::time::Instant::now();
    let mut page_events = browser
        .http
        .get(a.url(&format!("/signin/{flow}/push/events")))
        .send()
        .await
        .unwrap();
    assert_eq!(page_events.status(), 200);
    read_until(&mut page_events, "event: status").await;
    assert!(
        opened.elapsed() < Duration::from_secs(3),
        "the waiting page's first status arrived after {:?}: buffered",
        opened.elapsed()
    );
    let id = device.pending(&a).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, outcome) = device.answer(&a, &id, true, Some(number), false).await;
    assert_eq!(status, 200, "{outcome}");
    let answered = std::time::Instant::now();
    read_until(&mut page_events, "event: done").await;
    assert!(
        answered.elapsed() < Duration::from_secs(3),
        "the waiting page heard of the answer after {:?}: buffered",
        answered.elapsed()
    );
    let done = browser.open(&a.url(&format!("/signin/{flow}"))).await;
    assert!(query_param(done.app_url(), "code").is_some());

    // The log has the browser's address, seen through nginx.
    let entry = common::last_signin(&a, "noa").await;
    assert_eq!(entry.ip.as_deref(), Some("127.0.0.3"), "{entry:?}");
    drop(app);
    b.stop().await;
    a.stop().await;
}

async fn read_until(res: &mut reqwest::Response, needle: &str) -> String {
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !seen.contains(needle) {
        let chunk = tokio::time::timeout_at(deadline, res.chunk())
            .await
            .unwrap_or_else(|_| panic!("'{needle}' within 10 s (buffered?); read: {seen}"))
            .unwrap()
            .unwrap_or_else(|| panic!("the stream ended before '{needle}': {seen}"));
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    seen
}
