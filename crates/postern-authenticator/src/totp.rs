//! Time-based one-time passwords (RFC 6238 over RFC 4226 HOTP) and `otpauth://totp/…` URIs.
//!
//! Owns code generation for every account in the vault, Postern's own and any other issuer's.
//! Pure: the current time is a parameter, nothing here reads the clock, the network or the disk.

use std::fmt;

use aws_lc_rs::hmac;
use data_encoding::BASE32_NOPAD;
use serde::{Deserialize, Serialize};
use url::Url;

/// The HMAC behind the codes (`algorithm=` of an otpauth URI).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TotpAlgorithm {
    Sha1,
    Sha256,
    Sha512,
}

impl TotpAlgorithm {
    fn hmac(self) -> hmac::Algorithm {
        match self {
            Self::Sha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            Self::Sha256 => hmac::HMAC_SHA256,
            Self::Sha512 => hmac::HMAC_SHA512,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
            Self::Sha512 => "SHA512",
        }
    }
}

/// Why an otpauth URI or a TOTP setting was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct OtpauthError(String);

fn refuse(message: impl Into<String>) -> OtpauthError {
    OtpauthError(message.into())
}

/// One TOTP account: the shared secret and how codes are made from it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totp {
    /// The shared secret, base32 without padding (as otpauth URIs carry it).
    secret: String,
    pub algorithm: TotpAlgorithm,
    pub digits: u32,
    pub period: u64,
    /// Who issued it ("Postern School", "GitHub"); may be empty.
    pub issuer: String,
    /// The account at that issuer ("ada@example.org").
    pub account_name: String,
}

impl fmt::Debug for Totp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Totp")
            .field("secret", &"<redacted>")
            .field("algorithm", &self.algorithm)
            .field("digits", &self.digits)
            .field("period", &self.period)
            .field("issuer", &self.issuer)
            .field("account_name", &self.account_name)
            .finish()
    }
}

/// A code and how long it stays valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Code {
    pub code: String,
    pub seconds_left: u64,
}

impl Totp {
    /// A TOTP from raw parts; checks what `from_uri` checks.
    pub fn new(
        secret: &[u8],
        algorithm: TotpAlgorithm,
        digits: u32,
        period: u64,
        issuer: &str,
        account_name: &str,
    ) -> Result<Self, OtpauthError> {
        if secret.is_empty() {
            return Err(refuse("the secret is empty"));
        }
        if !(6..=8).contains(&digits) {
            return Err(refuse(format!("digits must be 6, 7 or 8, not {digits}")));
        }
        if period == 0 || period > 86_400 {
            return Err(refuse(format!(
                "period must be between 1 and 86400 seconds, not {period}"
            )));
        }
        Ok(Self {
            secret: BASE32_NOPAD.encode(secret),
            algorithm,
            digits,
            period,
            issuer: issuer.to_owned(),
            account_name: account_name.to_owned(),
        })
    }

    /// Parses `otpauth://totp/ISSUER:ACCOUNT?secret=BASE32&issuer=…&algorithm=…&digits=…&period=…`
    /// (Key Uri Format). Defaults: SHA1, 6 digits, 30 seconds.
    pub fn from_uri(uri: &str) -> Result<Self, OtpauthError> {
        let url = Url::parse(uri.trim())
            .map_err(|e| refuse(format!("not a URI ({e}); expected otpauth://totp/…")))?;
        if url.scheme() != "otpauth" {
            return Err(refuse(format!(
                "expected an otpauth:// URI, got {}://",
                url.scheme()
            )));
        }
        match url.host_str() {
            Some(kind) if kind.eq_ignore_ascii_case("totp") => {}
            Some(kind) if kind.eq_ignore_ascii_case("hotp") => {
                return Err(refuse(
                    "counter-based (HOTP) accounts are not supported, only time-based (TOTP)",
                ));
            }
            _ => return Err(refuse("expected otpauth://totp/…")),
        }
        let label = percent_encoding::percent_decode_str(url.path().trim_start_matches('/'))
            .decode_utf8()
            .map_err(|_| refuse("the label is not UTF-8"))?
            .into_owned();
        let (label_issuer, account_name) = match label.split_once(':') {
            Some((issuer, account)) => (issuer.trim().to_owned(), account.trim().to_owned()),
            None => (String::new(), label.trim().to_owned()),
        };

        let mut secret = None;
        let mut issuer = None;
        let mut algorithm = TotpAlgorithm::Sha1;
        let mut digits = 6;
        let mut period = 30;
        for (key, value) in url.query_pairs() {
            match key.to_ascii_lowercase().as_str() {
                "secret" => secret = Some(decode_secret(&value)?),
                "issuer" => issuer = Some(value.trim().to_owned()),
                "algorithm" => {
                    algorithm = match value.to_ascii_uppercase().replace('-', "").as_str() {
                        "SHA1" => TotpAlgorithm::Sha1,
                        "SHA256" => TotpAlgorithm::Sha256,
                        "SHA512" => TotpAlgorithm::Sha512,
                        other => {
                            return Err(refuse(format!(
                                "unsupported algorithm {other}: use SHA1, SHA256 or SHA512"
                            )));
                        }
                    }
                }
                "digits" => {
                    digits = value
                        .parse()
                        .map_err(|_| refuse(format!("digits is not a number: {value}")))?
                }
                "period" => {
                    period = value
                        .parse()
                        .map_err(|_| refuse(format!("period is not a number: {value}")))?
                }
                _ => {}
            }
        }
        let secret = secret.ok_or_else(|| refuse("the URI has no secret= parameter"))?;
        let issuer = issuer.filter(|i| !i.is_empty()).unwrap_or(label_issuer);
        Self::new(&secret, algorithm, digits, period, &issuer, &account_name)
    }

