//! The terminal dashboard: every account's code with its countdown, the pending sign-in
//! requests, and keys to answer them. Small on purpose: everything here is also a command.
//!
//! [`Dashboard`] is the state, its key handling and its drawing (pure, tested with ratatui's
//! `TestBackend`); [`run`] is the thin loop around it that owns the terminal and the network.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use postern_proto::authenticator::{AnswerOutcome, Decision, PendingChallenge};
use ratatui::Frame;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

use crate::account::Account;
use crate::client::{Client, system_now_ms};

/// How often the dashboard asks the servers again by itself.
const AUTO_REFRESH: Duration = Duration::from_secs(20);

/// One pending request and the account it came to.
#[derive(Debug, Clone)]
pub struct Request {
    pub account: Account,
    pub challenge: PendingChallenge,
}

/// What a key press asks the loop to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Nothing,
    Quit,
    Refresh,
    Answer {
        index: usize,
        decision: Decision,
        number: Option<u32>,
        report: bool,
    },
}

/// The dashboard's state.
#[derive(Debug, Default)]
pub struct Dashboard {
    pub accounts: Vec<Account>,
    pub requests: Vec<Request>,
    pub selected: usize,
    /// Digits typed so far for the selected request.
    pub number: String,
    /// The last outcome or error, in words.
    pub status: String,
}

impl Dashboard {
    pub fn new(accounts: Vec<Account>) -> Self {
        Self {
            accounts,
            status: "r refresh · q quit".into(),
            ..Self::default()
        }
    }

    /// Replaces the requests, keeping the selection on the same request when it is still there.
    pub fn set_requests(&mut self, requests: Vec<Request>) {
        let current = self
            .requests
            .get(self.selected)
            .map(|r| r.challenge.id.clone());
        self.requests = requests;
        self.selected = current
            .as_ref()
            .and_then(|id| self.requests.iter().position(|r| &r.challenge.id == id))
            .unwrap_or(0);
        // The digits typed belong to the request they were typed for.
        if current
            != self
                .requests
                .get(self.selected)
                .map(|r| r.challenge.id.clone())
        {
            self.number.clear();
        }
    }

    pub fn handle_key(&mut self, code: KeyCode, modifiers: KeyModifiers) -> Action {
        if modifiers.contains(KeyModifiers::CONTROL) && code == KeyCode::Char('c') {
            return Action::Quit;
        }
        match code {
            KeyCode::Char('q') => Action::Quit,
            KeyCode::Esc if self.number.is_empty() => Action::Quit,
            KeyCode::Esc => {
                self.number.clear();
                Action::Nothing
            }
            KeyCode::Char('r') => Action::Refresh,
            KeyCode::Up | KeyCode::Char('k') => {
                self.selected = self.selected.saturating_sub(1);
                self.number.clear();
                Action::Nothing
            }
            KeyCode::Down | KeyCode::Char('j') => {
                if self.selected + 1 < self.requests.len() {
                    self.selected += 1;
                }
                self.number.clear();
                Action::Nothing
            }
            KeyCode::Char(c) if c.is_ascii_digit() => {
                if self.number.len() < 4 {
                    self.number.push(c);
                }
                Action::Nothing
            }
            KeyCode::Backspace => {
                self.number.pop();
                Action::Nothing
            }
            KeyCode::Enter => match (self.requests.get(self.selected), self.number.parse()) {
                (None, _) => {
                    self.status = "No request to approve.".into();
                    Action::Nothing
                }
                (Some(_), Err(_)) => {
                    self.status = "Type the number shown in your browser, then press Enter.".into();
                    Action::Nothing
                }
                (Some(_), Ok(n)) => Action::Answer {
                    index: self.selected,
                    decision: Decision::Approve,
                    number: Some(n),
                    report: false,
                },
            },
            KeyCode::Char(c @ ('d' | 'x')) if self.selected < self.requests.len() => {
                Action::Answer {
                    index: self.selected,
                    decision: Decision::Deny,
                    number: None,
                    report: c == 'x',
                }
            }
            _ => Action::Nothing,
        }
    }

