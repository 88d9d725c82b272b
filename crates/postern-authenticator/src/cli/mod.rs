//! The `postern-authenticator` command: argument parsing, help that teaches, and dispatch to
//! one function per command. Each command is a thin edge: it gets the passphrase, opens the
//! vault, calls the library and prints the outcome in words (or JSON where asked).

mod accounts;
mod context;
mod push;
mod status;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use context::Context;
pub use context::Failure;

const LONG_ABOUT: &str = "\
The Postern Authenticator: approves Postern sign-ins by push with number matching, and shows
6-digit codes (TOTP) for Postern and for any other account.

Everything is kept in one encrypted vault file (Argon2id + ChaCha20-Poly1305, mode 0600). The
passphrase is asked on the terminal, or read from POSTERN_AUTHENTICATOR_PASSPHRASE or from
--passphrase-file for scripts.

A push is only a wake-up call: requests live on the server, so `pending` (or `listen`, which
fetches them on every reconnect) finds a request even if its notification was lost.";

const EXAMPLES: &str = "\
Examples:
  # Register this device: paste the link shown under the QR code in Security info
  postern-authenticator add 'https://id.example.org/authenticator/activate?code=K7Q2-…' --name 'Ada laptop'

  # Add any other TOTP account (GitHub, a VPN, …) from its otpauth:// link
  postern-authenticator add-totp 'otpauth://totp/GitHub:ada?secret=JBSWY3DPEHPK3PXPJBSWY3DP&issuer=GitHub'

  # Current codes, and how long each stays valid
  postern-authenticator codes

  # Wait for sign-in requests (reconnects by itself; Ctrl-C to stop)
  postern-authenticator listen

  # Or fetch what is waiting now, then answer with the number your browser shows
  postern-authenticator pending
  postern-authenticator approve 3f2c9a --number 42
  postern-authenticator deny 3f2c9a --report      # 'I didn't try to sign in'

  # Why don't requests arrive? Checks the server, the registration and the clock
  postern-authenticator doctor

  # Backup and restore
  postern-authenticator export ~/postern-backup.vault
  postern-authenticator import ~/postern-backup.vault

  # Scripts: no prompt
  POSTERN_AUTHENTICATOR_PASSPHRASE=… postern-authenticator pending --json

Exit status: 0 when the command did what it says, 1 when it failed (or, for approve/deny, the
request was not approved/denied as asked; for doctor, something is broken), 2 for bad usage.";

