//! Every corpus payload, signed as its forge signs it, is accepted by `receive`; changing one
//! byte, using another secret or leaving the signature out is refused.

use ferry_hooks::{Forge, HookError, receive};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::payloads;

const SECRET: &[u8] = b"It's a Secret to Everybody";

fn hex_hmac(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("any key length");
    mac.update(body);
    mac.finalize().into_bytes().iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The headers `forge` sends with `body` signed by `secret`.
fn signed_headers(forge: Forge, event: &str, body: &[u8], secret: &[u8]) -> Vec<(String, String)> {
    let (event_header, signature) = match forge {
        Forge::GitHub => ("X-GitHub-Event", ("X-Hub-Signature-256", format!("sha256={}", hex_hmac(secret, body)))),
        Forge::Gitea => ("X-Gitea-Event", ("X-Gitea-Signature", hex_hmac(secret, body))),
        Forge::Forgejo => ("X-Forgejo-Event", ("X-Forgejo-Signature", hex_hmac(secret, body))),
        Forge::GitLab => ("X-Gitlab-Event", ("X-Gitlab-Token", String::from_utf8_lossy(secret).into_owned())),
    };
    vec![
        ("Content-Type".to_owned(), "application/json".to_owned()),
        (event_header.to_owned(), event.to_owned()),
        (signature.0.to_owned(), signature.1),
    ]
}

#[test]
fn signed_corpus_payloads_are_accepted() {
    for payload in payloads() {
        let headers = signed_headers(payload.forge, &payload.event, &payload.body, SECRET);
        let res = receive(payload.forge, &headers, &payload.body, SECRET);
        assert!(res.is_ok(), "{}: {res:?}", payload.file);
    }
}

#[test]
fn a_changed_byte_is_refused() {
    for payload in payloads().into_iter().filter(|payload| payload.forge != Forge::GitLab) {
        let headers = signed_headers(payload.forge, &payload.event, &payload.body, SECRET);
        let mut body = payload.body.clone();
        let middle = body.len() / 2;
        body[middle] ^= 0x01;
        let res = receive(payload.forge, &headers, &body, SECRET);
        assert!(matches!(res, Err(HookError::BadSignature { .. })), "{}: {res:?}", payload.file);
    }
}

#[test]
fn another_secret_is_refused() {
    for payload in payloads() {
        let headers = signed_headers(payload.forge, &payload.event, &payload.body, b"not the secret");
        let res = receive(payload.forge, &headers, &payload.body, SECRET);
        assert!(matches!(res, Err(HookError::BadSignature { .. })), "{}: {res:?}", payload.file);
        assert_eq!(res.expect_err("refused").status(), 401);
    }
}

#[test]
fn a_missing_signature_is_refused() {
    for payload in payloads() {
        let mut headers = signed_headers(payload.forge, &payload.event, &payload.body, SECRET);
        headers.pop();
        let res = receive(payload.forge, &headers, &payload.body, SECRET);
        assert!(matches!(res, Err(HookError::MissingSignature { .. })), "{}: {res:?}", payload.file);
    }
}

#[test]
fn header_names_are_matched_in_any_case() {
    for payload in payloads() {
        let headers: Vec<(String, String)> = signed_headers(payload.forge, &payload.event, &payload.body, SECRET)
            .into_iter()
            .map(|(name, value)| (name.to_ascii_lowercase(), value))
            .collect();
        assert!(receive(payload.forge, &headers, &payload.body, SECRET).is_ok(), "{}", payload.file);
    }
}
