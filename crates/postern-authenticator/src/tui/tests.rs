use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::*;
use crate::account::{PushDevice, Registration};
use crate::device_key::DeviceKey;
use crate::totp::{Totp, TotpAlgorithm};

fn accounts() -> Vec<Account> {
    let totp = Totp::new(
        b"12345678901234567890",
        TotpAlgorithm::Sha1,
        6,
        30,
        "GitHub",
        "ada",
    )
    .unwrap();
    let push = PushDevice::new(
        Registration {
            api_base: "https://id.example.org".into(),
            issuer: "https://id.example.org".into(),
            organisation: "Postern School".into(),
            username: "ada".into(),
            device_id: "dev-1".into(),
            device_name: "laptop".into(),
        },
        &DeviceKey::generate().unwrap(),
        0,
    );
    vec![
        Account::from_totp(totp, 0),
        Account {
            name: "Postern School:ada".into(),
            totp: None,
            push: Some(push),
            added_ms: 0,
        },
    ]
}

fn request(account: &Account, id: &str, app: &str) -> Request {
    Request {
        account: account.clone(),
        challenge: PendingChallenge {
            id: id.into(),
            app: app.into(),
            ip: "203.0.113.7".into(),
            username: "ada".into(),
            created: "2009-02-13T23:31:30Z".into(),
            expires: "2009-02-13T23:32:30Z".into(),
        },
    }
}

fn screen(dashboard: &Dashboard, now_ms: i64) -> String {
    let mut terminal = Terminal::new(TestBackend::new(100, 16)).unwrap();
    terminal.draw(|f| dashboard.render(f, now_ms)).unwrap();
    let buffer = terminal.backend().buffer().clone();
    let width = buffer.area.width as usize;
    buffer
        .content()
        .chunks(width)
        .map(|row| row.iter().map(|c| c.symbol()).collect::<String>())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn shows_codes_with_countdown_and_requests_with_app_ip_time() {
    let accounts = accounts();
    let mut dashboard = Dashboard::new(accounts.clone());
    dashboard.set_requests(vec![
        request(&accounts[1], "c1", "Learning Hub"),
        request(&accounts[1], "c2", "Mail"),
    ]);
    // 1234567890 s: the RFC 6238 SHA1 vector 89005924 → 6 digits 005924, 30 s left.
    let text = screen(&dashboard, 1_234_567_890_000);
    assert!(text.contains("GitHub:ada"), "{text}");
    assert!(text.contains("005924"), "{text}");
    assert!(text.contains("30 s"), "{text}");
    assert!(
        text.contains("Learning Hub · ada · from 203.0.113.7 at 23:31:30 UTC"),
        "{text}"
    );
    assert!(text.contains("expires in 60 s"), "{text}");
    assert!(text.contains("Mail"), "{text}");
    assert!(text.contains("Number: __"), "{text}");
}

#[test]
fn keys_type_a_number_and_answer_the_selected_request() {
    let accounts = accounts();
    let mut dashboard = Dashboard::new(accounts.clone());
    dashboard.set_requests(vec![
        request(&accounts[1], "c1", "Learning Hub"),
        request(&accounts[1], "c2", "Mail"),
    ]);
    let none = KeyModifiers::NONE;
    assert_eq!(dashboard.handle_key(KeyCode::Enter, none), Action::Nothing);
    assert!(dashboard.status.contains("Type the number"));
    assert_eq!(dashboard.handle_key(KeyCode::Down, none), Action::Nothing);
    dashboard.handle_key(KeyCode::Char('4'), none);
    dashboard.handle_key(KeyCode::Char('2'), none);
    assert!(screen(&dashboard, 1_234_567_890_000).contains("Number: 42"));
    assert_eq!(
        dashboard.handle_key(KeyCode::Enter, none),
        Action::Answer {
            index: 1,
            decision: Decision::Approve,
            number: Some(42),
            report: false
        }
    );
    assert_eq!(
        dashboard.handle_key(KeyCode::Char('x'), none),
        Action::Answer {
            index: 1,
            decision: Decision::Deny,
            number: None,
            report: true
        }
    );
    assert_eq!(
        dashboard.handle_key(KeyCode::Char('r'), none),
        Action::Refresh
    );
    assert_eq!(dashboard.handle_key(KeyCode::Char('q'), none), Action::Quit);

    // A refresh keeps the selection on the same request; the typed digits stay with it.
    dashboard.set_requests(vec![request(&accounts[1], "c2", "Mail")]);
    assert_eq!((dashboard.selected, dashboard.number.as_str()), (0, "42"));
    dashboard.set_requests(vec![request(&accounts[1], "c3", "Wiki")]);
    assert_eq!((dashboard.selected, dashboard.number.as_str()), (0, ""));
}

#[test]
fn an_empty_dashboard_says_so() {
    let text = screen(&Dashboard::new(Vec::new()), 0);
    assert!(text.contains("No accounts with codes."), "{text}");
    assert!(text.contains("No sign-in requests waiting."), "{text}");
}
