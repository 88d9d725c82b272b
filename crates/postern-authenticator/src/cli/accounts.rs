//! Commands over the vault's accounts: add (push registration), add-totp, list, remove, codes,
//! export and import.

use std::path::{Path, PathBuf};

use serde_json::json;

use super::context::{Context, Failure, show, unknown_account};
use crate::account::Account;
use crate::client::{parse_activation_link, system_now_ms};
use crate::passphrase;
use crate::time_text::describe_last_contact;
use crate::totp::Totp;
use crate::vault::{Vault, VaultError};

const ENV_EXPORT_PASSPHRASE: &str = "POSTERN_AUTHENTICATOR_EXPORT_PASSPHRASE";
const ENV_IMPORT_PASSPHRASE: &str = "POSTERN_AUTHENTICATOR_IMPORT_PASSPHRASE";

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "Postern Authenticator".into())
}

pub async fn add(ctx: &mut Context, url: &str, name: Option<String>) -> Result<(), Failure> {
    let link = parse_activation_link(url)?;
    if link.api_base.starts_with("http://") && !is_loopback(&link.api_base) {
        eprintln!(
            "warning: {} is not https: the activation code and this device's requests travel \
             unencrypted",
            link.api_base
        );
    }
    let device_name = name
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(host_name);
    // The passphrase first: a link works once, so it must not be spent on a vault we then
    // cannot write.
    ctx.unlock_or_prepare()?;
    eprintln!(
        "Registering this device as '{device_name}' with {} …",
        link.api_base
    );
    let account = ctx.client.activate(url, &device_name).await?;
    let has_codes = account.totp.is_some();
    let push = account.push.clone();
    let stored_name = ctx.modify(true, |data| Ok(data.add(account)))?;
    let push = push.ok_or_else(|| Failure::new("activation returned no registration"))?;
    println!(
        "Added '{stored_name}': {} at {} (device '{}', id {}).",
        push.username, push.organisation, push.device_name, push.device_id
    );
    if has_codes {
        println!("  Push approvals and 6-digit codes (`postern-authenticator codes`) are ready.");
    } else {
        println!(
            "  Push approvals are ready. The server's code seed could not be read, so this \
             account shows no 6-digit codes."
        );
    }
    if push.issuer.trim_end_matches('/') != push.api_base {
        println!(
            "  note: the server calls itself {}; this app keeps using {}, where the link pointed.",
            push.issuer, push.api_base
        );
    }
    println!(
        "  Next: `postern-authenticator listen` to receive requests as they come, or \
         `postern-authenticator pending` to fetch them."
    );
    Ok(())
}

fn is_loopback(base: &str) -> bool {
    url::Url::parse(base)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .is_some_and(|h| h == "localhost" || h == "[::1]" || h.starts_with("127."))
}

pub fn add_totp(ctx: &mut Context, uri: &str, name: Option<String>) -> Result<(), Failure> {
    let totp = Totp::from_uri(uri).map_err(|e| Failure::new(format!("not added: {e}")))?;
    let mut account = Account::from_totp(totp.clone(), system_now_ms());
    if let Some(name) = name.filter(|n| !n.trim().is_empty()) {
        account.name = name;
    }
    let stored = ctx.modify(true, |data| Ok(data.add(account)))?;
    let code = totp.code_at(now_seconds());
    println!(
        "Added '{stored}'. Current code: {} (valid {} s more).",
        code.code, code.seconds_left
    );
    Ok(())
}

