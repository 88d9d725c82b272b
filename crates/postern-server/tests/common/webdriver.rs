//! A small W3C WebDriver client for Debian's chromedriver and headless Chromium: enough to open
//! pages, find elements by their visible labels, type, click and read what a person would see.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Driver {
    child: Child,
    base: String,
    session: String,
    http: reqwest::Client,
    profile: std::path::PathBuf,
    /// Where Chromium's DevTools listen (`host:port`), for `cdp::Cdp`.
    debugger: String,
}

/// The user agent of the emulated phone (Chrome on Android).
pub const PHONE_USER_AGENT: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Mobile Safari/537.36";

fn find_binary(candidates: &[&str]) -> Option<String> {
    candidates
        .iter()
        .find(|p| std::path::Path::new(p).exists())
        .map(|p| (*p).to_owned())
}

impl Driver {
    /// Starts chromedriver and a headless Chromium session (a laptop-sized window).
    pub async fn start() -> Driver {
        Self::start_with(None).await
    }

    /// The same on a phone: a 360-px-wide touch screen (2× pixels) with Chrome on Android's
    /// user agent.
    pub async fn start_phone() -> Driver {
        Self::start_with(Some(json!({
            "deviceMetrics": { "width": 360, "height": 780, "pixelRatio": 2.0, "touch": true, "mobile": true },
            "userAgent": PHONE_USER_AGENT,
            "clientHints": { "platform": "Android", "mobile": true, "brands": [{ "brand": "Chromium", "version": "156" }] }
        })))
        .await
    }

