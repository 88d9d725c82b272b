//! `doctor` and `tui`: the commands that look at everything at once.

use super::context::{Context, Failure, contact_of, show};
use crate::doctor::{self, AccountReport, Status};
use crate::vault::file_mode;

pub async fn doctor(ctx: &mut Context, json: bool) -> Result<(), Failure> {
    let mut vault = ctx.open()?;
    let accounts: Vec<_> = vault.data.push_accounts().cloned().collect();
    let mut reports: Vec<AccountReport> = Vec::new();
    let mut tasks = tokio::task::JoinSet::new();
    for (i, account) in accounts.iter().cloned().enumerate() {
        let client = ctx.client.clone();
        tasks.spawn(async move { (i, doctor::check(&client, &account).await) });
    }
    let mut indexed = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        if let Ok(r) = joined {
            indexed.push(r);
        }
    }
    indexed.sort_by_key(|(i, _)| *i);
    reports.extend(indexed.into_iter().map(|(_, r)| r));

    let contacts: Vec<_> = accounts
        .iter()
        .zip(&reports)
        .filter_map(|(a, r)| r.contacted_ms.and_then(|at| contact_of(a, at)))
        .collect();
    ctx.record_contacts(&mut vault, &contacts);

    let vault_mode = file_mode(vault.path()).ok();
    let worst = reports
        .iter()
        .map(AccountReport::worst)
        .max()
        .unwrap_or(Status::Ok);
    if json {
        let value = serde_json::json!({
            "vault": { "path": show(vault.path()), "mode": vault_mode.map(|m| format!("{m:o}")) },
            "accounts": reports,
            "status": worst,
        });
        println!("{value}");
    } else {
        match vault_mode {
            Some(0o600) => println!("vault {}: ok (private, 0600)", show(vault.path())),
            Some(mode) => println!(
                "vault {}: WARN mode {mode:o}; only you should read it: chmod 600 {}",
                show(vault.path()),
                show(vault.path())
            ),
            None => {}
        }
        if reports.is_empty() {
            println!(
                "No push accounts to check. Codes work offline; `add LINK` registers this \
                 device for push."
            );
        }
        for report in &reports {
            println!("\n{} ({})", report.account, report.server);
            for check in &report.checks {
                println!(
                    "  {:<4}  {:<12}  {}",
                    check.status.label(),
                    check.what,
                    check.detail
                );
            }
        }
        println!(
            "\n{}",
            match worst {
                Status::Ok => "Everything needed for push works.",
                Status::Warn => "Push works, with the warnings above.",
                Status::Fail => "Push is broken: see FAIL above for what to do.",
            }
        );
    }
    if worst == Status::Fail {
        return Err(Failure::quiet());
    }
    Ok(())
}

pub async fn tui(ctx: &mut Context) -> Result<(), Failure> {
    let mut vault = ctx.open()?;
    let accounts = vault.data.accounts.clone();
    let contacts = crate::tui::run(&ctx.client, accounts).await?;
    let contacts: Vec<_> = contacts
        .iter()
        .filter_map(|(account, at)| contact_of(account, *at))
        .collect();
    ctx.record_contacts(&mut vault, &contacts);
    Ok(())
}
