//! A cookie-keeping HTTP browser that does not follow redirects by itself, so every hop of a
//! sign-in can be checked, and the sign-in form a test posts itself.

use super::*;

/// Where a browser ends up after following Postern's redirects.
#[derive(Debug)]
pub enum Landing {
    /// A Postern page.
    Page {
        status: u16,
        url: String,
        body: String,
        request_id: String,
    },
    /// A redirect out of Postern (to the application).
    App(String),
}

impl Landing {
    pub fn app_url(&self) -> &str {
        match self {
            Landing::App(u) => u,
            other => panic!("expected a redirect to the app, got {other:?}"),
        }
    }

    pub fn page(&self) -> (&str, &str) {
        match self {
            Landing::Page { url, body, .. } => (url, body),
            other => panic!("expected a Postern page, got {other:?}"),
        }
    }

    pub fn body(&self) -> &str {
        self.page().1
    }
}

/// A browser: keeps cookies, sends Origin and Sec-Fetch-Site like a real one, follows redirects
/// itself.
#[derive(Clone)]
pub struct Browser {
    pub http: reqwest::Client,
    pub(super) issuer: String,
}

impl Browser {
    pub fn new(server: &TestServer) -> Browser {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Browser {
            http,
            issuer: server.issuer().to_owned(),
        }
    }

    /// A browser whose connections come from `local` (a loopback address such as 127.0.0.3), so
    /// that a test can tell the client's address from a proxy's.
    pub fn from_address(server: &TestServer, local: std::net::IpAddr) -> Browser {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .local_address(local)
            .build()
            .unwrap();
        Browser {
            http,
            issuer: server.issuer().to_owned(),
        }
    }

    /// GETs `url` and follows redirects while they stay on Postern.
    pub async fn open(&self, url: &str) -> Landing {
        let res = self.http.get(url).send().await.unwrap();
        self.land(res).await
    }

    /// POSTs a form (as a same-origin page would) and follows redirects within Postern.
    pub async fn submit(&self, url: &str, form: &[(&str, &str)]) -> Landing {
        let res = self
            .http
            .post(url)
            .header("origin", &self.issuer)
            .header("sec-fetch-site", "same-origin")
            .form(form)
            .send()
            .await
            .unwrap();
        self.land(res).await
    }

    async fn land(&self, mut res: reqwest::Response) -> Landing {
        for _ in 0..10 {
            let status = res.status().as_u16();
            if (300..400).contains(&status) {
                let loc = res.headers()["location"].to_str().unwrap().to_owned();
                let next = if loc.starts_with('/') {
                    format!("{}{loc}", self.issuer)
                } else {
                    loc
                };
                if !next.starts_with(&self.issuer) {
                    return Landing::App(next);
                }
                res = self.http.get(&next).send().await.unwrap();
                continue;
            }
            let url = res.url().to_string();
            let request_id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
            let body = res.text().await.unwrap();
            return Landing::Page {
                status,
                url,
                body,
                request_id,
            };
        }
        panic!("redirect loop");
    }

    /// Opens `authorize_url`, fills the sign-in form and returns where it lands.
    pub async fn sign_in(&self, authorize_url: &str, username: &str, password: &str) -> Landing {
        let landing = self.open(authorize_url).await;
        let (url, body) = landing.page();
        assert!(
            url.contains("/signin/"),
            "expected the sign-in page, got {url}"
        );
        self.submit_password(body, username, password).await
    }

    /// Fills the sign-in form found in `body`.
    pub async fn submit_password(&self, body: &str, username: &str, password: &str) -> Landing {
        let action = format!("{}{}", self.issuer, attr(body, "action").expect("a form"));
        let csrf = hidden(body, "csrf").expect("a csrf field");
        self.submit(
            &action,
            &[
                ("csrf", &csrf),
                ("username", username),
                ("password", password),
            ],
        )
        .await
    }
}

impl Browser {
    /// Signs `username` in to `client` (PKCE, plus `extra` parameters) and returns the
    /// authorization code and the PKCE verifier.
    pub async fn code_for(
        &self,
        server: &TestServer,
        client: &Client,
        username: &str,
        extra: &[(&str, &str)],
    ) -> (String, String) {
        let (url, verifier, _, _) = authorize_url(server, client, extra);
        let landing = self.sign_in(&url, username, PASSWORD).await;
        (
            query_param(landing.app_url(), "code").expect("a code"),
            verifier,
        )
    }
}

/// The sign-in form of a page: where it posts and its anti-forgery token, for tests that post it
/// themselves (in parallel, to another node, with odd bodies).
pub struct SignInForm {
    pub action: String,
    pub csrf: String,
}

impl SignInForm {
    pub fn of(server: &TestServer, body: &str) -> SignInForm {
        SignInForm {
            action: format!(
                "{}{}",
                server.issuer(),
                attr(body, "action").expect("a form")
            ),
            csrf: hidden(body, "csrf").expect("a csrf field"),
        }
    }

    /// Posts username and password as a same-origin page would.
    pub async fn post(
        &self,
        http: &reqwest::Client,
        origin: &str,
        username: &str,
        password: &str,
    ) -> reqwest::Response {
        http.post(&self.action)
            .header("origin", origin)
            .form(&[
                ("csrf", self.csrf.as_str()),
                ("username", username),
                ("password", password),
            ])
            .send()
            .await
            .unwrap()
    }
}
