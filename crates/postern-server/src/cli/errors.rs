//! `postern errors show CODE` and `postern errors list`: the catalogue in a terminal.

use clap::{Args, Subcommand};
use postern_core::ErrorCode;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct ErrorsArgs {
    /// Print JSON.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: ErrorsCommand,
}

#[derive(Debug, Subcommand)]
enum ErrorsCommand {
    /// What a code means, what the user can do, what an admin can do.
    Show {
        /// The code, e.g. 50126 (an "AADSTS" or "POSTERN" prefix is accepted).
        code: String,
    },
    /// Every code.
    List,
}

pub fn run(args: &ErrorsArgs) -> ExitCode {
    match &args.command {
        ErrorsCommand::Show { code } => {
            let digits: String = code.chars().filter(char::is_ascii_digit).collect();
            let Some(found) = digits.parse::<u32>().ok().and_then(ErrorCode::from_code) else {
                eprintln!(
                    "error: Postern has no error code '{code}'. `postern errors list` shows them all."
                );
                return ExitCode::FAILURE;
            };
            let i = found.info();
            if args.json {
                println!("{}", serde_json::to_string_pretty(&i).unwrap_or_default());
            } else {
                println!("Error {}: {}", i.code, i.title);
                println!("  HTTP status:    {}", i.http_status);
                println!("  OAuth error:    {}", i.oauth_error);
                println!("  The user can:   {}", i.user_action);
                println!("  An admin can:   {}", i.admin_action);
            }
        }
        ErrorsCommand::List => {
            let all: Vec<_> = ErrorCode::ALL.iter().map(|c| c.info()).collect();
            if args.json {
                println!("{}", serde_json::to_string_pretty(&all).unwrap_or_default());
            } else {
                for i in all {
                    println!("{:>8}  {}", i.code, i.title);
                }
            }
        }
    }
    ExitCode::SUCCESS
}
