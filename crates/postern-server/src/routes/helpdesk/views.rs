//! What the helpdesk pages show: the askama templates (`templates/admin_*.html`) and the rows they
//! list, converted from the administrative operations' results. No I/O and no decisions here:
//! only words, times and links.

use super::{signin_href, user_href};
use crate::admin::methods::MethodView;
use crate::admin::users::UserView;
use askama::Template;
use postern_core::audit::AuditEntry;
use postern_core::clock::iso8601;
use postern_core::credential::push::Resolution;
use postern_core::diagnosis::{Diagnosis, MethodNow, PushRequest};
use postern_core::signin_log::{SignInEntry, SignInResult, SignInStep};
use postern_proto::ErrorCode;
use time::OffsetDateTime;

fn time_or(t: Option<OffsetDateTime>, none: &str) -> String {
    t.map(iso8601).unwrap_or_else(|| none.to_owned())
}

fn result_text(r: SignInResult) -> &'static str {
    match r {
        SignInResult::Success => "Success",
        SignInResult::Failure => "Failure",
        SignInResult::Interrupted => "Interrupted",
        SignInResult::InProgress => "In progress",
    }
}

/// An error code with its title: "50126 Your username or password is incorrect".
pub struct CodeView {
    pub code: u32,
    pub title: &'static str,
}

impl From<ErrorCode> for CodeView {
    fn from(c: ErrorCode) -> Self {
        let info = c.info();
        CodeView {
            code: info.code,
            title: info.title,
        }
    }
}

/// One sign-in in a list, linking to its diagnosis.
pub struct SignInRow {
    pub href: String,
    pub time: String,
    pub username: String,
    pub user_href: Option<String>,
    pub app: String,
    pub ip: String,
    pub result: &'static str,
    pub error: Option<CodeView>,
}

impl From<&SignInEntry> for SignInRow {
    fn from(e: &SignInEntry) -> Self {
        SignInRow {
            href: signin_href(&e.correlation_id),
            time: iso8601(e.started),
            username: e.username.clone().unwrap_or_else(|| "(none)".into()),
            user_href: e.user_id.as_deref().map(user_href),
            app: e.client_name.clone().unwrap_or_default(),
            ip: e.ip.clone().unwrap_or_default(),
            result: result_text(e.result),
            error: e.error_code.map(CodeView::from),
        }
    }
}

/// One account in a search result.
pub struct UserRow {
    pub href: String,
    pub username: String,
    pub name: String,
    pub email: String,
}

impl From<&UserView> for UserRow {
    fn from(u: &UserView) -> Self {
        UserRow {
            href: user_href(&u.id),
            username: u.username.clone(),
            name: u.name.clone().unwrap_or_default(),
            email: u.email.clone().unwrap_or_default(),
        }
    }
}

/// `GET /admin`: the search box and the latest failed sign-ins.
#[derive(Template)]
#[template(path = "admin_home.html")]
pub struct HomePage {
    pub org: String,
    pub me: String,
    pub q: String,
    /// The search that found nothing exact.
    pub not_found: Option<String>,
    /// Accounts whose name, username or email contains the search.
    pub matches: Vec<UserRow>,
    pub failures: Vec<SignInRow>,
}

/// A temporary access pass lifetime offered in the form.
pub struct Lifetime {
    pub minutes: i64,
    pub label: &'static str,
    pub selected: bool,
}

/// 10 minutes to 30 days; one hour unless chosen.
pub fn lifetimes() -> Vec<Lifetime> {
    [
        (10, "10 minutes"),
        (30, "30 minutes"),
        (60, "1 hour"),
        (240, "4 hours"),
        (480, "8 hours"),
        (1440, "1 day"),
        (10080, "7 days"),
        (43200, "30 days"),
    ]
    .into_iter()
    .map(|(minutes, label)| Lifetime {
        minutes,
        label,
        selected: minutes == 60,
    })
    .collect()
}

/// The form that issues a temporary access pass (`admin_access_pass_form.html`).
pub struct PassForm {
    pub action: String,
    /// The sign-in being fixed, for the audit log.
    pub signin: Option<String>,
    pub lifetimes: Vec<Lifetime>,
}

