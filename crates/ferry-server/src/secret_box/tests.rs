//! Secrets decrypt only under their key, project and name.

use super::*;

fn open(secret_box: &SecretBox, project_id: i64, name: &str, sealed: &Sealed) -> Option<Vec<u8>> {
    secret_box.open(project_id, name, &sealed.ciphertext, &sealed.nonce)
}

#[test]
fn a_sealed_secret_opens_only_for_its_project_and_name() {
    let dir = tempfile::tempdir().expect("temp dir");
    let secret_box = SecretBox::load_or_create(&dir.path().join("secret.key")).expect("key");
    let sealed = secret_box.seal(7, "TOKEN", b"s3cret");
    assert_ne!(sealed.ciphertext, b"s3cret");
    assert_eq!(open(&secret_box, 7, "TOKEN", &sealed).as_deref(), Some(&b"s3cret"[..]));
    assert_eq!(open(&secret_box, 8, "TOKEN", &sealed), None);
    assert_eq!(open(&secret_box, 7, "OTHER", &sealed), None);
}

#[test]
fn the_key_is_created_once_owner_only_and_reused() {
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("secret.key");
    let first = SecretBox::load_or_create(&path).expect("key");
    let mode = std::fs::metadata(&path).expect("key file").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let sealed = first.seal(1, "A", b"v");
    let second = SecretBox::load_or_create(&path).expect("key again");
    assert_eq!(open(&second, 1, "A", &sealed).as_deref(), Some(&b"v"[..]));
}

#[test]
fn a_key_file_of_the_wrong_length_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("secret.key");
    std::fs::write(&path, b"short").expect("write");
    assert!(matches!(SecretBox::load_or_create(&path), Err(ServerError::BadKey { .. })));
}

#[test]
fn a_sealed_webhook_secret_opens_only_for_its_project_and_plaintext_rows_still_read() {
    let dir = tempfile::tempdir().expect("temp dir");
    let secret_box = SecretBox::load_or_create(&dir.path().join("secret.key")).expect("key");
    let stored = secret_box.seal_webhook_secret(7, "hook-s3cret");
    assert!(stored.starts_with("sealed1:") && !stored.contains("hook-s3cret"), "{stored}");
    assert!(is_sealed_webhook_secret(&stored));
    assert_eq!(secret_box.open_webhook_secret(7, &stored).as_deref(), Some(&b"hook-s3cret"[..]));
    assert_eq!(secret_box.open_webhook_secret(8, &stored), None);
    assert_eq!(secret_box.open_webhook_secret(7, "sealed1:00"), None);
    // A row written before webhook secrets were sealed.
    assert!(!is_sealed_webhook_secret("hook-s3cret"));
    assert_eq!(secret_box.open_webhook_secret(7, "hook-s3cret").as_deref(), Some(&b"hook-s3cret"[..]));
    assert_eq!(secret_box.seal_webhook_secret(7, ""), "");
    assert!(is_sealed_webhook_secret(""));
}