    /// Draws the dashboard for the moment `now_ms`.
    pub fn render(&self, frame: &mut Frame, now_ms: i64) {
        let code_rows = self
            .accounts
            .iter()
            .filter(|a| a.totp.is_some())
            .count()
            .max(1);
        let [codes_area, requests_area, help_area] = Layout::vertical([
            Constraint::Length(u16::try_from(code_rows + 2).unwrap_or(u16::MAX)),
            Constraint::Min(4),
            Constraint::Length(3),
        ])
        .areas(frame.area());

        let now_s = u64::try_from(now_ms / 1000).unwrap_or(0);
        let width = self
            .accounts
            .iter()
            .map(|a| a.name.chars().count())
            .max()
            .unwrap_or(0);
        let digits = self
            .accounts
            .iter()
            .filter_map(|a| a.totp.as_ref().map(|t| t.digits as usize))
            .max()
            .unwrap_or(6);
        let mut code_lines: Vec<Line> = self
            .accounts
            .iter()
            .filter_map(|a| {
                let totp = a.totp.as_ref()?;
                let code = totp.code_at(now_s);
                let filled = (code.seconds_left * 10).div_ceil(totp.period) as usize;
                Some(Line::from(vec![
                    Span::raw(format!("{:<width$}  ", a.name)),
                    Span::styled(
                        format!("{:<digits$}", code.code),
                        Style::new().add_modifier(Modifier::BOLD),
                    ),
                    Span::raw(format!(
                        "  {:>2} s {}",
                        code.seconds_left,
                        "█".repeat(filled.min(10))
                    )),
                ]))
            })
            .collect();
        if code_lines.is_empty() {
            code_lines.push(Line::raw("No accounts with codes."));
        }
        frame.render_widget(
            Paragraph::new(code_lines).block(Block::bordered().title(" Codes ")),
            codes_area,
        );

        let mut request_lines = Vec::new();
        if self.requests.is_empty() {
            request_lines.push(Line::raw("No sign-in requests waiting. (r refreshes)"));
        }
        for (i, r) in self.requests.iter().enumerate() {
            let c = &r.challenge;
            let expires = crate::time_text::expiry(&c.expires, now_ms);
            let marker = if i == self.selected { "▶ " } else { "  " };
            let style = if i == self.selected {
                Style::new().add_modifier(Modifier::REVERSED)
            } else {
                Style::new()
            };
            request_lines.push(Line::styled(
                format!(
                    "{marker}{} · {} · from {} at {} · {expires}",
                    c.app,
                    c.username,
                    c.ip,
                    crate::time_text::clock_time(&c.created)
                ),
                style,
            ));
            request_lines.push(Line::raw(format!("    {} · id {}", r.account.name, c.id)));
        }
        frame.render_widget(
            Paragraph::new(request_lines)
                .block(Block::bordered().title(" Sign-in requests "))
                .wrap(Wrap { trim: false }),
            requests_area,
        );

        let help = vec![
            Line::from(vec![
                Span::raw("Number: "),
                Span::styled(
                    if self.number.is_empty() {
                        "__".to_owned()
                    } else {
                        self.number.clone()
                    },
                    Style::new().add_modifier(Modifier::BOLD),
                ),
                Span::raw(
                    "  type it + Enter approve · d deny · x deny & report · ↑↓ choose · r refresh · q quit",
                ),
            ]),
            Line::raw(self.status.clone()),
        ];
        frame.render_widget(Paragraph::new(help).wrap(Wrap { trim: true }), help_area);
    }
}

/// Fetches every push account's pending requests; returns them, the accounts that answered
/// (with when), and the errors in words.
async fn refresh(
    client: &Client,
    accounts: &[Account],
) -> (Vec<Request>, Vec<(Account, i64)>, Vec<String>) {
    let mut requests = Vec::new();
    let mut contacts = Vec::new();
    let mut errors = Vec::new();
    for account in accounts.iter().filter(|a| a.push.is_some()) {
        match client.pending(account).await {
            Ok(list) => {
                contacts.push((account.clone(), system_now_ms()));
                requests.extend(list.challenges.into_iter().map(|challenge| Request {
                    account: account.clone(),
                    challenge,
                }));
            }
            Err(e) => errors.push(format!("{}: {e}", account.name)),
        }
    }
    (requests, contacts, errors)
}