/// A one-click fix's button: a form posting to the user's action.
pub struct FixButton {
    pub action: String,
    pub label: &'static str,
    pub danger: bool,
}

/// A suggested fix: its words, and what the viewer can do about it here.
pub struct FixRow {
    pub text: String,
    pub button: Option<FixButton>,
    /// The fix is a temporary access pass: the pass form goes with it.
    pub pass_form: bool,
    /// Why there is no button although the fix is an action.
    pub note: Option<&'static str>,
}

/// One step of the timeline.
pub struct StepRow {
    pub time: String,
    pub method: String,
    pub result: &'static str,
    pub detail: String,
    pub request_id: String,
}

impl From<&SignInStep> for StepRow {
    fn from(s: &SignInStep) -> Self {
        StepRow {
            time: iso8601(s.time),
            method: s.method.clone(),
            result: s.result.as_str(),
            detail: s.detail.clone(),
            request_id: s.request_id.clone(),
        }
    }
}

/// How far one push request got on one device.
pub struct PushRow {
    pub sent: String,
    pub number: u32,
    pub device: String,
    pub last_contact: String,
    /// What the Web Push service answered ("none" when no notification was sent).
    pub notification: String,
    pub woken: String,
    pub received: String,
    pub shown: String,
    pub answered: String,
    pub expires: String,
}

fn answer_text(p: &PushRequest) -> String {
    match (p.answer, p.answered) {
        (Some(a), at) => {
            let what = match a {
                Resolution::Approved => "approved",
                Resolution::Denied => "denied",
                Resolution::Reported => "denied and reported as not the user",
                Resolution::WrongNumber => "wrong number entered",
            };
            match at {
                Some(t) => format!("{what} at {}", iso8601(t)),
                None => what.to_owned(),
            }
        }
        (None, _) => "not answered".into(),
    }
}

/// The rows of a sign-in's push requests: one per device each was sent to.
pub fn push_rows(pushes: &[PushRequest]) -> Vec<PushRow> {
    let mut rows = vec![];
    for p in pushes {
        let answered = answer_text(p);
        let row = |device: String, contact: String, notification, woken, received, shown| PushRow {
            sent: iso8601(p.sent),
            number: p.number,
            device,
            last_contact: contact,
            notification,
            woken,
            received,
            shown,
            answered: answered.clone(),
            expires: iso8601(p.expires),
        };
        if p.devices.is_empty() {
            rows.push(row(
                "(no device)".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
            ));
        }
        for d in &p.devices {
            rows.push(row(
                d.device.clone(),
                time_or(d.last_contact_before, "never"),
                d.notification.clone().unwrap_or_else(|| "none".into()),
                time_or(d.woken, "no"),
                time_or(d.received, "no"),
                time_or(d.shown, "no"),
            ));
        }
    }
    rows
}

/// One of the user's methods as a diagnosis sees it.
pub struct MethodNowRow {
    pub label: &'static str,
    pub name: String,
    pub is_default: bool,
    pub last_used: String,
    pub last_contact: String,
    pub codes_left: Option<usize>,
}

impl From<&MethodNow> for MethodNowRow {
    fn from(m: &MethodNow) -> Self {
        MethodNowRow {
            label: m.kind.label(),
            name: m.name.clone(),
            is_default: m.is_default,
            last_used: time_or(m.last_used, "never"),
            last_contact: match m.kind {
                postern_core::credential::method::MethodKind::Push => {
                    time_or(m.last_contact, "never")
                }
                _ => "-".into(),
            },
            codes_left: m.codes_left,
        }
    }
}

/// A sign-in's diagnosis, in words.
pub struct DiagnosisView {
    pub correlation_id: String,
    pub request_ids: Vec<String>,
    pub started: String,
    pub username: String,
    pub user_href: Option<String>,
    pub app: String,
    pub ip: String,
    pub result: &'static str,
    pub error: Option<CodeView>,
    /// The cause's stable key, for scripts reading the page.
    pub cause_kind: String,
    pub cause: String,
    pub fixes: Vec<FixRow>,
    pub timeline: Vec<StepRow>,
    pub pushes: Vec<PushRow>,
    pub methods: Vec<MethodNowRow>,
    pub warnings: Vec<String>,
}

