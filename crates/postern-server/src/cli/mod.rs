//! The `postern` command line: `serve`, `admin …` and `errors …`.

mod admin;
mod admin_client;
mod errors;
mod serve;

use crate::config::{Config, Overrides};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

const ABOUT: &str = "Postern: a self-hosted OpenID Connect identity provider whose multi-factor sign-in never strands a user.";

const LONG_ABOUT: &str = "\
Postern: a self-hosted OpenID Connect identity provider whose multi-factor sign-in never strands a user.

Settings come from defaults, then a TOML file (--config), then POSTERN_* environment variables
(nested keys with __, e.g. POSTERN_POLICY__MFA=when_registered), then flags.

Start here:
  postern serve --demo                 Postern on http://127.0.0.1:8080 and a demo learning hub on :8081
  postern admin user create alice --password-stdin < password.txt
  postern admin client create --name \"Mail\" --redirect-uri https://mail.example/callback
  postern errors show 50126            what an error code means and what to do about it";

#[derive(Debug, Parser)]
#[command(name = "postern", version, about = ABOUT, long_about = LONG_ABOUT)]
pub struct Cli {
    /// A TOML configuration file.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Directory for the SQLite database and the master key [default: ./postern-data].
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// A postgres://… URL selects PostgreSQL instead of SQLite.
    #[arg(long, global = true, value_name = "URL")]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server.
    Serve(serve::ServeArgs),
    /// Administer users, applications, keys and the sign-in log (works while the server runs).
    Admin(admin::AdminArgs),
    /// Explain error codes.
    Errors(errors::ErrorsArgs),
}

/// Parses the command line and runs it.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Errors(args) = &cli.command {
        return errors::run(args);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let result = match cli.command {
            Command::Serve(args) => {
                let overrides = Overrides {
                    listen: args.listen,
                    issuer: args.issuer.clone(),
                    data_dir: cli.data_dir,
                    database_url: cli.database_url,
                };
                match Config::load(cli.config.as_deref(), &overrides) {
                    Ok(config) => serve::run(config, args).await,
                    Err(e) => Err(e.to_string()),
                }
            }
            Command::Admin(args) => {
                let overrides = Overrides {
                    data_dir: cli.data_dir,
                    database_url: cli.database_url,
                    ..Overrides::default()
                };
                match Config::load(cli.config.as_deref(), &overrides) {
                    Ok(config) => admin::run(config, args).await,
                    Err(e) => Err(e.to_string()),
                }
            }
            Command::Errors(_) => Ok(()),
        };
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(message) => {
                eprintln!("error: {message}");
                ExitCode::FAILURE
            }
        }
    })
}