    async fn start_with(mobile: Option<Value>) -> Driver {
        let driver = find_binary(&["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"])
            .expect("chromedriver is missing: `apt-get install chromium chromium-driver` (.ci/run does this)");
        let chromium = find_binary(&["/usr/bin/chromium", "/usr/lib/chromium/chromium"])
            .expect("chromium is missing");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(res) = http.get(format!("{base}/status")).send().await
                && res.status().is_success()
            {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = std::env::temp_dir().join(format!("postern-chromium-{port}"));
        let mut options = json!({
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--disable-quic", "--window-size=1000,900",
                format!("--user-data-dir={}", profile.display())]
        });
        if let Some(m) = mobile {
            options["mobileEmulation"] = m;
        }
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": options
        }}});
        let res: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = res["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {res}"))
            .to_owned();
        let debugger = res["value"]["capabilities"]["goog:chromeOptions"]["debuggerAddress"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        Driver {
            child,
            base,
            session,
            http,
            profile,
            debugger,
        }
    }

    /// Where Chromium's DevTools listen (`localhost:PORT`).
    pub fn debugger_address(&self) -> &str {
        &self.debugger
    }

    async fn script(&self, kind: &str, script: &str, args: Vec<Value>) -> Value {
        let url = format!("{}/session/{}/execute/{kind}", self.base, self.session);
        let res: Value = self
            .http
            .post(url)
            .json(&json!({ "script": script, "args": args }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if let Some(error) = res["value"].get("error") {
            panic!("script failed: {error}: {}", res["value"]["message"]);
        }
        res["value"].clone()
    }

    /// Runs a script in the page and returns its value.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        self.script("sync", script, args).await
    }

    /// Runs an asynchronous script (its last argument is the callback) and returns the value
    /// it calls back with.
    pub async fn execute_async(&self, script: &str, args: Vec<Value>) -> Value {
        self.script("async", script, args).await
    }

    /// A PNG of one element as the screen shows it.
    pub async fn element_screenshot(&self, element: &str) -> Vec<u8> {
        let b64 = self
            .call(
                reqwest::Method::GET,
                &format!("/element/{element}/screenshot"),
                None,
            )
            .await;
        data_encoding::BASE64
            .decode(b64.as_str().expect("a screenshot").as_bytes())
            .unwrap()
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut req = self.http.request(method, url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res: Value = req.send().await.unwrap().json().await.unwrap();
        res["value"].clone()
    }

    pub async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    pub async fn current_url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub async fn source(&self) -> String {
        self.call(reqwest::Method::GET, "/source", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Finds one element by XPath, waiting up to 10 s for it to appear.
    pub async fn find(&self, xpath: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let v = self
                .call(
                    reqwest::Method::POST,
                    "/element",
                    Some(json!({ "using": "xpath", "value": xpath })),
                )
                .await;
            if let Some(id) = v.get(ELEMENT).and_then(Value::as_str) {
                return id.to_owned();
            }
            assert!(
                Instant::now() < deadline,
                "no element {xpath}; page: {}",
                self.source().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The input that the label with this visible text points at.
    pub async fn field_labelled(&self, label: &str) -> String {
        let l = self
            .find(&format!("//label[normalize-space()='{label}']"))
            .await;
        let target = self
            .call(
                reqwest::Method::GET,
                &format!("/element/{l}/attribute/for"),
                None,
            )
            .await;
        self.find(&format!(
            "//*[@id='{}']",
            target.as_str().expect("the label names its field")
        ))
        .await
    }

    /// Every element matching an XPath now (no waiting), in document order.
    pub async fn find_all(&self, xpath: &str) -> Vec<String> {
        let v = self
            .call(
                reqwest::Method::POST,
                "/elements",
                Some(json!({ "using": "xpath", "value": xpath })),
            )
            .await;
        v.as_array()
            .map(|all| {
                all.iter()
                    .filter_map(|e| e.get(ELEMENT).and_then(Value::as_str))
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The button whose visible text is `text`.
    pub async fn button(&self, text: &str) -> String {
        self.find(&format!(
            "//button[normalize-space()={}]",
            xpath_literal(text)
        ))
        .await
    }

    /// The link whose visible text is `text`.
    pub async fn link(&self, text: &str) -> String {
        self.find(&format!("//a[normalize-space()={}]", xpath_literal(text)))
            .await
    }

    /// An attribute of an element as the page has it (`None` when absent).
    pub async fn attribute(&self, element: &str, name: &str) -> Option<String> {
        self.call(
            reqwest::Method::GET,
            &format!("/element/{element}/attribute/{name}"),
            None,
        )
        .await
        .as_str()
        .map(str::to_owned)
    }

    /// Empties a text field (before typing a value of one's own over a prefilled one).
    pub async fn clear(&self, element: &str) {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/clear"),
            Some(json!({})),
        )
        .await;
    }

    pub async fn type_into(&self, element: &str, text: &str) {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    pub async fn click(&self, element: &str) {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/click"),
            Some(json!({})),
        )
        .await;
    }

    pub async fn text(&self, element: &str) -> String {
        self.call(
            reqwest::Method::GET,
            &format!("/element/{element}/text"),
            None,
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    /// Waits until the page's visible text contains `needle`.
    pub async fn wait_for_text(&self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let body = self.find("//body").await;
            if self.text(&body).await.contains(needle) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "'{needle}' never appeared; page: {}",
                self.source().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the address bar starts with `prefix` (also when that address cannot be
    /// loaded, as for a redirect to an application that is not running); returns the address.
    pub async fn wait_for_url(&self, prefix: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let url = self.current_url().await;
            if url.starts_with(prefix) {
                return url;
            }
            assert!(
                Instant::now() < deadline,
                "never reached {prefix}; at {url}; page: {}",
                self.source().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Forgets every cookie of the current page's host (Postern's, once a Postern page is
    /// open): the next visit is a fresh browser's.
    pub async fn delete_cookies(&self) {
        self.call(reqwest::Method::DELETE, "/cookie", None).await;
    }

    /// Saves a PNG screenshot (for people reviewing a failure).
    pub async fn screenshot(&self, path: &std::path::Path) {
        let b64 = self.call(reqwest::Method::GET, "/screenshot", None).await;
        if let Some(data) = b64
            .as_str()
            .and_then(|s| data_encoding::BASE64.decode(s.as_bytes()).ok())
        {
            let _ = std::fs::write(path, data);
        }
    }

    pub async fn quit(mut self) {
        let _ = self
            .http
            .delete(format!("{}/session/{}", self.base, self.session))
            .send()
            .await;
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// `text` as an XPath string literal, whatever quotes it holds.
fn xpath_literal(text: &str) -> String {
    if !text.contains('\'') {
        format!("'{text}'")
    } else if !text.contains('"') {
        format!("\"{text}\"")
    } else {
        let parts: Vec<String> = text.split('\'').map(|p| format!("'{p}'")).collect();
        format!("concat({})", parts.join(", \"'\", "))
    }
}
