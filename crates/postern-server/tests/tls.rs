//! HTTPS without a reverse proxy (`tls.*`), over real TLS: the issuer becomes `https://`, plain
//! HTTP on the TLS port is refused without harm, a renewed certificate is picked up once the
//! server's clock passes `tls.reload_seconds` (no restart), a broken renewal keeps the old
//! certificate, and a wrong pair stops the start with a message naming the setting.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Backend, TestServer};
use postern_server::config::{Config, Overrides};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How often the test servers look at their certificate files.
const RELOAD_SECONDS: u64 = 600;

/// A self-signed certificate for `localhost` and `127.0.0.1`, as PEM.
struct Pair {
    cert_pem: String,
    key_pem: String,
    der: Vec<u8>,
}

impl Pair {
    fn generate() -> Pair {
        let rcgen::CertifiedKey { cert, signing_key } =
            rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
                .unwrap();
        Pair {
            cert_pem: cert.pem(),
            key_pem: signing_key.serialize_pem(),
            der: cert.der().to_vec(),
        }
    }

    /// An HTTP client that trusts this certificate and nothing else; a new one each time, so no
    /// pooled connection or resumed session skips the server's certificate.
    fn client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(self.cert_pem.as_bytes()).unwrap()])
            .tls_info(true)
            .build()
            .unwrap()
    }
}

/// The certificate and key files of a server, in a temporary directory.
struct Files {
    _dir: tempfile::TempDir,
    cert: PathBuf,
    key: PathBuf,
}

impl Files {
    fn new(pair: &Pair) -> Files {
        let dir = tempfile::tempdir().unwrap();
        let files = Files {
            cert: dir.path().join("fullchain.pem"),
            key: dir.path().join("privkey.pem"),
            _dir: dir,
        };
        files.write(&pair.cert_pem, &pair.key_pem);
        files
    }

    /// Rewrites both files in place, as a renewal does.
    fn write(&self, cert: &str, key: &str) {
        std::fs::write(&self.cert, cert).unwrap();
        std::fs::write(&self.key, key).unwrap();
    }
}

async fn start_tls(files: &Files) -> TestServer {
    let (cert, key) = (files.cert.clone(), files.key.clone());
    TestServer::start_with(Backend::Sqlite, move |config| {
        config.tls.cert_file = Some(cert);
        config.tls.key_file = Some(key);
        config.tls.reload_seconds = RELOAD_SECONDS;
    })
    .await
}

/// Which certificate the server shows a client trusting `pair` (DER), or the client's error.
async fn served_to(server: &TestServer, pair: &Pair) -> Result<Vec<u8>, String> {
    let res = pair
        .client()
        .get(server.url("/healthz"))
        .send()
        .await
        .map_err(|e| format!("{e:?}"))?;
    assert_eq!(res.status(), 200);
    let info = res
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .expect("TLS information");
    Ok(info.peer_certificate().expect("a certificate").to_vec())
}

