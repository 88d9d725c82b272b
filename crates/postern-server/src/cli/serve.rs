//! `postern serve [--demo]`.

use crate::config::Config;
use clap::Args;
use postern_core::clock::SystemClock;
use std::net::SocketAddr;
use std::sync::Arc;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Public base URL of this server [default: http:// + the listen address].
    #[arg(long, value_name = "URL")]
    pub issuer: Option<String>,
    /// Seed a demo organisation, student and learning-hub app, and run the demo hub on demo.listen.
    #[arg(long)]
    pub demo: bool,
}

pub async fn run(mut config: Config, args: ServeArgs) -> Result<(), String> {
    init_tracing(&config);
    // The demo on this machine is reached as `localhost`: a secure context to browsers, so
    // passkeys (whose RP id must be a name, not an address) and the web authenticator work.
    if args.demo
        && config.issuer.is_none()
        && !config.tls.enabled()
        && config.listen.ip().is_loopback()
        && config.listen.port() != 0
    {
        config.issuer = Some(format!("http://localhost:{}", config.listen.port()));
    }
    let demo_listen = config.demo.listen;
    let server = crate::app::start(config, Arc::new(SystemClock))
        .await
        .map_err(|e| e.to_string())?;
    let scheme = if server.state.config.tls.enabled() {
        "https"
    } else {
        "http"
    };
    tracing::info!(issuer = %server.issuer, "Postern is listening on {scheme}://{}", server.addr);
    println!("Postern is running at {}", server.issuer);
    if let Some(why) = server.state.passkeys.unavailable() {
        tracing::warn!("{why}");
        println!("  Note: {why}.");
    }
    let demo = if args.demo {
        let hub = crate::demo::start(&server.issuer, demo_listen).await?;
        let seeded = crate::demo::seed(&server.state, &hub.url).await?;
        println!();
        println!("Demo learning hub: {}", hub.url);
        println!("  Open it, choose \"Sign in with Postern\", and sign in as:");
        println!("    username: {}", seeded.username);
        println!("    password: {}", seeded.password);
        if server.state.config.policy.mfa == postern_core::policy::MfaPolicy::Required {
            println!("  The first sign-in asks the student to set up a second step:");
        } else {
            println!(
                "  Then add a second step on {}/account/security:",
                server.issuer
            );
        }
        println!(
            "  - the Postern Authenticator web app: choose \"Use the Postern Authenticator\" (or"
        );
        println!(
            "    \"Add the Postern Authenticator\" on Security info) and open the link with \"Use this"
        );
        println!(
            "    device\" in a second tab; approve the sign-in there by typing the number shown."
        );
        match crate::routes::web_authenticator::unavailable_reason(&server.issuer) {
            None => println!(
                "    From a phone: run Postern over https with a certificate the phone trusts (tls.*)."
            ),
            Some(why) => println!("    {why}"),
        }
        println!("  - or any authenticator app (TOTP), or `oathtool --totp -b SECRET`.");
        println!("  (The demo student and the 'learning-hub' app are seeded only with --demo.)");
        Some(hub)
    } else {
        None
    };
    println!("Stop with Ctrl+C.");
    shutdown_signal().await;
    println!("Shutting down…");
    if let Some(hub) = demo {
        hub.stop();
    }
    server.stop().await;
    Ok(())
}

fn init_tracing(config: &Config) {
    // `log.level` takes a whole filter ("warn,sqlx::query=debug"). There is no separate
    // POSTERN_LOG variable: the settings loader owns every POSTERN_* name (it read POSTERN_LOG as
    // the `log` table and refused to start).
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log.level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if config.log.format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