fn outcome_words(outcome: AnswerOutcome, report: bool) -> &'static str {
    match outcome {
        AnswerOutcome::Approved => "Approved: the sign-in goes on in the browser.",
        AnswerOutcome::Denied if report => {
            "Denied and reported: push is paused for the account and the admins were told."
        }
        AnswerOutcome::Denied => "Denied: the sign-in was refused.",
        AnswerOutcome::WrongNumber => {
            "Wrong number: the request is over. Start the sign-in again and type the number shown."
        }
        AnswerOutcome::Expired => "Too late: the request expired.",
        AnswerOutcome::AlreadyAnswered => "It was already answered; nothing changed.",
    }
}

/// Runs the dashboard until `q`. Returns when each account's server last answered, for the
/// caller to record in the vault.
pub async fn run(client: &Client, accounts: Vec<Account>) -> std::io::Result<Vec<(Account, i64)>> {
    let mut terminal = ratatui::try_init()?;
    let result = run_loop(&mut terminal, client, accounts).await;
    ratatui::try_restore()?;
    result
}

async fn run_loop(
    terminal: &mut ratatui::DefaultTerminal,
    client: &Client,
    accounts: Vec<Account>,
) -> std::io::Result<Vec<(Account, i64)>> {
    let mut dashboard = Dashboard::new(accounts);
    let mut contacts: HashMap<String, (Account, i64)> = HashMap::new();
    let mut shown: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut last_refresh: Option<Instant> = None;
    loop {
        if last_refresh.is_none_or(|t| t.elapsed() >= AUTO_REFRESH) {
            dashboard.status = "Fetching requests …".into();
            terminal.draw(|f| dashboard.render(f, system_now_ms()))?;
            let (requests, answered, errors) = refresh(client, &dashboard.accounts).await;
            for r in &requests {
                // On screen now: tell the server (delivery tracking), once per request.
                if shown.insert(r.challenge.id.clone()) {
                    let _ = client.shown(&r.account, &r.challenge.id).await;
                }
            }
            for (account, at) in answered {
                contacts.insert(account.name.clone(), (account, at));
            }
            dashboard.status = if errors.is_empty() {
                format!(
                    "Updated at {}.",
                    crate::time_text::format_utc(system_now_ms())
                )
            } else {
                errors.join("; ")
            };
            dashboard.set_requests(requests);
            last_refresh = Some(Instant::now());
        }
        terminal.draw(|f| dashboard.render(f, system_now_ms()))?;
        let key = tokio::task::block_in_place(|| -> std::io::Result<Option<event::KeyEvent>> {
            if event::poll(Duration::from_millis(250))?
                && let Event::Key(key) = event::read()?
                && key.kind == KeyEventKind::Press
            {
                return Ok(Some(key));
            }
            Ok(None)
        })?;
        let Some(key) = key else { continue };
        match dashboard.handle_key(key.code, key.modifiers) {
            Action::Nothing => {}
            Action::Quit => break,
            Action::Refresh => last_refresh = None,
            Action::Answer {
                index,
                decision,
                number,
                report,
            } => {
                let Some(request) = dashboard.requests.get(index).cloned() else {
                    continue;
                };
                dashboard.status = "Sending …".into();
                terminal.draw(|f| dashboard.render(f, system_now_ms()))?;
                dashboard.status = match client
                    .answer(
                        &request.account,
                        &request.challenge.id,
                        decision,
                        number,
                        report,
                    )
                    .await
                {
                    Ok(outcome) => outcome_words(outcome, report).into(),
                    Err(e) => e.to_string(),
                };
                dashboard.number.clear();
                let mut rest = dashboard.requests.clone();
                rest.remove(index);
                dashboard.set_requests(rest);
            }
        }
    }
    Ok(contacts.into_values().collect())
}

#[cfg(test)]
mod tests;
