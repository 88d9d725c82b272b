//! `postern admin signins …` and `postern admin audit …`: the sign-in log, a diagnosis of one
//! sign-in, and the audit log.

use super::*;

#[derive(Debug, Subcommand)]
pub(super) enum SigninsCommand {
    /// A sign-in with its steps; ID is its correlation id or the request id of any of its requests.
    Show { id: String },
    /// What happened in a sign-in and why, with suggested fixes; ID is a request or correlation id.
    Diagnose { id: String },
    /// Sign-ins, newest first, optionally filtered.
    List {
        /// A username or user id.
        #[arg(long)]
        user: Option<String>,
        #[arg(long)]
        client_id: Option<String>,
        /// success, failure, interrupted or in_progress.
        #[arg(long)]
        result: Option<String>,
        #[arg(long)]
        error_code: Option<String>,
        /// An RFC 3339 time or an age such as 24h or 7d.
        #[arg(long)]
        since: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
    /// Every sign-in since a time, with its steps, one JSON object per line (for a log system).
    Export {
        /// An RFC 3339 time or an age such as 24h or 7d.
        #[arg(long)]
        since: String,
        #[arg(long, default_value = "jsonl")]
        format: String,
    },
}

#[derive(Debug, Subcommand)]
pub(super) enum AuditCommand {
    /// Administrative changes, newest first.
    List {
        /// A username, user id, client id or token id.
        #[arg(long)]
        target: Option<String>,
        /// An action such as user.unlock or access_pass.create.
        #[arg(long)]
        action: Option<String>,
        #[arg(long)]
        since: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
}

fn print_signin(e: &Value) {
    println!("Sign-in {}", text(&e["correlation_id"]));
    println!("  started:   {}", text(&e["started"]));
    let code = e["error_code"].as_u64().and_then(|c| u32::try_from(c).ok());
    println!(
        "  result:    {}{}",
        text(&e["result"]),
        code.and_then(postern_proto::ErrorCode::from_code)
            .map(|c| format!(" (error {c}: {})", c.info().title))
            .unwrap_or_default()
    );
    if let Some(reason) = e["failure_reason"].as_str() {
        println!("  reason:    {reason}");
    }
    println!("  user:      {}", e["username"].as_str().unwrap_or("-"));
    println!(
        "  app:       {} {}",
        e["client_name"].as_str().unwrap_or("-"),
        e["client_id"]
            .as_str()
            .map(|c| format!("({c})"))
            .unwrap_or_default()
    );
    println!(
        "  from:      {} {}",
        e["ip"].as_str().unwrap_or("-"),
        e["user_agent"].as_str().unwrap_or("")
    );
    let rids: Vec<&str> = e["request_ids"]
        .as_array()
        .into_iter()
        .flatten()
        .map(text)
        .collect();
    println!("  requests:  {}", rids.join(", "));
    println!("  steps:");
    for s in e["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(e["timeline"].as_array().into_iter().flatten())
    {
        println!(
            "    {}  {:<12} {:<8} {}",
            text(&s["time"]),
            text(&s["method"]),
            text(&s["result"]),
            text(&s["detail"])
        );
    }
}

fn print_diagnosis(d: &Value) {
    print_signin(d);
    println!();
    println!("Cause ({}):", text(&d["cause"]["kind"]));
    println!("  {}", text(&d["cause"]["summary"]));
    let fixes = d["fixes"].as_array().cloned().unwrap_or_default();
    if !fixes.is_empty() {
        println!("Suggested fixes:");
        for f in fixes {
            match f["action"].as_str() {
                Some(a) => println!("  - {} [{}]", text(&f["text"]), a),
                None => println!("  - {}", text(&f["text"])),
            }
        }
    }
    let user = d["username"].as_str().unwrap_or("-");
    if let Some(methods) = d["methods"].as_array() {
        println!("Methods of {user} now:");
        if methods.is_empty() {
            println!("  none");
        }
        for m in methods {
            let mut line = format!("  {} '{}'", text(&m["kind"]), text(&m["name"]));
            if let Some(seen) = m["last_contact"].as_str() {
                line.push_str(&format!(", last contact {seen}"));
            }
            if let Some(n) = m["codes_left"].as_u64() {
                line.push_str(&format!(", {n} codes left"));
            }
            println!("{line}");
        }
    }
    for w in d["warnings"].as_array().into_iter().flatten() {
        println!("warning: {}", text(w));
    }
}

pub(super) async fn signins(api: &Api, out: &Out, cmd: SigninsCommand) -> CmdResult {
    match cmd {
        SigninsCommand::Show { id } => {
            let e = api
                .call(
                    Method::GET,
                    &format!("/admin/v1/signins/{}", seg(id.trim())),
                    None,
                )
                .await?;
            out.show(&e, print_signin);
        }
        SigninsCommand::Diagnose { id } => {
            let d = api
                .call(
                    Method::GET,
                    &format!("/admin/v1/signins/{}/diagnosis", seg(id.trim())),
                    None,
                )
                .await?;
            out.show(&d, print_diagnosis);
        }
        SigninsCommand::List {
            user,
            client_id,
            result,
            error_code,
            since: from,
            limit,
        } => {
            let from = from.as_deref().map(since).transpose()?;
            let q = query(&[
                ("user", user),
                ("client_id", client_id),
                ("result", result),
                ("error_code", error_code),
                ("from", from),
                ("limit", Some(limit.clamp(1, 500).to_string())),
            ]);
            let page = api
                .call(Method::GET, &format!("/admin/v1/signins{q}"), None)
                .await?;
            let items = Value::Array(page["items"].as_array().cloned().unwrap_or_default());
            out.show(&items, |items| {
                for e in items.as_array().into_iter().flatten() {
                    println!(
                        "{}  {}  {:<11} {:<8} {}  {}",
                        text(&e["started"]),
                        text(&e["correlation_id"]),
                        text(&e["result"]),
                        e["error_code"]
                            .as_u64()
                            .map(|c| c.to_string())
                            .unwrap_or_default(),
                        e["username"].as_str().unwrap_or("-"),
                        e["client_name"].as_str().unwrap_or("-")
                    );
                }
            });
        }
        SigninsCommand::Export {
            since: from,
            format,
        } => {
            if format != "jsonl" {
                return Err("--format: only jsonl (one JSON object per line) is supported".into());
            }
            // Page by page (500 sign-ins each), oldest first, written as they come.
            let since = since(&from)?;
            let mut cursor = None;
            loop {
                let q = query(&[
                    ("since", Some(since.clone())),
                    ("format", Some(format.clone())),
                    ("cursor", cursor),
                ]);
                let (lines, next) = api.text(&format!("/admin/v1/signins/export{q}")).await?;
                print!("{lines}");
                match next {
                    Some(n) => cursor = Some(n),
                    None => break,
                }
            }
        }
    }
    Ok(())
}

pub(super) async fn audit(api: &Api, out: &Out, cmd: AuditCommand) -> CmdResult {
    let AuditCommand::List {
        target,
        action,
        since: from,
        limit,
    } = cmd;
    let from = from.as_deref().map(since).transpose()?;
    let q = query(&[
        ("target", target),
        ("action", action),
        ("from", from),
        ("limit", Some(limit.clamp(1, 500).to_string())),
    ]);
    let page = api
        .call(Method::GET, &format!("/admin/v1/audit{q}"), None)
        .await?;
    let items = Value::Array(page["items"].as_array().cloned().unwrap_or_default());
    out.show(&items, |items| {
        for e in items.as_array().into_iter().flatten() {
            let signin = e["correlation_id"]
                .as_str()
                .map(|c| format!("  (sign-in {c})"))
                .unwrap_or_default();
            println!(
                "{}  {}  {}  {} '{}': {}{signin}",
                text(&e["time"]),
                text(&e["actor"]),
                text(&e["action"]),
                text(&e["target_type"]),
                text(&e["target_name"]),
                text(&e["detail"]),
            );
        }
    });
    Ok(())
}
