//! HTTPS without a reverse proxy (`tls.*`): loads the PEM certificate chain and private key, picks
//! the certificate for each handshake — re-reading the files when they change, at most every
//! `tls.reload_seconds` on the server's clock, so a renewed certificate needs no restart — and runs
//! the handshake of each accepted connection. It knows nothing of HTTP: `app::serve` hands it TCP
//! streams and serves what comes back. It never logs key material, only file names.
//!
//! rustls with the aws-lc-rs provider, passed in (no process-wide default); ALPN `http/1.1` only.

use crate::config::TlsConfig;
use postern_core::clock::Clock;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use time::OffsetDateTime;
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

/// How long a client may take over the handshake before its connection is dropped.
pub const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The certificate or key cannot be used; the message names the setting and the file.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TlsError(pub String);

/// Accepts TLS on TCP streams with the configured certificate.
#[derive(Clone)]
pub struct Acceptor {
    inner: tokio_rustls::TlsAcceptor,
}

impl Acceptor {
    /// The acceptor for `tls.*`, or `None` when TLS is not configured. Reads and checks the files
    /// now, so a wrong path or a key that does not match the certificate stops the start.
    pub fn from_config(tls: &TlsConfig, clock: Arc<dyn Clock>) -> Result<Option<Self>, TlsError> {
        let (cert, key) = match (&tls.cert_file, &tls.key_file) {
            (None, None) => return Ok(None),
            (Some(cert), Some(key)) => (cert.clone(), key.clone()),
            _ => {
                return Err(TlsError(
                    "tls.cert_file and tls.key_file go together: set both, or neither".into(),
                ));
            }
        };
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let reload = time::Duration::seconds(i64::try_from(tls.reload_seconds).unwrap_or(i64::MAX));
        let resolver =
            CertificateResolver::new(KeyFiles { cert, key }, provider.clone(), reload, clock)?;
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError(format!("tls: {e}")))?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(resolver));
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Some(Self {
            inner: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        }))
    }

    /// Runs the handshake of an accepted connection. `None` (logged at debug level) when it fails
    /// or takes longer than [`HANDSHAKE_TIMEOUT`]; the caller drops the connection.
    pub async fn handshake(
        &self,
        stream: TcpStream,
        peer: SocketAddr,
    ) -> Option<TlsStream<TcpStream>> {
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, self.inner.accept(stream)).await {
            Ok(Ok(stream)) => Some(stream),
            Ok(Err(e)) => {
                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                None
            }
            Err(_) => {
                tracing::debug!(%peer, "TLS handshake timed out");
                None
            }
        }
    }
}

/// The two files of `tls.*`.
#[derive(Debug)]
struct KeyFiles {
    cert: PathBuf,
    key: PathBuf,
}

/// What says a file changed without reading it: a replaced file (certbot's renewal points a
/// symbolic link at a new file) has another inode, a rewritten one another time or length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    device: u64,
    inode: u64,
    len: u64,
    modified: Option<std::time::SystemTime>,
}

impl Stamp {
    fn of(path: &Path, setting: &str) -> Result<Stamp, TlsError> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path)
            .map_err(|e| TlsError(format!("{setting}: cannot read '{}': {e}", path.display())))?;
        Ok(Stamp {
            device: meta.dev(),
            inode: meta.ino(),
            len: meta.len(),
            modified: meta.modified().ok(),
        })
    }
}

impl KeyFiles {
    fn stamps(&self) -> Result<(Stamp, Stamp), TlsError> {
        Ok((
            Stamp::of(&self.cert, "tls.cert_file")?,
            Stamp::of(&self.key, "tls.key_file")?,
        ))
    }