fn reload_passes(server: &TestServer) {
    server.advance(time::Duration::seconds(RELOAD_SECONDS as i64 + 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_is_served_and_the_issuer_says_https() {
    let pair = Pair::generate();
    let files = Files::new(&pair);
    let server = start_tls(&files).await;
    let port = server.server.addr.port();
    assert_eq!(server.issuer(), format!("https://127.0.0.1:{port}"));

    assert_eq!(served_to(&server, &pair).await.unwrap(), pair.der);
    let discovery: Value = pair
        .client()
        .get(server.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(discovery["issuer"], server.issuer());
    for endpoint in ["authorization_endpoint", "token_endpoint", "jwks_uri"] {
        let url = discovery[endpoint].as_str().unwrap();
        assert!(url.starts_with("https://127.0.0.1:"), "{endpoint}: {url}");
    }
    // Only HTTP/1.1 is offered.
    let res = pair
        .client()
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.version(), reqwest::Version::HTTP_11);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_on_the_tls_port_fails_and_the_server_keeps_serving() {
    let pair = Pair::generate();
    let files = Files::new(&pair);
    let server = start_tls(&files).await;
    let addr = server.server.addr;

    // A client that opens a connection and says nothing does not hold up anyone else.
    let silent = tokio::net::TcpStream::connect(addr).await.unwrap();

    let plain = reqwest::Client::new()
        .get(format!("http://{addr}/healthz"))
        .send()
        .await;
    assert!(plain.is_err(), "plain HTTP got an answer: {plain:?}");

    // At the TCP level: the server closes the connection and never answers in HTTP.
    let mut raw = tokio::net::TcpStream::connect(addr).await.unwrap();
    raw.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        raw.read_to_end(&mut answer),
    )
    .await
    .expect("the server closes the connection");
    // A reset instead of a clean close is fine too; what matters is that no HTTP came back.
    drop(read);
    assert!(
        !answer.starts_with(b"HTTP/"),
        "{}",
        String::from_utf8_lossy(&answer)
    );

    assert_eq!(served_to(&server, &pair).await.unwrap(), pair.der);
    drop(silent);
    assert_eq!(served_to(&server, &pair).await.unwrap(), pair.der);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewed_certificate_is_served_after_reload_seconds_without_a_restart() {
    let old = Pair::generate();
    let new = Pair::generate();
    let files = Files::new(&old);
    let server = start_tls(&files).await;
    assert_eq!(served_to(&server, &old).await.unwrap(), old.der);

    files.write(&new.cert_pem, &new.key_pem);
    // Before reload_seconds have passed on the server's clock, the old certificate is served.
    assert_eq!(served_to(&server, &old).await.unwrap(), old.der);
    assert!(served_to(&server, &new).await.is_err());
    server.advance(time::Duration::seconds(RELOAD_SECONDS as i64 - 10));
    assert_eq!(served_to(&server, &old).await.unwrap(), old.der);

    reload_passes(&server);
    assert_eq!(served_to(&server, &new).await.unwrap(), new.der);
    let refused = served_to(&server, &old).await;
    assert!(refused.is_err(), "the old certificate is still served");
    // The same server, never restarted: its issuer and state carry on.
    assert_eq!(
        server.issuer(),
        format!("https://127.0.0.1:{}", server.server.addr.port())
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_renewal_keeps_the_old_certificate() {
    let good = Pair::generate();
    let other = Pair::generate();
    let files = Files::new(&good);
    let server = start_tls(&files).await;

    // Garbage in both files.
    files.write("not a certificate\n", "not a key either\n");
    reload_passes(&server);
    assert_eq!(served_to(&server, &good).await.unwrap(), good.der);

    // A certificate with a key that is not its own.
    files.write(&other.cert_pem, &good.key_pem);
    reload_passes(&server);
    assert_eq!(served_to(&server, &good).await.unwrap(), good.der);
    assert!(served_to(&server, &other).await.is_err());

    // Half-written: the files are gone for a moment.
    std::fs::remove_file(&files.key).unwrap();
    reload_passes(&server);
    assert_eq!(served_to(&server, &good).await.unwrap(), good.der);

    // The renewal is finished properly: picked up at the next check.
    files.write(&other.cert_pem, &other.key_pem);
    reload_passes(&server);
    assert_eq!(served_to(&server, &other).await.unwrap(), other.der);
    server.stop().await;
}

/// A configuration that would start, but for `tls`.
fn config_with(dir: &Path, cert: Option<&Path>, key: Option<&Path>) -> Config {
    let mut config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.join("data"),
        ..Config::default()
    };
    config.tls.cert_file = cert.map(Path::to_owned);
    config.tls.key_file = key.map(Path::to_owned);
    config
}

async fn start_error(config: Config) -> String {
    let clock = Arc::new(postern_core::clock::ManualClock::new());
    match postern_server::app::start(config, clock).await {
        Ok(_) => panic!("the server started"),
        Err(e) => e.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_pair_stops_the_start_naming_the_setting_and_the_file() {
    let pair = Pair::generate();
    let other = Pair::generate();
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, &pair.cert_pem).unwrap();
    std::fs::write(&key, &other.key_pem).unwrap();

    let e = start_error(config_with(dir.path(), Some(&cert), Some(&key))).await;
    assert!(e.contains("tls.key_file"), "{e}");
    assert!(e.contains("does not belong"), "{e}");
    assert!(e.contains(&*key.to_string_lossy()), "{e}");
    assert!(!e.contains("PRIVATE KEY"), "key material in {e}");

    let missing = dir.path().join("missing.pem");
    let e = start_error(config_with(dir.path(), Some(&missing), Some(&key))).await;
    assert!(e.starts_with("tls.cert_file"), "{e}");
    assert!(e.contains(&*missing.to_string_lossy()), "{e}");

    std::fs::write(&key, "garbage").unwrap();
    let e = start_error(config_with(dir.path(), Some(&cert), Some(&key))).await;
    assert!(e.starts_with("tls.key_file"), "{e}");
    assert!(e.contains("no PEM private key"), "{e}");

    // The certificate file holding only a key.
    std::fs::write(&key, &pair.key_pem).unwrap();
    let e = start_error(config_with(dir.path(), Some(&key), Some(&key))).await;
    assert!(e.starts_with("tls.cert_file"), "{e}");
    assert!(e.contains("no PEM certificate"), "{e}");

    // One file in a single PEM bundle (certificate, then key) is fine.
    let bundle = dir.path().join("bundle.pem");
    std::fs::write(&bundle, format!("{}{}", pair.cert_pem, pair.key_pem)).unwrap();
    let clock = Arc::new(postern_core::clock::ManualClock::new());
    let server =
        postern_server::app::start(config_with(dir.path(), Some(&bundle), Some(&bundle)), clock)
            .await
            .expect("a bundle starts");
    assert!(server.issuer.starts_with("https://"));
    server.stop().await;

    let e = start_error(config_with(dir.path(), Some(&cert), None)).await;
    assert!(
        e.contains("tls.cert_file and tls.key_file go together"),
        "{e}"
    );
}

#[test]
fn settings_are_checked_when_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let load = |toml: &str| {
        let file = dir.path().join("postern.toml");
        std::fs::write(&file, toml).unwrap();
        Config::load(Some(&file), &Overrides::default()).map(|c| c.tls)
    };

    let e = load("[tls]\ncert_file = \"/etc/postern/cert.pem\"\n").unwrap_err();
    assert!(
        e.to_string()
            .contains("tls.cert_file and tls.key_file go together"),
        "{e}"
    );
    let e = load("[tls]\nkey_file = \"/etc/postern/key.pem\"\n").unwrap_err();
    assert!(
        e.to_string()
            .contains("tls.cert_file and tls.key_file go together"),
        "{e}"
    );
    let e = load("[tls]\nreload_seconds = 0\n").unwrap_err();
    assert!(e.to_string().contains("tls.reload_seconds"), "{e}");
    let e = load("[tls]\nreload_seconds = 86401\n").unwrap_err();
    assert!(e.to_string().contains("tls.reload_seconds"), "{e}");

    let tls = load("").unwrap();
    assert_eq!(
        (tls.cert_file, tls.key_file, tls.reload_seconds),
        (None, None, 60)
    );
    let tls = load(
        "[tls]\ncert_file = \"/etc/postern/cert.pem\"\nkey_file = \"/etc/postern/key.pem\"\nreload_seconds = 300\n",
    )
    .unwrap();
    assert_eq!(
        tls.cert_file.as_deref(),
        Some(Path::new("/etc/postern/cert.pem"))
    );
    assert_eq!(tls.reload_seconds, 300);
}

/// The real binary reads `POSTERN_TLS__*` like any other setting and refuses a wrong pair.
#[test]
fn environment_variables_set_tls() {
    let pair = Pair::generate();
    let other = Pair::generate();
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, &pair.cert_pem).unwrap();
    std::fs::write(&key, &other.key_pem).unwrap();
    let serve = |env: &[(&str, &Path)]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_postern"));
        cmd.arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdin(std::process::Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };

    let stderr = serve(&[("POSTERN_TLS__CERT_FILE", &cert)]);
    assert!(
        stderr.contains("tls.cert_file and tls.key_file go together"),
        "{stderr}"
    );
    let stderr = serve(&[
        ("POSTERN_TLS__CERT_FILE", &cert),
        ("POSTERN_TLS__KEY_FILE", &key),
    ]);
    assert!(stderr.contains("tls.key_file"), "{stderr}");
    assert!(stderr.contains("does not belong"), "{stderr}");
}
