//! Randomness as a parameter: domain code asks a [`Random`] for bytes.

/// A source of cryptographically secure random bytes.
pub trait Random: Send + Sync + 'static {
    fn fill(&self, buf: &mut [u8]);
}

/// The operating system's CSPRNG.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsRandom;

impl Random for OsRandom {
    fn fill(&self, buf: &mut [u8]) {
        // The OS generator failing is unrecoverable: continuing would mint guessable secrets.
        #[allow(clippy::expect_used)]
        getrandom::fill(buf).expect("the operating system's random generator failed");
    }
}

/// `n` random bytes.
pub fn bytes(rng: &dyn Random, n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    rng.fill(&mut buf);
    buf
}

/// A URL-safe token of `n` random bytes (base64url, no padding).
pub fn token(rng: &dyn Random, n: usize) -> String {
    data_encoding::BASE64URL_NOPAD.encode(&bytes(rng, n))
}

/// A random (version 4) UUID, as Postern's stable identifiers are.
pub fn uuid(rng: &dyn Random) -> String {
    let mut b = [0u8; 16];
    rng.fill(&mut b);
    uuid::Builder::from_random_bytes(b).into_uuid().to_string()
}