#[derive(Debug, Parser)]
#[command(
    name = "postern-authenticator",
    version,
    about = "Approve Postern sign-ins and show 6-digit codes for any account",
    long_about = LONG_ABOUT,
    after_long_help = EXAMPLES
)]
pub struct Cli {
    /// The vault file [default: $XDG_DATA_HOME/postern-authenticator/vault.json, else
    /// ~/.local/share/postern-authenticator/vault.json]
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        env = "POSTERN_AUTHENTICATOR_VAULT"
    )]
    pub vault: Option<PathBuf>,

    /// Read the vault's passphrase from the first line of FILE (else
    /// $POSTERN_AUTHENTICATOR_PASSPHRASE, else a prompt)
    #[arg(long, global = true, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Register this device with a Postern server from an activation link
    #[command(
        long_about = "Register this device with a Postern server from an activation link.\n\n\
            In Security info choose \"Add the Postern Authenticator\": the page shows a QR code and \
            the same link as text. Links work once and for 10 minutes. This makes a new device \
            key (its private half never leaves the vault), registers it, and also stores the \
            account's 6-digit code seed, so `codes` works offline.",
        after_long_help = "Example:\n  postern-authenticator add \
            'https://id.example.org/authenticator/activate?code=K7Q2-9XJD' --name 'Ada laptop'"
    )]
    Add {
        /// The activation link ({issuer}/authenticator/activate?code=…)
        url: String,
        /// How this device is named to you and the helpdesk [default: the host name]
        #[arg(long, value_name = "DEVICE_NAME")]
        name: Option<String>,
    },

    /// Add a TOTP account (any issuer) from its otpauth://totp/… link
    #[command(
        name = "add-totp",
        long_about = "Add a TOTP account from its otpauth://totp/… link (the text inside the \
            QR code a site shows when you set up an authenticator app). SHA1, SHA256 and SHA512, \
            6 to 8 digits and any period are supported.",
        after_long_help = "Example:\n  postern-authenticator add-totp \
            'otpauth://totp/GitHub:ada?secret=JBSWY3DPEHPK3PXPJBSWY3DP&issuer=GitHub'"
    )]
    AddTotp {
        /// otpauth://totp/LABEL?secret=…
        uri: String,
        /// Name it in the vault [default: ISSUER:ACCOUNT from the link]
        #[arg(long)]
        name: Option<String>,
    },

    /// List the accounts in the vault
    List {
        /// One JSON array on stdout
        #[arg(long)]
        json: bool,
    },

    /// Remove an account (by its name or its number in `list`)
    #[command(
        long_about = "Remove an account from the vault (by its name, or its number in `list`). \
            For a push account this forgets the device key here; remove the device in Security \
            info too, so the server stops sending it requests."
    )]
    Remove {
        /// Name or number from `list`
        account: String,
    },

    /// Show each account's current code and the seconds it stays valid
    Codes {
        /// One JSON array on stdout
        #[arg(long)]
        json: bool,
    },

    /// Fetch the sign-in requests waiting now (pull to refresh)
    #[command(
        long_about = "Fetch the sign-in requests waiting now from every push account. Use it \
            when a notification did not come: requests live on the server until they are \
            answered or expire. The number to type is never shown here: only the browser shows \
            it.",
        after_long_help = "Examples:\n  postern-authenticator pending\n  \
            postern-authenticator pending --json    # [{\"account\",\"id\",\"app\",\"ip\",\
            \"username\",\"created\",\"expires\"}]"
    )]
    Pending {
        /// One JSON array on stdout: account, id, app, ip, username, created, expires
        #[arg(long)]
        json: bool,
        /// Only this account (name or number from `list`)
        #[arg(long)]
        account: Option<String>,
    },

    /// Approve a sign-in request with the number your browser shows
    #[command(after_long_help = "Example:\n  postern-authenticator approve 3f2c9a --number 42")]
    Approve {
        /// The request's id (from `pending` or `listen`)
        id: String,
        /// The number the sign-in page shows
        #[arg(long)]
        number: u32,
        /// The account the request is for [default: found by asking each server]
        #[arg(long)]
        account: Option<String>,
    },

    /// Deny a sign-in request
    #[command(after_long_help = "Examples:\n  postern-authenticator deny 3f2c9a\n  \
            postern-authenticator deny 3f2c9a --report   # it was not you")]
    Deny {
        /// The request's id (from `pending` or `listen`)
        id: String,
        /// "I didn't try to sign in": blocks push for the account and alerts the admins
        #[arg(long)]
        report: bool,
        /// The account the request is for [default: found by asking each server]
        #[arg(long)]
        account: Option<String>,
    },

    /// Stay connected and print each sign-in request as it arrives
    #[command(
        long_about = "Stay connected to every push account's server and print each sign-in \
            request as it arrives, with the command to answer it. Reconnects by itself with \
            growing waits (up to 30 s), and after every reconnect fetches what is pending, so a \
            request sent while offline is not lost. Ctrl-C stops."
    )]
    Listen {
        /// Only these accounts (name or number from `list`; repeatable)
        #[arg(long)]
        account: Vec<String>,
    },

    /// A terminal dashboard: codes, pending requests, approve and deny
    #[command(
        long_about = "A terminal dashboard: every account's code with its countdown, and the \
            pending sign-in requests.\n\nKeys: ↑/↓ choose a request, type its number and press \
            Enter to approve, d deny, x deny and report (it was not you), r refresh, q quit."
    )]
    Tui,

    /// Check what would stop push from working
    #[command(
        long_about = "Check, for each push account: can its server be reached, is this device \
            still registered, is this computer's clock close enough to the server's (signatures \
            fail past 60 s; a warning past 30 s), and when it last connected. Exits 1 when \
            something is broken."
    )]
    Doctor {
        /// One JSON array on stdout
        #[arg(long)]
        json: bool,
    },

    /// Write an encrypted backup of the whole vault
    #[command(
        long_about = "Write an encrypted backup of the whole vault (same format as the vault). \
            It is encrypted with the vault's passphrase unless --export-passphrase-file or \
            POSTERN_AUTHENTICATOR_EXPORT_PASSPHRASE gives another. A backup holds device keys: \
            restoring it elsewhere makes that machine answer as this device."
    )]
    Export {
        /// Where to write it (refused if it exists, unless --force)
        file: PathBuf,
        /// The backup's passphrase, from the first line of this file
        #[arg(long, value_name = "FILE")]
        export_passphrase_file: Option<PathBuf>,
        /// Replace FILE if it exists
        #[arg(long)]
        force: bool,
    },

    /// Add the accounts of a backup to the vault
    #[command(
        long_about = "Add the accounts of a backup (from `export`) to this vault. Accounts \
            already here are skipped. The backup's passphrase comes from \
            --import-passphrase-file or POSTERN_AUTHENTICATOR_IMPORT_PASSPHRASE; otherwise the \
            vault's passphrase is tried, then you are asked."
    )]
    Import {
        /// The backup file
        file: PathBuf,
        /// The backup's passphrase, from the first line of this file
        #[arg(long, value_name = "FILE")]
        import_passphrase_file: Option<PathBuf>,
    },
}

/// Runs the command line; what `main` calls.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            if !failure.message.is_empty() {
                eprintln!("error: {}", failure.message);
            }
            ExitCode::from(failure.code)
        }
    }
}

/// Runs one parsed command.
pub async fn run(cli: Cli) -> Result<(), Failure> {
    let mut ctx = Context::new(cli.vault, cli.passphrase_file)?;
    match cli.command {
        Command::Add { url, name } => accounts::add(&mut ctx, &url, name).await,
        Command::AddTotp { uri, name } => accounts::add_totp(&mut ctx, &uri, name),
        Command::List { json } => accounts::list(&mut ctx, json),
        Command::Remove { account } => accounts::remove(&mut ctx, &account),
        Command::Codes { json } => accounts::codes(&mut ctx, json),
        Command::Pending { json, account } => push::pending(&mut ctx, json, account).await,
        Command::Approve {
            id,
            number,
            account,
        } => push::answer(&mut ctx, &id, push::Answer::Approve(number), account).await,
        Command::Deny {
            id,
            report,
            account,
        } => push::answer(&mut ctx, &id, push::Answer::Deny { report }, account).await,
        Command::Listen { account } => push::listen(&mut ctx, account).await,
        Command::Tui => status::tui(&mut ctx).await,
        Command::Doctor { json } => status::doctor(&mut ctx, json).await,
        Command::Export {
            file,
            export_passphrase_file,
            force,
        } => accounts::export(&mut ctx, &file, export_passphrase_file, force),
        Command::Import {
            file,
            import_passphrase_file,
        } => accounts::import(&mut ctx, &file, import_passphrase_file),
    }
}
