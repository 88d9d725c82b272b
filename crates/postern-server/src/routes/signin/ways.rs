//! The ways on from a second step: "Sign in another way" (a link for every usable method and
//! the helpdesk's pass), and the username the pages greet. Shared by the code prompt and the
//! push pages, which otherwise need nothing of each other.

use crate::pages::Choice;
use crate::state::AppState;
use postern_core::credential::method::{Method, MethodKind, usable};
use postern_core::flow::Flow;

/// The username of `user_id`, for the pages ("… as ana"); empty if the account is gone.
pub(super) async fn username_of(
    state: &AppState,
    user_id: &str,
) -> Result<String, postern_store::StoreError> {
    Ok(state
        .store
        .find_user_by_id(user_id)
        .await?
        .map(|u| u.username)
        .unwrap_or_default())
}

/// The user's methods that can be used on this server (no passkeys where the issuer cannot have
/// them).
pub(super) fn usable_here(state: &AppState, methods: Vec<Method>) -> Vec<Method> {
    if state.passkeys.available() {
        return methods;
    }
    methods
        .into_iter()
        .filter(|m| m.kind() != MethodKind::Passkey)
        .collect()
}

/// "Sign in another way": a link for every usable method of the user, but those of kind
/// `except` (the 500121 page offers push as "Send another request" instead).
pub(super) fn choices(flow: &Flow, methods: &[Method], except: Option<MethodKind>) -> Vec<Choice> {
    let pass = Choice {
        href: format!("/signin/{}/access-pass", flow.id),
        label: "Use a temporary access pass from the helpdesk".into(),
        hint: Some("when none of your methods works".into()),
    };
    // One door for every passkey: the browser offers whichever of them it holds.
    let first_passkey = methods.iter().find(|m| m.kind() == MethodKind::Passkey);
    usable(methods)
        .filter(|m| Some(m.kind()) != except)
        .filter(|m| m.kind() != MethodKind::Passkey || first_passkey.map(|p| &p.id) == Some(&m.id))
        .map(|m| {
            let href = format!("/signin/{}?method={}", flow.id, m.id);
            match m.kind() {
                MethodKind::Passkey => Choice {
                    href,
                    label: "Use a passkey or security key".into(),
                    hint: Some("your fingerprint, face, PIN or screen lock".into()),
                },
                MethodKind::Push => Choice {
                    href,
                    label: format!(
                        "Approve a request in the Postern Authenticator ('{}')",
                        m.name
                    ),
                    hint: None,
                },
                MethodKind::Totp => Choice {
                    href,
                    label: format!("Use a code from my authenticator app ('{}')", m.name),
                    hint: Some("works without a network connection".into()),
                },
                MethodKind::RecoveryCodes => Choice {
                    href,
                    label: "Use a recovery code".into(),
                    hint: Some(format!("{} left", m.secret.remaining_codes())),
                },
            }
        })
        .chain(std::iter::once(pass))
        .collect()
}
