//! Push commands: pending (pull to refresh), approve / deny, and listen.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use postern_proto::authenticator::{AnswerOutcome, Decision, PendingChallenge};
use serde_json::json;

use super::context::{Context, Failure, contact_of};
use crate::account::Account;
use crate::client::{Client, ClientError, system_now_ms};
use crate::listen::{ListenEvent, ListenOptions, listen as listen_loop};
use crate::time_text::{clock_time, expiry, format_utc};
use crate::vault::{Passphrase, Vault};

/// What the user asked for a request.
#[derive(Debug, Clone, Copy)]
pub enum Answer {
    Approve(u32),
    Deny { report: bool },
}

/// Fetches `/pending` from every account at once; (account, result) in the accounts' order.
async fn fetch_all(
    client: &Client,
    accounts: &[Account],
) -> Vec<(Account, Result<Vec<PendingChallenge>, ClientError>)> {
    let mut tasks = tokio::task::JoinSet::new();
    for (i, account) in accounts.iter().cloned().enumerate() {
        let client = client.clone();
        tasks.spawn(async move {
            let result = client.pending(&account).await.map(|l| l.challenges);
            (i, account, result)
        });
    }
    let mut results = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        if let Ok(r) = joined {
            results.push(r);
        }
    }
    results.sort_by_key(|(i, _, _)| *i);
    results.into_iter().map(|(_, a, r)| (a, r)).collect()
}

/// The block printed for one request (pending and listen).
pub fn describe_request(account: &str, c: &PendingChallenge, now_ms: i64) -> String {
    format!(
        "Sign-in request: {app} for {user} ({account})\n  \
         from {ip} at {time}, {expiry}\n  \
         Type the number shown in your browser: postern-authenticator approve {id} --number NN\n  \
         Not you? postern-authenticator deny {id} --report",
        app = c.app,
        user = c.username,
        ip = c.ip,
        time = clock_time(&c.created),
        expiry = expiry(&c.expires, now_ms),
        id = c.id,
    )
}

