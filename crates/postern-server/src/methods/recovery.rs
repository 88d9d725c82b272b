//! Generating a user's recovery codes: a new set replaces the old one (whose codes stop working)
//! and is shown once; only keyed hashes are stored.

use crate::state::AppState;
use postern_core::credential::method::{Method, MethodSecret, RecoveryCodeSlot};
use postern_core::credential::recovery;
use postern_core::random;

/// Makes and stores a new set for `user_id`; returns the codes to show once.
pub async fn generate(
    state: &AppState,
    user_id: &str,
) -> Result<Vec<String>, postern_store::StoreError> {
    let (codes, hashes) = recovery::generate(&*state.rng, &state.mac_key, user_id);
    let method = Method {
        id: random::uuid(&*state.rng),
        user_id: user_id.to_owned(),
        name: "Recovery codes".into(),
        created: state.clock.now(),
        last_used: None,
        is_default: false,
        secret: MethodSecret::RecoveryCodes {
            codes: hashes
                .into_iter()
                .map(|hash| RecoveryCodeSlot {
                    hash,
                    used_ms: None,
                })
                .collect(),
        },
        version: 1,
    };
    state.store.create_method(&method).await?;
    Ok(codes)
}

/// The text file a user downloads: the codes and how to use them.
pub fn download_text(org: &str, username: &str, codes: &[String], generated: &str) -> String {
    let mut text = format!(
        "{org} recovery codes for {username}\nGenerated {generated}\n\n\
         Each code works once. Use one when you cannot use your authenticator app:\n\
         sign in, choose \"Sign in another way\", then \"Use a recovery code\".\n\
         Generating new codes makes these stop working.\n\n"
    );
    for code in codes {
        text.push_str(code);
        text.push('\n');
    }
    text
}