impl DiagnosisView {
    /// The view of `d`, with `fixes` already decided for the viewer.
    pub fn new(d: &Diagnosis, fixes: Vec<FixRow>) -> Self {
        DiagnosisView {
            correlation_id: d.correlation_id.clone(),
            request_ids: d.request_ids.clone(),
            started: iso8601(d.started),
            username: d.username.clone().unwrap_or_else(|| "(none)".into()),
            user_href: d.user_id.as_deref().map(user_href),
            app: d.client_name.clone().unwrap_or_default(),
            ip: d.ip.clone().unwrap_or_default(),
            result: result_text(d.result),
            error: d.error_code.map(CodeView::from),
            cause_kind: serde_json::to_value(d.cause.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            cause: d.cause.summary.clone(),
            fixes,
            timeline: d.timeline.iter().map(StepRow::from).collect(),
            pushes: push_rows(&d.push_requests),
            methods: d.methods.iter().map(MethodNowRow::from).collect(),
            warnings: d.warnings.clone(),
        }
    }
}

/// `GET /admin/signins/{id}`: one sign-in, why it ended as it did, and the fixes.
#[derive(Template)]
#[template(path = "admin_signin.html")]
pub struct SignInPage {
    pub org: String,
    pub me: String,
    pub csrf: String,
    pub notice: Option<String>,
    pub d: DiagnosisView,
    pub pass_form: Option<PassForm>,
}

/// The account part of the user page.
pub struct UserInfo {
    pub id: String,
    pub username: String,
    pub name: String,
    pub email: String,
    pub created: String,
    pub disabled: bool,
    pub has_password: bool,
    pub role: Option<&'static str>,
    pub locked_until: Option<String>,
    pub second_factor_locked_until: Option<String>,
    pub push_blocked: bool,
}

impl From<&UserView> for UserInfo {
    fn from(u: &UserView) -> Self {
        UserInfo {
            id: u.id.clone(),
            username: u.username.clone(),
            name: u.name.clone().unwrap_or_default(),
            email: u.email.clone().unwrap_or_default(),
            created: iso8601(u.created),
            disabled: u.disabled,
            has_password: u.has_password,
            role: u.role.map(|r| r.as_str()),
            locked_until: u.locked_until.map(iso8601),
            second_factor_locked_until: u.second_factor_locked_until.map(iso8601),
            push_blocked: u.push_blocked,
        }
    }
}

impl UserInfo {
    /// Whether anything is locked now.
    pub fn locked(&self) -> bool {
        self.locked_until.is_some()
            || self.second_factor_locked_until.is_some()
            || self.push_blocked
    }
}

/// One method on the user page (the temporary access pass is shown apart).
pub struct MethodRow {
    pub id: String,
    pub label: &'static str,
    pub name: String,
    pub is_default: bool,
    pub created: String,
    pub last_used: String,
    pub detail: String,
}

fn type_label(kind: &str) -> &'static str {
    match kind {
        "passkey" => "Passkey or security key",
        "authenticator" => "Postern Authenticator (push)",
        "totp" => "Authenticator app (code)",
        "recovery_codes" => "Recovery codes",
        "temporary_access_pass" => "Temporary access pass",
        _ => "Other",
    }
}

impl From<&MethodView> for MethodRow {
    fn from(m: &MethodView) -> Self {
        let mut detail = vec![];
        if let Some(v) = &m.app_version {
            detail.push(format!("app {v}"));
        }
        if m.kind == "authenticator" {
            detail.push(format!("last contact {}", time_or(m.last_contact, "never")));
        }
        if let Some(n) = m.codes_left {
            detail.push(format!("{n} of 10 codes left"));
        }
        match m.synced {
            Some(true) => detail.push("synced".into()),
            Some(false) => detail.push("device-bound".into()),
            None => {}
        }
        match (&m.model, &m.aaguid) {
            (Some(model), Some(aaguid)) => detail.push(format!("{model} (AAGUID {aaguid})")),
            (None, Some(aaguid)) => detail.push(format!("AAGUID {aaguid}")),
            _ => {}
        }
        MethodRow {
            id: m.id.clone(),
            label: type_label(&m.kind),
            name: m.name.clone(),
            is_default: m.is_default,
            created: iso8601(m.created),
            last_used: time_or(m.last_used, "never"),
            detail: detail.join("; "),
        }
    }
}