pub async fn pending(ctx: &mut Context, json: bool, only: Option<String>) -> Result<(), Failure> {
    let mut vault = ctx.open()?;
    let names: Vec<String> = only.into_iter().collect();
    let accounts = Context::select_push(&vault, &names)?;
    let results = fetch_all(&ctx.client, &accounts).await;
    let now = system_now_ms();
    let mut contacts = Vec::new();
    let mut rows = Vec::new();
    let mut failed = false;
    for (account, result) in results {
        match result {
            Ok(list) => {
                contacts.extend(contact_of(&account, now));
                rows.extend(list.into_iter().map(|c| (account.clone(), c)));
            }
            Err(e) => {
                failed = true;
                eprintln!("{}: {e}", account.name);
            }
        }
    }
    ctx.record_contacts(&mut vault, &contacts);
    if json {
        let items: Vec<_> = rows
            .iter()
            .map(|(a, c)| {
                json!({
                    "account": a.name, "id": c.id, "app": c.app, "ip": c.ip,
                    "username": c.username, "created": c.created, "expires": c.expires,
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(items));
    } else if rows.is_empty() {
        if !failed {
            println!("No sign-in requests waiting.");
        }
    } else {
        for (account, c) in &rows {
            println!("{}\n", describe_request(&account.name, c, now));
        }
        // They are on the user's screen now: tell the servers (delivery tracking).
        let mut shown = tokio::task::JoinSet::new();
        for (account, c) in rows {
            let client = ctx.client.clone();
            shown.spawn(async move { client.shown(&account, &c.id).await });
        }
        while shown.join_next().await.is_some() {}
    }
    if failed {
        return Err(Failure::quiet());
    }
    Ok(())
}

/// Finds the account a request belongs to (and the request), accepting a unique id prefix.
async fn locate(
    client: &Client,
    accounts: &[Account],
    id: &str,
) -> Result<(Account, Option<PendingChallenge>), Failure> {
    let results = fetch_all(client, accounts).await;
    let mut exact = None;
    let mut prefixed = Vec::new();
    for (account, result) in &results {
        if let Ok(list) = result {
            for c in list {
                if c.id == id {
                    exact = Some((account.clone(), Some(c.clone())));
                } else if id.len() >= 4 && c.id.starts_with(id) {
                    prefixed.push((account.clone(), Some(c.clone())));
                }
            }
        }
    }
    if let Some(found) = exact {
        return Ok(found);
    }
    match prefixed.len() {
        1 => return Ok(prefixed.remove(0)),
        0 => {}
        _ => {
            return Err(Failure::new(format!(
                "'{id}' matches several requests; use the whole id from `pending`"
            )));
        }
    }
    // Not pending (answered, expired, or the server is unreachable): with one account the
    // server can still say which.
    if let [only] = accounts {
        return Ok((only.clone(), None));
    }
    for (account, result) in &results {
        if let Err(e) = result {
            eprintln!("{}: {e}", account.name);
        }
    }
    Err(Failure::new(format!(
        "no pending request '{id}' on any account (answered, expired, or never sent here); \
         `postern-authenticator pending` lists what is waiting, or pass --account"
    )))
}

fn outcome_text(
    outcome: AnswerOutcome,
    report: bool,
    challenge: Option<&PendingChallenge>,
) -> String {
    let what = challenge
        .map(|c| format!(" to {} for {}", c.app, c.username))
        .unwrap_or_default();
    match outcome {
        AnswerOutcome::Approved => format!("Approved: the sign-in{what} goes on in the browser."),
        AnswerOutcome::Denied if report => format!(
            "Denied and reported: the sign-in{what} was refused, push requests to this account \
             are paused, and your administrators were told. If someone knows your password, \
             change it."
        ),
        AnswerOutcome::Denied => format!("Denied: the sign-in{what} was refused."),
        AnswerOutcome::WrongNumber => "Wrong number: that is not the number the sign-in page \
            shows. The request is over and counts as a failed attempt; start the sign-in again \
            and type the number it shows."
            .into(),
        AnswerOutcome::Expired => "Too late: the request expired before the answer arrived. \
            Start the sign-in again, or use a 6-digit code (`postern-authenticator codes`)."
            .into(),
        AnswerOutcome::AlreadyAnswered => {
            "This request was already answered (here or on another device); nothing changed.".into()
        }
    }
}

pub async fn answer(
    ctx: &mut Context,
    id: &str,
    answer: Answer,
    only: Option<String>,
) -> Result<(), Failure> {
    let mut vault = ctx.open()?;
    let names: Vec<String> = only.into_iter().collect();
    let accounts = Context::select_push(&vault, &names)?;
    let (account, challenge) = locate(&ctx.client, &accounts, id).await?;
    let full_id = challenge
        .as_ref()
        .map(|c| c.id.clone())
        .unwrap_or_else(|| id.to_owned());
    if let Some(c) = &challenge {
        eprintln!(
            "{}: {} from {} at {}",
            account.name,
            c.app,
            c.ip,
            clock_time(&c.created)
        );
    }
    // Shown first, as the app that displayed it would: the server tracks each step.
    if let Err(e) = ctx.client.shown(&account, &full_id).await
        && e.is_unknown_device()
    {
        return Err(e.into());
    }
    let (decision, number, report) = match answer {
        Answer::Approve(n) => (Decision::Approve, Some(n), false),
        Answer::Deny { report } => (Decision::Deny, None, report),
    };
    let outcome = ctx
        .client
        .answer(&account, &full_id, decision, number, report)
        .await?;
    ctx.record_contacts(
        &mut vault,
        &contact_of(&account, system_now_ms())
            .into_iter()
            .collect::<Vec<_>>(),
    );
    println!("{}", outcome_text(outcome, report, challenge.as_ref()));
    let as_asked = matches!(
        (answer, outcome),
        (Answer::Approve(_), AnswerOutcome::Approved)
            | (Answer::Deny { .. }, AnswerOutcome::Denied)
    );
    if as_asked {
        Ok(())
    } else {
        Err(Failure::quiet())
    }
}

fn stamp() -> String {
    format_utc(system_now_ms())
        .split_once(' ')
        .map(|(_, t)| t.to_owned())
        .unwrap_or_default()
}

/// How often a long-lived connection refreshes the "last connected" record.
const CONTACT_REFRESH: Duration = Duration::from_secs(600);

/// Records a contact in the vault off the async threads (Argon2id is CPU work).
fn record_in_background(
    path: std::path::PathBuf,
    passphrase: Passphrase,
    account: Account,
    at: i64,
) {
    tokio::task::spawn_blocking(move || {
        let Some((device, base, at)) = contact_of(&account, at) else {
            return;
        };
        let result = Vault::modify(&path, &passphrase, None, |data| {
            data.record_contact(&device, &base, at);
            Ok::<_, crate::vault::VaultError>(())
        });
        if let Err(e) = result {
            eprintln!("note: could not record the contact time in the vault: {e}");
        }
    });
}

pub async fn listen(ctx: &mut Context, names: Vec<String>) -> Result<(), Failure> {
    let vault = ctx.open()?;
    let accounts = Context::select_push(&vault, &names)?;
    let passphrase = ctx.passphrase()?;
    let path = ctx.vault_path.clone();
    let by_name: HashMap<String, Account> = accounts
        .iter()
        .map(|a| (a.name.clone(), a.clone()))
        .collect();
    println!(
        "Listening for sign-in requests to {} account(s): {}. Ctrl-C stops.",
        accounts.len(),
        accounts
            .iter()
            .map(|a| a.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let connected: Arc<Mutex<HashMap<String, bool>>> = Arc::default();
    // A server that keeps dropping the stream must not turn into a vault write per reconnect.
    let mut last_recorded: HashMap<String, std::time::Instant> = HashMap::new();

    // While connected, refresh the "last connected" record now and then.
    let refresher = {
        let (connected, by_name, path, passphrase) = (
            connected.clone(),
            by_name.clone(),
            path.clone(),
            passphrase.clone(),
        );
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(CONTACT_REFRESH);
            tick.tick().await;
            loop {
                tick.tick().await;
                let up: Vec<String> = connected
                    .lock()
                    .map(|m| {
                        m.iter()
                            .filter(|(_, up)| **up)
                            .map(|(n, _)| n.clone())
                            .collect()
                    })
                    .unwrap_or_default();
                for name in up {
                    if let Some(account) = by_name.get(&name) {
                        record_in_background(
                            path.clone(),
                            passphrase.clone(),
                            account.clone(),
                            system_now_ms(),
                        );
                    }
                }
            }
        })
    };

    let client = ctx.client.clone();
    let on_event = |event: ListenEvent| match event {
        ListenEvent::Connected { account, at_ms } => {
            eprintln!("[{}] {account}: connected", stamp());
            if let Ok(mut m) = connected.lock() {
                m.insert(account.clone(), true);
            }
            let due = last_recorded
                .get(&account)
                .is_none_or(|t| t.elapsed() >= Duration::from_secs(60));
            if let (true, Some(a)) = (due, by_name.get(&account)) {
                last_recorded.insert(account.clone(), std::time::Instant::now());
                record_in_background(path.clone(), passphrase.clone(), a.clone(), at_ms);
            }
        }
        ListenEvent::Challenge { account, challenge } => {
            println!(
                "\n[{}] {}\n",
                stamp(),
                describe_request(&account, &challenge, system_now_ms())
            );
            if let Some(a) = by_name.get(&account).cloned() {
                let client = client.clone();
                tokio::spawn(async move {
                    let _ = client.shown(&a, &challenge.id).await;
                });
            }
        }
        ListenEvent::Resolved { account, id } => {
            println!(
                "[{}] {account}: request {id} was answered or expired.",
                stamp()
            );
        }
        ListenEvent::Disconnected {
            account,
            error,
            retry_in,
        } => {
            if let Ok(mut m) = connected.lock() {
                m.insert(account.clone(), false);
            }
            eprintln!(
                "[{}] {account}: {error}; trying again in {:.1} s",
                stamp(),
                retry_in.as_secs_f64()
            );
        }
        ListenEvent::Removed { account, error } => {
            eprintln!(
                "[{}] {account}: {error}. No longer listening for it.",
                stamp()
            );
        }
    };
    let result = tokio::select! {
        () = listen_loop(&client, accounts, ListenOptions::default(), on_event) => {
            Err(Failure::new("no account left to listen for"))
        }
        _ = tokio::signal::ctrl_c() => Ok(()),
    };
    refresher.abort();
    result
}
