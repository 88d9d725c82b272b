//! How vault bytes reach the disk: private (0600) files, written atomically (a temporary file in
//! the same directory, fsync, rename over the old file, fsync the directory), and a lock file
//! so two commands never interleave a read-modify-write. Knows nothing of the contents.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::VaultError;

fn io_error(path: &Path, source: io::Error) -> VaultError {
    VaultError::Io {
        path: path.to_owned(),
        source,
    }
}

fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Creates the vault's directory (0700) when it does not exist yet.
pub(super) fn ensure_parent(path: &Path) -> Result<(), VaultError> {
    let dir = parent_of(path);
    if !dir.exists() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| io_error(dir, e))?;
    }
    Ok(())
}

/// Reads a whole file; `Ok(None)` when there is none.
pub(super) fn read(path: &Path) -> Result<Option<Vec<u8>>, VaultError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error(path, e)),
    }
}

/// A finished temporary file next to its destination, not yet renamed over it.
pub(super) struct StagedFile {
    temp: PathBuf,
    dest: PathBuf,
}

/// First half of an atomic write: the bytes are on disk (fsynced) in a temporary file in the
/// destination's directory, created 0600 and exclusively. The destination is untouched.
pub(super) fn stage(dest: &Path, bytes: &[u8]) -> Result<StagedFile, VaultError> {
    let dir = parent_of(dest);
    let file_name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "vault".into());
    let mut suffix = [0u8; 6];
    aws_lc_rs::rand::fill(&mut suffix)
        .map_err(|_| VaultError::Crypto("the system's random source failed".into()))?;
    let temp = dir.join(format!(
        ".{file_name}.tmp-{}-{}",
        std::process::id(),
        data_encoding::HEXLOWER.encode(&suffix)
    ));
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&temp);
        return Err(io_error(&temp, e));
    }
    Ok(StagedFile {
        temp,
        dest: dest.to_owned(),
    })
}

impl StagedFile {
    /// Second half: rename over the destination (atomic on POSIX) and fsync the directory so
    /// the rename itself survives a crash.
    pub(super) fn commit(self) -> Result<(), VaultError> {
        if let Err(e) = fs::rename(&self.temp, &self.dest) {
            let _ = fs::remove_file(&self.temp);
            return Err(io_error(&self.dest, e));
        }
        let dir = parent_of(&self.dest);
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io_error(dir, e))
    }

    #[cfg(test)]
    pub(super) fn temp_path(&self) -> &Path {
        &self.temp
    }
}

/// Writes `bytes` to `dest` atomically, mode 0600.
pub(super) fn write_atomically(dest: &Path, bytes: &[u8]) -> Result<(), VaultError> {
    ensure_parent(dest)?;
    stage(dest, bytes)?.commit()
}

/// An exclusive lock on `<vault>.lock`, held while a command reads, changes and writes the vault.
pub(super) struct VaultLock {
    file: File,
}

impl VaultLock {
    pub(super) fn acquire(vault: &Path) -> Result<Self, VaultError> {
        ensure_parent(vault)?;
        let mut name = vault.as_os_str().to_owned();
        name.push(".lock");
        let path = PathBuf::from(name);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(|e| io_error(&path, e))?;
        file.lock().map_err(|e| io_error(&path, e))?;
        Ok(Self { file })
    }
}

impl Drop for VaultLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

/// The permission bits of a file (for `doctor` and the tests).
pub fn file_mode(path: &Path) -> io::Result<u32> {
    Ok(fs::metadata(path)?.permissions().mode() & 0o777)
}
