//! The real `postern` binary, built next to this one: its admin commands, and `postern serve` in
//! its own process, and its memory. Also this process's own priority.

use std::time::Duration;

/// The real `postern` binary, built next to this one.
fn postern_binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe.with_file_name("postern");
    assert!(
        bin.exists(),
        "build the server first: cargo build --release --bin postern --bin postern-bench"
    );
    bin
}

/// The settings that open the store of a deployment: its data directory and, for PostgreSQL,
/// the database URL (else the SQLite file in the directory).
pub fn store_config(
    dir: &std::path::Path,
    database_url: Option<&str>,
) -> postern_server::config::Config {
    postern_server::config::Config {
        data_dir: dir.to_path_buf(),
        database_url: database_url.map(str::to_owned),
        ..Default::default()
    }
}

/// Runs `postern --data-dir DIR ARGS…` (with `stdin` on its standard input); its JSON output.
pub fn admin(dir: &std::path::Path, args: &[&str], stdin: Option<&str>) -> serde_json::Value {
    admin_on(dir, None, args, stdin)
}

/// [`admin`] on the PostgreSQL database `database_url` when given.
pub fn admin_on(
    dir: &std::path::Path,
    database_url: Option<&str>,
    args: &[&str],
    stdin: Option<&str>,
) -> serde_json::Value {
    use std::io::Write;
    let mut child = std::process::Command::new(postern_binary())
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .envs(database_url.map(|url| ("POSTERN_DATABASE_URL", url)))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "postern {args:?} failed");
    serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
}

/// The server process's resident memory and open file descriptors (its connections among them).
pub struct Memory {
    pub rss_kib: u64,
    pub open_files: usize,
}

/// A running `postern serve`.
pub struct Server {
    child: std::process::Child,
    pub issuer: String,
    /// Its own address (`http://127.0.0.1:PORT`): the issuer's, unless it is another node of the
    /// issuer's deployment.
    pub base: String,
}

impl Server {
    /// Starts `postern serve` on a free loopback port with the harness's settings plus `env`
    /// (`POSTERN_*` variables), and waits until it is ready. Its log level is `warn`, or the
    /// tracing filter in `POSTERN_BENCH_SERVER_LOG` (e.g. `warn,sqlx::query=debug` to see every
    /// statement). If it never becomes ready the harness
    /// panics and the process ends with it.
    pub async fn start(dir: &std::path::Path, env: &[(&str, &str)]) -> Server {
        Self::launch(dir, env, None).await
    }

    /// [`Server::start`] with the issuer `http://localhost:PORT` (`POSTERN_ISSUER`; it still
    /// listens on 127.0.0.1:PORT only): WebAuthn RP ids are domain names, so passkeys are on only
    /// for an issuer whose host is one. The browsers resolve `localhost` to 127.0.0.1
    /// ([`crate::browser::browser`]).
    pub async fn start_localhost(dir: &std::path::Path, env: &[(&str, &str)]) -> Server {
        Self::launch(dir, env, Some("localhost")).await
    }

    /// A node of the deployment whose issuer is `issuer`, on PostgreSQL `database_url` with the
    /// deployment's `master_key` (and a data directory of its own, `dir`): [`Server::start`] with `POSTERN_DATABASE_URL`, and
    /// `POSTERN_ISSUER` when `issuer` is given (the first node's issuer is its own address).
    pub async fn start_node(
        dir: &std::path::Path,
        database_url: &str,
        master_key: &str,
        issuer: Option<&str>,
    ) -> Server {
        let mut env = vec![
            ("POSTERN_DATABASE_URL", database_url),
            ("POSTERN_MASTER_KEY", master_key),
            // As in the other sign-in measurements: the password-only user signs straight in.
            ("POSTERN_POLICY__MFA", "when_registered"),
        ];
        env.extend(issuer.map(|i| ("POSTERN_ISSUER", i)));
        let mut server = Self::launch(dir, &env, None).await;
        if let Some(i) = issuer {
            server.issuer = i.to_owned();
        }
        server
    }

    #[allow(clippy::zombie_processes)]
    async fn launch(dir: &std::path::Path, env: &[(&str, &str)], host: Option<&str>) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let issuer = format!("http://{}:{port}", host.unwrap_or("127.0.0.1"));
        let base = format!("http://127.0.0.1:{port}");
        let named = host.map(|_| ("POSTERN_ISSUER", issuer.as_str()));
        let child = std::process::Command::new(postern_binary())
            .arg("--data-dir")
            .arg(dir)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env("POSTERN_LIMITS__SIGNIN_PER_MINUTE", "1000000000")
            .env("POSTERN_LIMITS__TOKEN_PER_SECOND", "1000000000")
            .env(
                "POSTERN_LOG__LEVEL",
                std::env::var("POSTERN_BENCH_SERVER_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .envs(named)
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        for _ in 0..200 {
            if let Ok(res) = reqwest::get(format!("http://127.0.0.1:{port}/readyz")).await
                && res.status().is_success()
            {
                return Server {
                    child,
                    issuer,
                    base,
                };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("postern did not become ready");
    }

    /// The server's process id (for `perf record -p`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's resident memory (`VmRSS` of `/proc/PID/status`) and open file descriptors.
    pub fn memory(&self) -> Memory {
        let pid = self.pid();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let rss_kib = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_default();
        let open_files = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .map(|d| d.count())
            .unwrap_or_default();
        Memory {
            rss_kib,
            open_files,
        }
    }

    /// Stops the server (SIGTERM) and waits for it (dropped without this, it is killed).
    pub fn stop(mut self) {
        let _ = std::process::Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

/// A harness that panics does not leave its servers running.
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sets the priority of every thread of this process (threads started later inherit it from the
/// thread that starts them). During the sign-in measurements the load generator runs at idle
/// priority (19) on what the server leaves, as remote browsers would; the client-credentials
/// measurement runs it at normal priority, because there the generator's own work per request is
/// as large as the server's and starving it would measure the generator.
///
/// Linux keeps a nice value per thread: `renice -p <process id>` alone changes only the main
/// thread, not the runtime's workers that run the browsers, so each thread is named.
pub fn set_priority(nice: i32) {
    let threads: Vec<String> = std::fs::read_dir("/proc/self/task")
        .map(|dir| {
            dir.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_else(|_| vec![std::process::id().to_string()]);
    let _ = std::process::Command::new("renice")
        .args(["-n", &nice.to_string(), "-p"])
        .args(&threads)
        .stdout(std::process::Stdio::null())
        .status();
}