    /// The URI form of this account (to move it to another app).
    pub fn to_uri(&self) -> String {
        let enc = |s: &str| {
            percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
        };
        let label = if self.issuer.is_empty() {
            enc(&self.account_name)
        } else {
            format!("{}:{}", enc(&self.issuer), enc(&self.account_name))
        };
        let mut uri = format!(
            "otpauth://totp/{label}?secret={}&algorithm={}&digits={}&period={}",
            self.secret,
            self.algorithm.name(),
            self.digits,
            self.period
        );
        if !self.issuer.is_empty() {
            uri.push_str("&issuer=");
            uri.push_str(&enc(&self.issuer));
        }
        uri
    }

    /// The code for a moment (unix seconds) and the seconds it stays valid.
    pub fn code_at(&self, unix_seconds: u64) -> Code {
        let step = unix_seconds / self.period;
        Code {
            code: self.code_for_step(step),
            seconds_left: self.period - unix_seconds % self.period,
        }
    }

    /// RFC 4226 HOTP of one time step, zero-padded to `digits`.
    pub fn code_for_step(&self, step: u64) -> String {
        // The secret was checked when the account was made; a vault edited by hand may still hold
        // garbage, which then makes codes from an empty key rather than a crash.
        let key_bytes = BASE32_NOPAD
            .decode(self.secret.as_bytes())
            .unwrap_or_default();
        let key = hmac::Key::new(self.algorithm.hmac(), &key_bytes);
        let tag = hmac::sign(&key, &step.to_be_bytes());
        let mac = tag.as_ref();
        let offset = usize::from(mac[mac.len() - 1] & 0x0f);
        let binary = u32::from_be_bytes([
            mac[offset] & 0x7f,
            mac[offset + 1],
            mac[offset + 2],
            mac[offset + 3],
        ]);
        let modulus = 10u64.pow(self.digits);
        let value = u64::from(binary) % modulus;
        format!("{value:0width$}", width = self.digits as usize)
    }
}

