//! The demo: seeding a demo organisation (a student and the "learning-hub" app) and the demo
//! learning hub itself — a small relying party on its own port that signs users in through Postern
//! over real HTTP (code flow + PKCE S256), verifies the ID token against the JWKS, and shows the
//! claims it received.

mod hub;

use crate::admin::Origin;
use crate::admin::users::NewUser;
use crate::state::AppState;
use postern_core::admin::{Actor, ActorKind, Manage, Role};
use postern_core::client::{Client, ClientKind};
use postern_core::oidc::jws::SigningAlg;
use postern_core::secret::SecretString;

pub use hub::{DemoHub, start};

/// The demo app's client id.
pub const CLIENT_ID: &str = "learning-hub";
pub const STUDENT: &str = "student";
pub const STUDENT_PASSWORD: &str = "correct-horse-battery";

/// The setting that marks a database as the demo's.
const DEMO_MARK: &str = "demo.seeded";

/// What was seeded.
#[derive(Debug)]
pub struct Seeded {
    pub username: String,
    pub password: String,
}

/// Seeds the demo student and client; running it again changes nothing (but keeps the client's
/// redirect URIs in step with the demo hub's address).
///
/// A database that holds anything but demo data is refused: the demo's student has a published
/// password, and it must never appear in a real installation.
pub async fn seed(state: &AppState, hub_base: &str) -> Result<Seeded, String> {
    let store = &state.store;
    let marked = store
        .find_setting(DEMO_MARK)
        .await
        .map_err(|e| e.to_string())?
        .is_some();
    let users = store.list_users().await.map_err(|e| e.to_string())?;
    let clients = store.list_clients().await.map_err(|e| e.to_string())?;
    // Real data is anything but the demo's own student and app (on a marked database), or
    // anything at all (on an unmarked one, where even a user called "student" is real).
    let real_users = users
        .iter()
        .filter(|u| !marked || u.username != STUDENT)
        .count();
    let real_clients = clients
        .iter()
        .filter(|c| !marked || c.id != CLIENT_ID)
        .count();
    if real_users > 0 || real_clients > 0 {
        return Err(format!(
            "--demo refuses to seed a database that holds {real_users} user(s) and {real_clients} application(s) \
             of its own: use an empty --data-dir for the demo"
        ));
    }
    if !marked {
        store
            .set_setting(DEMO_MARK, "true")
            .await
            .map_err(|e| e.to_string())?;
    }
    let base = hub_base.trim_end_matches('/');
    let redirects = vec![format!("{base}/callback")];
    let post_logout = vec![format!("{base}/")];
    match store
        .find_client(CLIENT_ID)
        .await
        .map_err(|e| e.to_string())?
    {
        Some(c) if c.redirect_uris == redirects && c.post_logout_redirect_uris == post_logout => {}
        Some(_) => {
            store
                .update_client_redirects(CLIENT_ID, &redirects, &post_logout)
                .await
                .map_err(|e| e.to_string())?;
        }
        None => {
            store
                .create_client(&Client {
                    id: CLIENT_ID.into(),
                    name: "Learning Hub".into(),
                    kind: ClientKind::Public,
                    secret_hash: None,
                    redirect_uris: redirects,
                    post_logout_redirect_uris: post_logout,
                    id_token_alg: SigningAlg::RS256,
                    created: state.clock.now(),
                })
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    if store
        .find_user_by_username(STUDENT)
        .await
        .map_err(|e| e.to_string())?
        .is_none()
    {
        // Through the same service as `postern admin user create`: validated, on the server's
        // clock, and in the audit log as the demo's doing.
        let seeder = Actor {
            kind: ActorKind::Local {
                os_user: "postern serve --demo".into(),
            },
            role: Role::Admin,
        }
        .authorize::<Manage>()
        .map_err(|e| e.to_string())?;
        crate::admin::users::create(
            state,
            &seeder,
            &Origin::default(),
            NewUser {
                username: STUDENT.into(),
                email: Some("student@northfield.example".into()),
                name: Some("Demo Student".into()),
                password: Some(SecretString::new(STUDENT_PASSWORD)),
            },
        )
        .await
        .map_err(|e| e.to_string())?;
    }
    Ok(Seeded {
        username: STUDENT.into(),
        password: STUDENT_PASSWORD.into(),
    })
}
