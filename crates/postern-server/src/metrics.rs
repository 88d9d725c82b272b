//! Prometheus metrics, rendered in the text exposition format at `/metrics`.
//!
//! A fixed set of atomic counters: cheap enough for the token endpoint's hot path, and no registry
//! dependency.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! counters {
    ($($field:ident => $name:literal, $labels:literal, $help:literal;)*) => {
        /// Every counter Postern exports.
        #[derive(Debug, Default)]
        pub struct Metrics {
            $(pub $field: AtomicU64,)*
        }

        impl Metrics {
            /// The text exposition format.
            pub fn render(&self) -> String {
                let mut out = String::new();
                let mut last = "";
                $(
                    if last != $name {
                        let _ = writeln!(out, "# HELP {} {}", $name, $help);
                        let _ = writeln!(out, "# TYPE {} counter", $name);
                        last = $name;
                    }
                    let _ = writeln!(out, "{}{} {}", $name, $labels, self.$field.load(Ordering::Relaxed));
                )*
                let _ = last;
                out
            }
        }
    };
}

counters! {
    http_2xx => "postern_http_responses_total", "{class=\"2xx\"}", "HTTP responses by status class.";
    http_3xx => "postern_http_responses_total", "{class=\"3xx\"}", "HTTP responses by status class.";
    http_4xx => "postern_http_responses_total", "{class=\"4xx\"}", "HTTP responses by status class.";
    http_5xx => "postern_http_responses_total", "{class=\"5xx\"}", "HTTP responses by status class.";
    signin_success => "postern_signins_total", "{result=\"success\"}", "Finished sign-in attempts by result.";
    signin_failure => "postern_signins_total", "{result=\"failure\"}", "Finished sign-in attempts by result.";
    grant_code => "postern_token_grants_total", "{grant=\"authorization_code\"}", "Tokens issued by grant type.";
    grant_refresh => "postern_token_grants_total", "{grant=\"refresh_token\"}", "Tokens issued by grant type.";
    grant_client_credentials => "postern_token_grants_total", "{grant=\"client_credentials\"}", "Tokens issued by grant type.";
    token_errors => "postern_token_errors_total", "", "Token endpoint requests refused.";
    password_checks => "postern_password_checks_total", "", "Argon2id verifications run.";
    rate_limited => "postern_rate_limited_total", "", "Requests refused by per-address throttling.";
    web_push_accepted => "postern_web_push_total", "{result=\"accepted\"}", "Web Push wake-up notifications by the push service's answer.";
    web_push_failed => "postern_web_push_total", "{result=\"failed\"}", "Web Push wake-up notifications by the push service's answer.";
}

impl Metrics {
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a response by status class.
    pub fn count_status(&self, status: u16) {
        let c = match status {
            200..=299 => &self.http_2xx,
            300..=399 => &self.http_3xx,
            400..=499 => &self.http_4xx,
            _ => &self.http_5xx,
        };
        Self::inc(c);
    }
}
