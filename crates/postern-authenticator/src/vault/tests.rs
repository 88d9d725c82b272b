use super::*;
use crate::account::Account;
use crate::totp::{Totp, TotpAlgorithm};

const FAST: KdfParams = KdfParams::INSECURE_FOR_TESTS;

fn account(name: &str) -> Account {
    let totp = Totp::new(
        b"12345678901234567890",
        TotpAlgorithm::Sha1,
        6,
        30,
        "Test",
        name,
    )
    .unwrap();
    Account::from_totp(totp, 1)
}

fn pass(text: &str) -> Passphrase {
    Passphrase::new(text)
}

fn names(data: &VaultData) -> Vec<String> {
    data.accounts.iter().map(|a| a.name.clone()).collect()
}

#[test]
fn round_trip_and_private_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/vault.json");
    let mut vault = Vault::create_with_kdf(&path, pass("pw"), FAST).unwrap();
    vault.data.add(account("ada"));
    vault.save().unwrap();
    assert_eq!(file_mode(&path).unwrap(), 0o600);
    assert_eq!(file_mode(path.parent().unwrap()).unwrap(), 0o700);

    let again = Vault::open(&path, pass("pw")).unwrap();
    assert_eq!(again.data, vault.data);
    assert_eq!(again.kdf(), FAST);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("ada") && !text.contains("GEZDGNBV"));
}

#[test]
fn default_cost_is_argon2id_64_mib() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vault.json");
    Vault::create(&path, pass("pw")).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("\"memory_kib\": 65536"), "{text}");
    assert_eq!(
        Vault::open(&path, pass("pw")).unwrap().kdf(),
        KdfParams::default()
    );
}

#[test]
fn wrong_passphrase_is_clear_and_leaves_the_file_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vault.json");
    let mut vault = Vault::create_with_kdf(&path, pass("right"), FAST).unwrap();
    vault.data.add(account("ada"));
    vault.save().unwrap();
    let before = std::fs::read(&path).unwrap();

    let err = Vault::open(&path, pass("wrong")).unwrap_err();
    assert!(matches!(err, VaultError::WrongPassphrase));
    assert!(err.to_string().contains("wrong passphrase"));
    let err = Vault::modify(&path, &pass("wrong"), None, |data| {
        data.add(account("mallory"));
        Ok::<_, VaultError>(())
    })
    .unwrap_err();
    assert!(matches!(err, VaultError::WrongPassphrase));
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn a_crash_before_the_rename_leaves_the_old_vault_readable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vault.json");
    let mut vault = Vault::create_with_kdf(&path, pass("pw"), FAST).unwrap();
    vault.data.add(account("old"));
    vault.save().unwrap();
    let before = std::fs::read(&path).unwrap();

    // The first half of a save of new contents, then the "crash": no rename.
    let mut newer = vault.data.clone();
    newer.add(account("new"));
    let sealed = envelope::seal(&encode_data(&newer).unwrap(), &pass("pw"), FAST).unwrap();
    let staged = storage::stage(&path, &sealed[..sealed.len() / 2]).unwrap();
    assert!(staged.temp_path().exists());
    assert_eq!(file_mode(staged.temp_path()).unwrap(), 0o600);
    drop(staged);

    assert_eq!(std::fs::read(&path).unwrap(), before);
    let reopened = Vault::open(&path, pass("pw")).unwrap();
    assert_eq!(names(&reopened.data), ["Test:old"]);
    // The leftover temporary file does not stop later saves.
    Vault::modify(&path, &pass("pw"), None, |data| {
        data.add(account("later"));
        Ok::<_, VaultError>(())
    })
    .unwrap();
    assert_eq!(
        names(&Vault::open(&path, pass("pw")).unwrap().data),
        ["Test:old", "Test:later"]
    );
}

#[test]
fn a_stale_handle_does_not_overwrite_newer_changes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vault.json");
    Vault::create_with_kdf(&path, pass("pw"), FAST).unwrap();
    let mut stale = Vault::open(&path, pass("pw")).unwrap();
    Vault::modify(&path, &pass("pw"), None, |data| {
        data.add(account("added elsewhere"));
        Ok::<_, VaultError>(())
    })
    .unwrap();
    stale.data.add(account("stale"));
    assert!(matches!(stale.save(), Err(VaultError::ChangedOnDisk)));
    assert_eq!(
        names(&Vault::open(&path, pass("pw")).unwrap().data),
        ["Test:added elsewhere"]
    );
}

#[test]
fn concurrent_modifications_are_all_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vault.json");
    Vault::create_with_kdf(&path, pass("pw"), FAST).unwrap();
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let path = path.clone();
            std::thread::spawn(move || {
                Vault::modify(&path, &pass("pw"), None, |data| {
                    data.add(account(&format!("t{i}")));
                    Ok::<_, VaultError>(())
                })
                .unwrap();
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(
        Vault::open(&path, pass("pw")).unwrap().data.accounts.len(),
        4
    );
}

#[test]
fn a_failing_change_writes_nothing_and_missing_vaults_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vault.json");
    let err = Vault::open(&path, pass("pw")).unwrap_err();
    assert!(err.to_string().contains("no vault at"), "{err}");
    let result: Result<(), VaultError> = Vault::modify(&path, &pass("pw"), Some(FAST), |_| {
        Err(VaultError::Contents("refused".into()))
    });
    assert!(result.is_err());
    assert!(!path.exists());
    assert!(matches!(
        Vault::create_with_kdf(&path, pass("pw"), FAST).and_then(|_| Vault::create_with_kdf(
            &path,
            pass("pw"),
            FAST
        )),
        Err(VaultError::AlreadyExists(_))
    ));
}

#[test]
fn export_and_import_with_its_own_passphrase() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vault.json");
    let backup = dir.path().join("backup.vault");
    let mut vault = Vault::create_with_kdf(&path, pass("pw"), FAST).unwrap();
    vault.data.add(account("ada"));
    vault.save().unwrap();
    vault.export_to(&backup, &pass("backup pw"), false).unwrap();
    assert_eq!(file_mode(&backup).unwrap(), 0o600);
    assert!(matches!(
        vault.export_to(&backup, &pass("backup pw"), false),
        Err(VaultError::AlreadyExists(_))
    ));
    assert!(matches!(
        Vault::read_export(&backup, &pass("pw")),
        Err(VaultError::WrongPassphrase)
    ));
    let exported = Vault::read_export(&backup, &pass("backup pw")).unwrap();
    assert_eq!(exported, vault.data);

    // Import into a fresh vault on "another machine".
    let other = dir.path().join("other.json");
    let mut target = Vault::create_with_kdf(&other, pass("other pw"), FAST).unwrap();
    target.data.add(account("bob"));
    let (added, skipped) = target.data.merge(exported.clone());
    assert_eq!((added.len(), skipped.len()), (1, 0));
    let (added, skipped) = target.data.merge(exported);
    assert_eq!((added.len(), skipped.len()), (0, 1));
    target.save().unwrap();
    assert_eq!(
        names(&Vault::open(&other, pass("other pw")).unwrap().data),
        ["Test:bob", "Test:ada"]
    );
}
