//! Accounts: who can sign in. The stable subject identifier (`sub`) is the account id, never the
//! username, so renaming a user does not change who they are to applications.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A Postern account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Stable id (a UUID); the `sub` claim.
    pub id: String,
    /// Sign-in name, lower-case.
    pub username: String,
    pub email: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// Argon2id PHC string; `None` for accounts that cannot use a password.
    #[serde(skip_serializing)]
    pub password_hash: Option<String>,
    pub disabled: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
}

/// Why a username is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidUsername(pub &'static str);

impl std::fmt::Display for InvalidUsername {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// Usernames: 1–64 characters of letters, digits and `. _ - @`, compared case-insensitively
/// (stored lower-case).
pub fn normalize_username(raw: &str) -> Result<String, InvalidUsername> {
    let name = raw.trim().to_lowercase();
    if name.is_empty() {
        return Err(InvalidUsername("the username is empty"));
    }
    if name.chars().count() > 64 {
        return Err(InvalidUsername("the username is longer than 64 characters"));
    }
    if !name
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
    {
        return Err(InvalidUsername(
            "the username may contain only letters, digits and . _ - @",
        ));
    }
    Ok(name)
}

/// A simple shape check for e-mail addresses (something@something).
pub fn validate_email(raw: &str) -> Result<String, InvalidUsername> {
    let e = raw.trim();
    match e.split_once('@') {
        Some((local, domain))
            if !local.is_empty()
                && !domain.is_empty()
                && e.len() <= 254
                && !e.contains(char::is_whitespace) =>
        {
            Ok(e.to_owned())
        }
        _ => Err(InvalidUsername("the e-mail address is not valid")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert_eq!(
            normalize_username("  Student@School.EDU ").unwrap(),
            "student@school.edu"
        );
        assert!(normalize_username("").is_err());
        assert!(normalize_username("a b").is_err());
        assert!(normalize_username("<script>").is_err());
        assert!(normalize_username(&"a".repeat(65)).is_err());
        assert!(validate_email("a@b").is_ok());
        assert!(validate_email("nope").is_err());
    }
}