pub fn list(ctx: &mut Context, json: bool) -> Result<(), Failure> {
    let vault = ctx.open()?;
    let now = system_now_ms();
    if json {
        let items: Vec<_> = vault
            .data
            .accounts
            .iter()
            .map(|a| {
                json!({
                    "name": a.name,
                    "codes": a.totp.is_some(),
                    "push": a.push.as_ref().map(|p| json!({
                        "server": p.api_base,
                        "organisation": p.organisation,
                        "username": p.username,
                        "device_id": p.device_id,
                        "device_name": p.device_name,
                        "last_contact_ms": p.last_contact_ms,
                    })),
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(items));
        return Ok(());
    }
    if vault.data.accounts.is_empty() {
        println!("The vault is empty. Add an account with `add LINK` or `add-totp URI`.");
        return Ok(());
    }
    for (i, a) in vault.data.accounts.iter().enumerate() {
        let kind = match (&a.push, &a.totp) {
            (Some(_), Some(_)) => "push + codes",
            (Some(_), None) => "push",
            _ => "codes",
        };
        println!("{:>2}. {}  [{kind}]", i + 1, a.name);
        if let Some(p) = &a.push {
            println!(
                "      {} · device '{}' · last connected {}",
                p.api_base,
                p.device_name,
                describe_last_contact(p.last_contact_ms, now)
            );
        }
    }
    Ok(())
}

pub fn remove(ctx: &mut Context, name: &str) -> Result<(), Failure> {
    let removed = ctx.modify(false, |data| {
        data.remove(name).ok_or_else(|| unknown_account(data, name))
    })?;
    println!("Removed '{}'.", removed.name);
    if let Some(p) = removed.push {
        println!(
            "  The server still lists device '{}' for {}: remove it in Security info too, so \
             requests stop going to it.",
            p.device_name, p.username
        );
    }
    Ok(())
}

pub fn now_seconds() -> u64 {
    u64::try_from(system_now_ms() / 1000).unwrap_or(0)
}

pub fn codes(ctx: &mut Context, json: bool) -> Result<(), Failure> {
    let vault = ctx.open()?;
    let now = now_seconds();
    let rows: Vec<(&str, crate::totp::Code)> = vault
        .data
        .accounts
        .iter()
        .filter_map(|a| a.totp.as_ref().map(|t| (a.name.as_str(), t.code_at(now))))
        .collect();
    if json {
        let items: Vec<_> = rows
            .iter()
            .map(|(name, code)| {
                json!({"account": name, "code": code.code, "seconds_left": code.seconds_left})
            })
            .collect();
        println!("{}", serde_json::Value::Array(items));
        return Ok(());
    }
    if rows.is_empty() {
        println!("No accounts with codes. Add one with `add LINK` or `add-totp URI`.");
        return Ok(());
    }
    let width = rows
        .iter()
        .map(|(n, _)| n.chars().count())
        .max()
        .unwrap_or(0);
    for (name, code) in rows {
        println!(
            "{name:<width$}  {}  {:>2} s left",
            code.code, code.seconds_left
        );
    }
    Ok(())
}

fn file_passphrase(
    file: Option<PathBuf>,
    variable: &str,
) -> Result<Option<crate::vault::Passphrase>, Failure> {
    match file {
        Some(path) => Ok(Some(passphrase::from_file(&path)?)),
        None => Ok(passphrase::from_env(variable)),
    }
}

pub fn export(
    ctx: &mut Context,
    file: &Path,
    passphrase_file: Option<PathBuf>,
    force: bool,
) -> Result<(), Failure> {
    let vault = ctx.open()?;
    let own = file_passphrase(passphrase_file, ENV_EXPORT_PASSPHRASE)?;
    let same = own.is_none();
    let p = match own {
        Some(p) => p,
        None => ctx.passphrase()?,
    };
    vault.export_to(file, &p, force).map_err(|e| match e {
        VaultError::AlreadyExists(path) => Failure::new(format!(
            "{} already exists; nothing was written (pass --force to replace it)",
            show(&path)
        )),
        other => other.into(),
    })?;
    println!(
        "Exported {} account(s) to {} (encrypted with {}).",
        vault.data.accounts.len(),
        show(file),
        if same {
            "the vault's passphrase"
        } else {
            "the export passphrase"
        }
    );
    if vault.data.push_accounts().next().is_some() {
        println!(
            "  It holds device keys: whoever has it and its passphrase can answer requests as \
             this device. Keep it safe."
        );
    }
    Ok(())
}

pub fn import(
    ctx: &mut Context,
    file: &Path,
    passphrase_file: Option<PathBuf>,
) -> Result<(), Failure> {
    let data = match file_passphrase(passphrase_file, ENV_IMPORT_PASSPHRASE)? {
        Some(p) => Vault::read_export(file, &p)?,
        None => {
            // The vault's own passphrase first (the default of `export`), then ask.
            let candidate = if ctx.vault_exists() {
                Some(ctx.passphrase()?)
            } else {
                ctx.given_passphrase()?
            };
            let tried = candidate.map(|p| Vault::read_export(file, &p));
            match tried {
                Some(Ok(data)) => data,
                Some(Err(e)) if !matches!(e, VaultError::WrongPassphrase) => return Err(e.into()),
                _ => {
                    let p = passphrase::prompt(&format!("Passphrase of {}: ", show(file)))?;
                    Vault::read_export(file, &p)?
                }
            }
        }
    };
    let (added, skipped) = ctx.modify(true, |mine| Ok(mine.merge(data)))?;
    println!(
        "Imported {} account(s) from {}{}",
        added.len(),
        show(file),
        if added.is_empty() { "." } else { ":" }
    );
    for name in &added {
        println!("  + {name}");
    }
    if !skipped.is_empty() {
        println!("Already here, skipped: {}", skipped.join(", "));
    }
    Ok(())
}
