//! Which method the second step asks for: the one the user picked, else the default in
//! system-preferred order — but a code first when push is blocked or the last pushes went
//! unanswered (fatigue), and a code instead when push may not be used at all now.

use crate::credential::method::{Method, MethodKind, default_method, usable};
use crate::credential::push::{self as push_rules, PushStanding};

/// What the second step asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ask<'a> {
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
        .filter(|m| m.kind() != MethodKind::Push)
        .min_by_key(|m| (m.kind(), m.created))
}

/// What the second step asks for first. A push the user picked is asked for even after a
/// fatigue streak (they chose it); one that is only the default gives way to a code.
pub fn ask<'a>(methods: &'a [Method], picked: Option<&str>, push: PushStanding) -> Ask<'a> {
    let Some(method) = pick(methods, picked) else {
        return Ask::Stranded;
    };
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