    /// Reads and checks the pair: a certificate chain, a private key the provider can sign with,
    /// and the key belonging to the first certificate.
    fn load(&self, provider: &CryptoProvider) -> Result<CertifiedKey, TlsError> {
        let cert_text = read(&self.cert, "tls.cert_file")?;
        let chain = CertificateDer::pem_slice_iter(&cert_text)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| {
                TlsError(format!(
                    "tls.cert_file: '{}' is not a PEM certificate chain: {e}",
                    self.cert.display()
                ))
            })?;
        if chain.is_empty() {
            return Err(TlsError(format!(
                "tls.cert_file: '{}' holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                self.cert.display()
            )));
        }
        // The key's text is wiped when dropped; parse errors are not shown (they could quote it).
        let key_text = zeroize::Zeroizing::new(read(&self.key, "tls.key_file")?);
        let key = PrivateKeyDer::from_pem_slice(&key_text).map_err(|_| {
            TlsError(format!(
                "tls.key_file: '{}' holds no PEM private key (PKCS#8, PKCS#1 RSA or SEC1 EC)",
                self.key.display()
            ))
        })?;
        let signing_key = provider.key_provider.load_private_key(key).map_err(|_| {
            TlsError(format!(
                "tls.key_file: '{}' holds a private key of a kind that cannot sign TLS handshakes \
                 (use RSA, ECDSA P-256/P-384 or Ed25519)",
                self.key.display()
            ))
        })?;
        let certified = CertifiedKey::new(chain, signing_key);
        match certified.keys_match() {
            Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {
                Ok(certified)
            }
            Err(rustls::Error::InconsistentKeys(_)) => Err(TlsError(format!(
                "tls.key_file: the key in '{}' does not belong to the certificate in \
                 tls.cert_file '{}'",
                self.key.display(),
                self.cert.display()
            ))),
            Err(e) => Err(TlsError(format!(
                "tls.cert_file: the first certificate in '{}' cannot be used: {e}",
                self.cert.display()
            ))),
        }
    }
}

fn read(path: &Path, setting: &str) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path)
        .map_err(|e| TlsError(format!("{setting}: cannot read '{}': {e}", path.display())))
}

/// Serves the current certificate; at the first handshake after `reload` has passed on the
/// server's clock, looks at the files (a `stat` each) and loads them again when they changed. A
/// changed pair that cannot be used is logged once and the previous certificate stays in use.
struct CertificateResolver {
    files: KeyFiles,
    provider: Arc<CryptoProvider>,
    reload: time::Duration,
    clock: Arc<dyn Clock>,
    current: Mutex<Current>,
}

struct Current {
    key: Arc<CertifiedKey>,
    /// The files as they were when last read (loaded or refused).
    stamps: (Stamp, Stamp),
    checked: OffsetDateTime,
}

impl CertificateResolver {
    fn new(
        files: KeyFiles,
        provider: Arc<CryptoProvider>,
        reload: time::Duration,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, TlsError> {
        // Stamps first: a change while reading shows as a change at the next check.
        let stamps = files.stamps()?;
        let key = Arc::new(files.load(&provider)?);
        let checked = clock.now();
        Ok(Self {
            files,
            provider,
            reload,
            clock,
            current: Mutex::new(Current {
                key,
                stamps,
                checked,
            }),
        })
    }

    fn current_key(&self) -> Arc<CertifiedKey> {
        let now = self.clock.now();
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        // A clock set back also checks (and restarts the interval from there).
        if now - current.checked >= self.reload || now < current.checked {
            current.checked = now;
            self.refresh(&mut current);
        }
        current.key.clone()
    }

    fn refresh(&self, current: &mut Current) {
        let stamps = match self.files.stamps() {
            Ok(stamps) => stamps,
            Err(e) => {
                // Mid-renewal, or removed: retried at the next check.
                tracing::warn!(error = %e, "TLS certificate check failed; the current certificate stays in use");
                return;
            }
        };
        if stamps == current.stamps {
            return;
        }
        current.stamps = stamps;
        match self.files.load(&self.provider) {
            Ok(key) => {
                current.key = Arc::new(key);
                tracing::info!(
                    cert_file = %self.files.cert.display(),
                    "loaded the renewed TLS certificate"
                );
            }
            Err(e) => tracing::warn!(
                error = %e,
                "the changed TLS certificate files cannot be used; the previous certificate stays in use"
            ),
        }
    }
}

impl std::fmt::Debug for CertificateResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateResolver")
            .field("files", &self.files)
            .field("reload", &self.reload)
            .finish_non_exhaustive()
    }
}

impl ResolvesServerCert for CertificateResolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current_key())
    }
}
