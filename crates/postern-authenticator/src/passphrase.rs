//! Where a passphrase comes from: a file (`--passphrase-file`), an environment variable
//! (`POSTERN_AUTHENTICATOR_PASSPHRASE`), or a prompt on the terminal with echo turned off.
//!
//! Owns reading and the no-echo prompt only; what the passphrase opens is the vault's business.

use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;

use rustix::termios::{self, LocalModes, OptionalActions};

use crate::vault::Passphrase;

/// The vault's passphrase, for scripts.
pub const ENV_PASSPHRASE: &str = "POSTERN_AUTHENTICATOR_PASSPHRASE";

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PassphraseError(String);

/// Reads a passphrase file: its first line, without the line ending.
pub fn from_file(path: &Path) -> Result<Passphrase, PassphraseError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| PassphraseError(format!("cannot read {}: {e}", path.display())))?;
    let line = text.lines().next().unwrap_or("");
    let passphrase = Passphrase::new(line);
    drop(zeroize::Zeroizing::new(text));
    Ok(passphrase)
}

/// A passphrase from an environment variable, if set and not empty.
pub fn from_env(variable: &str) -> Option<Passphrase> {
    std::env::var(variable)
        .ok()
        .filter(|v| !v.is_empty())
        .map(Passphrase::new)
}

/// Asks on the terminal (`/dev/tty`, so it works with stdin redirected) without echo.
/// Errors when there is no terminal, naming the other ways to give it.
pub fn prompt(question: &str) -> Result<Passphrase, PassphraseError> {
    let no_tty = |e: std::io::Error| {
        PassphraseError(format!(
            "a passphrase is needed and there is no terminal to ask on ({e}); set \
             {ENV_PASSPHRASE} or pass --passphrase-file FILE"
        ))
    };
    let mut tty = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(no_tty)?;
    let original = termios::tcgetattr(&tty).map_err(|e| no_tty(e.into()))?;
    let mut silent = original.clone();
    silent.local_modes.remove(LocalModes::ECHO);
    silent.local_modes.insert(LocalModes::ECHONL);
    termios::tcsetattr(&tty, OptionalActions::Flush, &silent).map_err(|e| no_tty(e.into()))?;

    let result = (|| {
        write!(tty, "{question}")?;
        tty.flush()?;
        let mut line = zeroize::Zeroizing::new(String::new());
        BufReader::new(&tty).read_line(&mut line)?;
        Ok::<_, std::io::Error>(Passphrase::new(line.trim_end_matches(['\r', '\n'])))
    })();
    // Echo comes back whatever happened.
    let _ = termios::tcsetattr(&tty, OptionalActions::Flush, &original);
    result.map_err(|e| PassphraseError(format!("reading the passphrase: {e}")))
}

/// Asks twice for a new passphrase; refuses an empty one or a mismatch.
pub fn prompt_new(what: &str) -> Result<Passphrase, PassphraseError> {
    let first = prompt(&format!("New passphrase for {what}: "))?;
    if first.expose().is_empty() {
        return Err(PassphraseError(
            "an empty passphrase protects nothing; nothing was written".into(),
        ));
    }
    let second = prompt("Repeat it: ")?;
    if first.expose() != second.expose() {
        return Err(PassphraseError(
            "the two passphrases differ; nothing was written".into(),
        ));
    }
    Ok(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_gives_its_first_line_without_the_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pass");
        std::fs::write(&path, "correct horse battery\r\nsecond line\n").unwrap();
        assert_eq!(from_file(&path).unwrap().expose(), "correct horse battery");
        assert!(from_file(&dir.path().join("missing")).is_err());
    }
}
