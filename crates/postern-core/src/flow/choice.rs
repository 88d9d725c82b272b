//! Which method the second step asks for: the one the user picked, else the default in
//! system-preferred order — but a code first when push is blocked or the last pushes went
//! unanswered (fatigue), and a code instead when push may not be used at all now.

use crate::credential::method::{Method, MethodKind, default_method, usable};
use crate::credential::push::{self as push_rules, PushStanding};

/// What the second step asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ask<'a> {
    /// The browser's passkey ceremony with the user's passkeys (`method` is the one picked).
    Passkey(&'a Method),
    /// A push request to the user's devices (`device` is the one on the page).
    Push(&'a Method),
    /// A typed code of `method`, with a notice saying why it is not push when that is the reason.
    Code {
        method: &'a Method,
        notice: Option<&'a str>,
    },
    /// No usable method left (every recovery code used, no app): the helpdesk's door.
    Stranded,
}

/// The method to ask for: the one picked (if it is the user's and usable), else the default.
pub fn pick<'a>(methods: &'a [Method], picked: Option<&str>) -> Option<&'a Method> {
    picked
        .and_then(|id| usable(methods).find(|m| m.id == id))
        .or_else(|| default_method(methods))
}

/// The first usable code method (app code before recovery code).
pub fn first_code_method(methods: &[Method]) -> Option<&Method> {
    usable(methods)
        .filter(|m| !matches!(m.kind(), MethodKind::Push | MethodKind::Passkey))
        .min_by_key(|m| (m.kind(), m.created))
}

/// Whether [`ask`] reads the user's push standing: only when the method it would ask for is a
/// push the user did not pick (a code asked for needs no store read on its page).
pub fn needs_standing(methods: &[Method], picked: Option<&str>) -> bool {
    picked.is_none() && pick(methods, picked).is_some_and(|m| m.kind() == MethodKind::Push)
}

/// What the second step asks for first. A push the user picked is asked for even after a
/// fatigue streak (they chose it); one that is only the default gives way to a code.
pub fn ask<'a>(methods: &'a [Method], picked: Option<&str>, push: PushStanding) -> Ask<'a> {
    let Some(method) = pick(methods, picked) else {
        return Ask::Stranded;
    };
    if method.kind() == MethodKind::Passkey {
        return Ask::Passkey(method);
    }
    if method.kind() != MethodKind::Push {
        return Ask::Code {
            method,
            notice: None,
        };
    }
    match push_rules::code_first(push).filter(|_| picked.is_none()) {
        Some(why) => match first_code_method(methods) {
            Some(code) => Ask::Code {
                method: code,
                notice: Some(why),
            },
            None => Ask::Push(method),
        },
        None => Ask::Push(method),
    }
}

/// A code instead of push, which may not be used now for the reason `why`.
pub fn instead_of_push<'a>(methods: &'a [Method], why: &'a str) -> Ask<'a> {
    match first_code_method(methods) {
        Some(method) => Ask::Code {
            method,
            notice: Some(why),
        },
        None => Ask::Stranded,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credential::method::MethodSecret;
    use time::OffsetDateTime;

    const NOW: OffsetDateTime = OffsetDateTime::UNIX_EPOCH;

    fn method(id: &str, secret: MethodSecret, is_default: bool, minute: i64) -> Method {
        Method {
            id: id.into(),
            user_id: "u".into(),
            name: id.into(),
            is_default,
            created: NOW + time::Duration::minutes(minute),
            last_used: None,
            secret,
            version: 0,
        }
    }

    fn push_device() -> MethodSecret {
        MethodSecret::Push {
            public_key: String::new(),
            key_algorithm: Default::default(),
            app_version: String::new(),
        }
    }

    #[test]
    fn which_method_is_asked_for() {
        let totp = MethodSecret::Totp {
            sealed_seed: String::new(),
            params: Default::default(),
            state: Default::default(),
            paired_device: None,
        };
        let methods = vec![
            method("app", totp, false, 1),
            method("phone", push_device(), true, 2),
        ];
        let calm = PushStanding::default();
        let tired = PushStanding {
            blocked: false,
            unanswered: 2,
        };
        let blocked = PushStanding {
            blocked: true,
            unanswered: 0,
        };
        let id = |a: Ask| match a {
            Ask::Push(m) => format!("push:{}", m.id),
            Ask::Passkey(m) => format!("passkey:{}", m.id),
            Ask::Code { method, notice } => format!("code:{}:{}", method.id, notice.is_some()),
            Ask::Stranded => "stranded".into(),
        };
        assert_eq!(id(ask(&methods, None, calm)), "push:phone", "the default");
        assert!(needs_standing(&methods, None));
        assert!(
            !needs_standing(&methods, Some("phone")),
            "picked: no streak applies"
        );
        assert!(!needs_standing(&methods, Some("app")));
        assert_eq!(
            id(ask(&methods, Some("app"), calm)),
            "code:app:false",
            "picked"
        );
        assert_eq!(
            id(ask(&methods, None, tired)),
            "code:app:true",
            "fatigue: a code first, saying why"
        );
        assert_eq!(
            id(ask(&methods, Some("phone"), tired)),
            "push:phone",
            "a push the user picked is sent even after a streak"
        );
        assert_eq!(id(ask(&methods, None, blocked)), "code:app:true");
        assert_eq!(
            id(ask(&methods, Some("gone"), calm)),
            "push:phone",
            "a method that is no longer theirs falls back to the default"
        );
        assert_eq!(id(instead_of_push(&methods, "why")), "code:app:true");
        let only_push = vec![method("phone", push_device(), true, 2)];
        assert_eq!(
            id(ask(&only_push, None, tired)),
            "push:phone",
            "no code to fall back on: push it is"
        );
        assert_eq!(id(instead_of_push(&only_push, "why")), "stranded");
        assert_eq!(id(ask(&[], None, calm)), "stranded");
    }
}