/// The user's temporary access pass, as it stands (never the pass itself).
pub struct PassInfo {
    pub state: &'static str,
    pub usable: bool,
    pub once: bool,
    pub created: String,
    pub expires: String,
    pub last_used: String,
}

impl PassInfo {
    pub fn of(m: &MethodView) -> Option<PassInfo> {
        let state = m.state?;
        Some(PassInfo {
            state: state.as_str(),
            usable: state == postern_core::credential::access_pass::PassState::Usable,
            once: m.once.unwrap_or(false),
            created: iso8601(m.created),
            expires: time_or(m.expires, "-"),
            last_used: time_or(m.last_used, "never"),
        })
    }
}

/// `GET /admin/users/{id}`: the account, its locks, methods and recent sign-ins.
#[derive(Template)]
#[template(path = "admin_user.html")]
pub struct UserPage {
    pub org: String,
    pub me: String,
    pub csrf: String,
    pub notice: Option<String>,
    pub can_help: bool,
    pub can_manage: bool,
    /// `/admin/users/{id}`, the base of the action URLs.
    pub base: String,
    pub u: UserInfo,
    pub methods: Vec<MethodRow>,
    pub pass: Option<PassInfo>,
    pub pass_form: Option<PassForm>,
    pub signins: Vec<SignInRow>,
}

/// One audit entry.
pub struct AuditRow {
    pub time: String,
    pub actor: String,
    pub role: &'static str,
    pub action: String,
    pub target: String,
    pub target_href: Option<String>,
    pub detail: String,
    pub signin: Option<(String, String)>,
    pub request_id: String,
    pub ip: String,
}

impl From<&AuditEntry> for AuditRow {
    fn from(e: &AuditEntry) -> Self {
        AuditRow {
            time: iso8601(e.time),
            actor: e.actor.clone(),
            role: e
                .actor_role
                .map_or("system", postern_core::admin::Role::as_str),
            action: e.action.clone(),
            target: if e.target_name.is_empty() {
                e.target_id.clone()
            } else {
                e.target_name.clone()
            },
            target_href: (e.target_type == "user").then(|| user_href(&e.target_id)),
            detail: e.detail.clone(),
            signin: e
                .correlation_id
                .as_ref()
                .map(|c| (c.clone(), signin_href(c))),
            request_id: e.request_id.clone().unwrap_or_default(),
            ip: e.ip.clone().unwrap_or_default(),
        }
    }
}

/// `GET /admin/audit`: the audit log, newest first.
#[derive(Template)]
#[template(path = "admin_audit.html")]
pub struct AuditPage {
    pub org: String,
    pub me: String,
    pub target: String,
    pub action: String,
    pub error: Option<String>,
    pub rows: Vec<AuditRow>,
    /// The next (older) page, keeping the filters.
    pub next: Option<String>,
    /// The first page, when this is a later one.
    pub newest: Option<String>,
}

/// "Are you sure?" before a destructive action; the form repeats the post with `confirm=yes`.
#[derive(Template)]
#[template(path = "admin_confirm.html")]
pub struct ConfirmPage {
    pub org: String,
    pub me: String,
    pub title: String,
    pub paragraphs: Vec<String>,
    pub action: String,
    pub csrf: String,
    pub hidden: Vec<(String, String)>,
    pub yes: String,
    pub cancel: String,
}

/// A new temporary access pass, shown this once.
#[derive(Template)]
#[template(path = "admin_access_pass.html")]
pub struct AccessPassPage {
    pub org: String,
    pub me: String,
    pub pass: String,
    pub username: String,
    pub expires: String,
    pub once: bool,
    pub back: String,
}

/// A refusal or failure inside the helpdesk pages.
#[derive(Template)]
#[template(path = "admin_message.html")]
pub struct MessagePage {
    pub org: String,
    pub title: String,
    pub paragraphs: Vec<String>,
    pub request_id: String,
}
