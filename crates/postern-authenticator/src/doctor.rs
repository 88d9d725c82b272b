//! `doctor`: what would stop push from working, checked per account and explained in words.
//!
//! For each push account: can the server be reached, is the registration still valid, is the
//! local clock close enough to the server's for signatures, and when did the device last
//! connect. The judgement of a clock difference (`judge_clock`) is a pure function; `check`
//! makes the one network call.

use serde::Serialize;

use crate::account::Account;
use crate::client::{Client, ClientError};
use crate::time_text::describe_last_contact;

/// Clock difference that earns a warning.
pub const CLOCK_WARN_MS: i64 = 30_000;
/// Clock difference past which the server refuses signatures (`MAX_SKEW_MS` of the protocol).
pub const CLOCK_FAIL_MS: i64 = postern_proto::authenticator::MAX_SKEW_MS;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Warn => "WARN",
            Self::Fail => "FAIL",
        }
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// `server`, `registration`, `clock` or `last_contact`.
    pub what: &'static str,
    pub status: Status,
    pub detail: String,
}

/// The findings for one account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountReport {
    pub account: String,
    pub server: String,
    pub checks: Vec<Check>,
    /// When the server answered during this check (to record as the last contact).
    #[serde(skip)]
    pub contacted_ms: Option<i64>,
}

impl AccountReport {
    pub fn worst(&self) -> Status {
        self.checks
            .iter()
            .map(|c| c.status)
            .max()
            .unwrap_or(Status::Ok)
    }
}

/// Judges a clock difference (server minus local, milliseconds).
pub fn judge_clock(skew_ms: i64) -> Check {
    let seconds = skew_ms as f64 / 1000.0;
    let direction = if skew_ms > 0 { "behind" } else { "ahead of" };
    let (status, detail) = if skew_ms.abs() > CLOCK_FAIL_MS {
        (
            Status::Fail,
            format!(
                "this computer's clock is {:.1} s {direction} the server's: past 60 s the server \
                 refuses every signed request, so approvals fail; set the clock automatically (NTP)",
                seconds.abs()
            ),
        )
    } else if skew_ms.abs() > CLOCK_WARN_MS {
        (
            Status::Warn,
            format!(
                "this computer's clock is {:.1} s {direction} the server's; at 60 s approvals stop \
                 working: set the clock automatically (NTP)",
                seconds.abs()
            ),
        )
    } else {
        (
            Status::Ok,
            format!("within {:.1} s of the server's clock", seconds.abs()),
        )
    };
    Check {
        what: "clock",
        status,
        detail,
    }
}

/// Checks one push account against its server.
pub async fn check(client: &Client, account: &Account) -> AccountReport {
    let Some(push) = account.push.as_ref() else {
        return AccountReport {
            account: account.name.clone(),
            server: String::new(),
            checks: Vec::new(),
            contacted_ms: None,
        };
    };
    let mut checks = Vec::new();
    let before = client.now_ms();
    let result = client.device_status(account).await;
    let after = client.now_ms();
    let local_mid = before + (after - before) / 2;
    let mut contacted_ms = None;
    match result {
        Ok(status) => {
            contacted_ms = Some(after);
            checks.push(Check {
                what: "server",
                status: Status::Ok,
                detail: format!("reached {} in {} ms", push.api_base, after - before),
            });
            checks.push(Check {
                what: "registration",
                status: Status::Ok,
                detail: format!(
                    "device '{}' is registered for {}",
                    status.device_name, status.username
                ),
            });
            checks.push(judge_clock(status.server_time_ms - local_mid));
        }
        Err(error @ ClientError::Unreachable { .. }) => checks.push(Check {
            what: "server",
            status: Status::Fail,
            detail: format!("{error}; requests cannot arrive until it can be reached"),
        }),
        Err(ClientError::Api {
            error,
            server_date_ms,
            ..
        }) => {
            contacted_ms = Some(after);
            checks.push(Check {
                what: "server",
                status: Status::Ok,
                detail: format!("reached {}", push.api_base),
            });
            let (what, detail) = match error.error.as_str() {
                "unknown_device" => (
                    "registration",
                    "this device was removed from the account; add it again from Security info"
                        .to_owned(),
                ),
                "bad_signature" => (
                    "registration",
                    "the server refused this device's signature; remove the account here and \
                     add it again from Security info"
                        .to_owned(),
                ),
                "clock_skew" => ("clock", String::new()),
                _ => (
                    "registration",
                    format!(
                        "the server refused the check: {} ({})",
                        error.message, error.error
                    ),
                ),
            };
            if what == "clock" {
                // The server's `Date` header still tells how far off we are (to the second).
                let measured = server_date_ms
                    .map(|date| {
                        let skew = date - local_mid;
                        let direction = if skew > 0 { "behind" } else { "ahead of" };
                        format!(
                            " (by its Date header, about {:.0} s {direction} it)",
                            (skew as f64 / 1000.0).abs()
                        )
                    })
                    .unwrap_or_default();
                checks.push(Check {
                    what: "clock",
                    status: Status::Fail,
                    detail: format!(
                        "the server refused this computer's time as more than 60 s off its \
                         clock{measured}: every signed request fails; set the clock \
                         automatically (NTP)"
                    ),
                });
            } else {
                checks.push(Check {
                    what,
                    status: Status::Fail,
                    detail,
                });
            }
        }
        Err(other) => checks.push(Check {
            what: "server",
            status: Status::Fail,
            detail: other.to_string(),
        }),
    }
    checks.push(Check {
        what: "last_contact",
        status: Status::Ok,
        detail: format!(
            "last connected before this check: {}",
            describe_last_contact(push.last_contact_ms, before)
        ),
    });
    AccountReport {
        account: account.name.clone(),
        server: push.api_base.clone(),
        checks,
        contacted_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_thresholds() {
        assert_eq!(judge_clock(500).status, Status::Ok);
        assert_eq!(judge_clock(-30_000).status, Status::Ok);
        assert_eq!(judge_clock(30_001).status, Status::Warn);
        assert_eq!(judge_clock(-45_000).status, Status::Warn);
        assert_eq!(judge_clock(60_001).status, Status::Fail);
        assert!(judge_clock(90_000).detail.contains("90.0 s behind"));
        assert!(judge_clock(-90_000).detail.contains("90.0 s ahead of"));
    }
}