/// Base32 secrets come in upper or lower case, with spaces, dashes or padding.
fn decode_secret(text: &str) -> Result<Vec<u8>, OtpauthError> {
    let cleaned: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-' && *c != '=')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if cleaned.is_empty() {
        return Err(refuse("the secret is empty"));
    }
    BASE32_NOPAD
        .decode(cleaned.as_bytes())
        .map_err(|_| refuse("the secret is not valid base32"))
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 6238 appendix B: the seeds are ASCII "12345678901234567890" repeated to the hash size.
    fn rfc_totp(algorithm: TotpAlgorithm) -> Totp {
        let seed: &[u8] = match algorithm {
            TotpAlgorithm::Sha1 => b"12345678901234567890",
            TotpAlgorithm::Sha256 => b"12345678901234567890123456789012",
            TotpAlgorithm::Sha512 => {
                b"1234567890123456789012345678901234567890123456789012345678901234"
            }
        };
        Totp::new(seed, algorithm, 8, 30, "RFC", "6238").unwrap()
    }

    #[test]
    fn rfc6238_appendix_b_vectors() {
        let vectors: [(u64, &str, &str, &str); 6] = [
            (59, "94287082", "46119246", "90693936"),
            (1_111_111_109, "07081804", "68084774", "25091201"),
            (1_111_111_111, "14050471", "67062674", "99943326"),
            (1_234_567_890, "89005924", "91819424", "93441116"),
            (2_000_000_000, "69279037", "90698825", "38618901"),
            (20_000_000_000, "65353130", "77737706", "47863826"),
        ];
        let (sha1, sha256, sha512) = (
            rfc_totp(TotpAlgorithm::Sha1),
            rfc_totp(TotpAlgorithm::Sha256),
            rfc_totp(TotpAlgorithm::Sha512),
        );
        for (time, c1, c256, c512) in vectors {
            assert_eq!(sha1.code_at(time).code, c1, "SHA1 at {time}");
            assert_eq!(sha256.code_at(time).code, c256, "SHA256 at {time}");
            assert_eq!(sha512.code_at(time).code, c512, "SHA512 at {time}");
        }
    }

    #[test]
    fn six_digits_and_seconds_left() {
        let mut totp = rfc_totp(TotpAlgorithm::Sha1);
        totp.digits = 6;
        // The 6-digit code is the last 6 digits of the 8-digit one.
        assert_eq!(
            totp.code_at(59),
            Code {
                code: "287082".into(),
                seconds_left: 1
            }
        );
        assert_eq!(totp.code_at(60).seconds_left, 30);
        assert_eq!(totp.code_at(61).seconds_left, 29);
    }

    #[test]
    fn parses_a_full_uri() {
        let totp = Totp::from_uri(
            "otpauth://totp/ACME%20Co:john.doe@email.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &issuer=ACME%20Co&algorithm=SHA256&digits=7&period=60",
        )
        .unwrap();
        assert_eq!(totp.issuer, "ACME Co");
        assert_eq!(totp.account_name, "john.doe@email.com");
        assert_eq!(totp.algorithm, TotpAlgorithm::Sha256);
        assert_eq!(totp.digits, 7);
        assert_eq!(totp.period, 60);
        assert_eq!(totp.secret, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        // Round trip through to_uri.
        assert_eq!(Totp::from_uri(&totp.to_uri()).unwrap(), totp);
    }

    #[test]
    fn defaults_lowercase_secret_and_label_issuer() {
        let totp = Totp::from_uri(
            "otpauth://totp/GitHub:ada?secret=gezd gnbv gy3t qojq gezd gnbv gy3t qojq",
        )
        .unwrap();
        assert_eq!(totp.issuer, "GitHub");
        assert_eq!(totp.account_name, "ada");
        assert_eq!(
            (totp.algorithm, totp.digits, totp.period),
            (TotpAlgorithm::Sha1, 6, 30)
        );
        // Same secret as the RFC SHA1 seed: same code.
        assert_eq!(totp.code_at(59).code, "287082");

        let bare = Totp::from_uri("otpauth://totp/ada?secret=GEZDGNBVGY3TQOJQ").unwrap();
        assert_eq!(
            (bare.issuer.as_str(), bare.account_name.as_str()),
            ("", "ada")
        );
    }

    #[test]
    fn refuses_bad_uris() {
        for (uri, words) in [
            ("https://example.org", "otpauth://"),
            ("otpauth://hotp/x?secret=GEZDGNBV&counter=1", "HOTP"),
            ("otpauth://totp/x", "no secret"),
            ("otpauth://totp/x?secret=!!!", "base32"),
            ("otpauth://totp/x?secret=GEZDGNBV&digits=5", "digits"),
            ("otpauth://totp/x?secret=GEZDGNBV&digits=9", "digits"),
            ("otpauth://totp/x?secret=GEZDGNBV&period=0", "period"),
            (
                "otpauth://totp/x?secret=GEZDGNBV&algorithm=MD5",
                "algorithm",
            ),
            ("not a uri", "not a URI"),
        ] {
            let err = Totp::from_uri(uri).unwrap_err().to_string();
            assert!(err.contains(words), "{uri}: {err}");
        }
    }

    #[test]
    fn debug_hides_the_secret() {
        let totp = rfc_totp(TotpAlgorithm::Sha1);
        assert!(!format!("{totp:?}").contains(&totp.secret));
    }
}
