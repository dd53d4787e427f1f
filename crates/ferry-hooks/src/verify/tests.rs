//! Signature and token edge cases: case, prefixes, lengths, non-hex digits, the legacy SHA-1
//! header, header fallbacks, and the event header.

use super::*;

const SECRET: &[u8] = b"It's a Secret to Everybody";
const BODY: &[u8] = b"Hello, World!";
/// HMAC-SHA256(SECRET, BODY), from GitHub's documentation on validating webhook deliveries.
const SIGNATURE: &str = "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

fn github(signature: &str) -> Result<(), HookError> {
    verify(Forge::GitHub, &[("X-Hub-Signature-256", signature)][..], BODY, SECRET)
}

fn reason(res: Result<(), HookError>) -> &'static str {
    match res {
        Err(HookError::BadSignature { reason, .. }) => reason,
        other => panic!("expected BadSignature, got {other:?}"),
    }
}

#[test]
fn github_documents_this_signature() {
    assert_eq!(github(&format!("sha256={SIGNATURE}")), Ok(()));
}

#[test]
fn uppercase_hex_and_surrounding_spaces_are_accepted() {
    assert_eq!(github(&format!("sha256={}", SIGNATURE.to_ascii_uppercase())), Ok(()));
    assert_eq!(github(&format!(" sha256={SIGNATURE} ")), Ok(()));
}

#[test]
fn malformed_signatures_say_what_is_wrong() {
    let table: &[(String, &str)] = &[
        (SIGNATURE.to_owned(), "does not start with `sha256=`"),
        (format!("sha1={SIGNATURE}"), "does not start with `sha256=`"),
        (format!("SHA256={SIGNATURE}"), "does not start with `sha256=`"),
        (format!("sha256={}", &SIGNATURE[..62]), "is not 64 hex digits"),
        (format!("sha256={SIGNATURE}00"), "is not 64 hex digits"),
        ("sha256=".to_owned(), "is not 64 hex digits"),
        (format!("sha256={}zz", &SIGNATURE[..62]), "is not 64 hex digits"),
        (format!("sha256={}é", &SIGNATURE[..62]), "is not 64 hex digits"),
        (format!("sha256=+{}", &SIGNATURE[..63]), "is not 64 hex digits"),
    ];
    for (signature, expected) in table {
        assert_eq!(reason(github(signature)), *expected, "{signature:?}");
    }
}

#[test]
fn a_wrong_signature_does_not_match() {
    let mut wrong = SIGNATURE.to_owned();
    wrong.replace_range(..1, "8");
    assert_eq!(reason(github(&format!("sha256={wrong}"))), "does not match the body signed with the project's secret");
    let res = verify(Forge::GitHub, &[("X-Hub-Signature-256", format!("sha256={SIGNATURE}"))][..], b"Hello", SECRET);
    assert!(matches!(res, Err(HookError::BadSignature { .. })));
}

#[test]
fn the_legacy_sha1_header_alone_is_refused_with_a_hint() {
    let headers = [("X-Hub-Signature", "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59")];
    let error = verify(Forge::GitHub, &headers[..], BODY, SECRET).expect_err("SHA-1 is not accepted");
    assert!(matches!(error, HookError::MissingSignature { header: "X-Hub-Signature-256", .. }));
    assert!(error.to_string().contains("SHA-256"), "{error}");
}

#[test]
fn an_empty_secret_accepts_nothing() {
    for forge in Forge::ALL {
        let headers = [
            ("X-Hub-Signature-256", "sha256=b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad"),
            ("X-Gitea-Signature", "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad"),
            ("X-Gitlab-Token", ""),
        ];
        assert_eq!(verify(forge, &headers[..], b"", b""), Err(HookError::NoSecret), "{forge}");
    }
}

#[test]
fn gitea_signs_without_a_prefix() {
    assert_eq!(verify(Forge::Gitea, &[("X-Gitea-Signature", SIGNATURE)][..], BODY, SECRET), Ok(()));
    let prefixed = format!("sha256={SIGNATURE}");
    let res = verify(Forge::Gitea, &[("X-Gitea-Signature", prefixed.as_str())][..], BODY, SECRET);
    assert_eq!(reason(res), "is not 64 hex digits");
    // GitHub's header, which Gitea also sends, is not what Ferry checks for Gitea.
    let res = verify(Forge::Gitea, &[("X-Hub-Signature-256", prefixed.as_str())][..], BODY, SECRET);
    assert!(matches!(res, Err(HookError::MissingSignature { header: "X-Gitea-Signature", .. })));
}

#[test]
fn forgejo_falls_back_to_the_gitea_header_only_when_its_own_is_absent() {
    assert_eq!(verify(Forge::Forgejo, &[("X-Forgejo-Signature", SIGNATURE)][..], BODY, SECRET), Ok(()));
    assert_eq!(verify(Forge::Forgejo, &[("x-gitea-signature", SIGNATURE)][..], BODY, SECRET), Ok(()));
    let wrong = "0".repeat(64);
    let headers = [("X-Forgejo-Signature", wrong.as_str()), ("X-Gitea-Signature", SIGNATURE)];
    let res = verify(Forge::Forgejo, &headers[..], BODY, SECRET);
    assert!(matches!(res, Err(HookError::BadSignature { header: "X-Forgejo-Signature", .. })), "{res:?}");
    let res = verify(Forge::Forgejo, &[("X-Hub-Signature-256", SIGNATURE)][..], BODY, SECRET);
    assert!(matches!(res, Err(HookError::MissingSignature { header: "X-Forgejo-Signature", .. })));
}

#[test]
fn gitlab_tokens_must_equal_the_secret() {
    let gitlab = |token: &str| verify(Forge::GitLab, &[("X-Gitlab-Token", token)][..], BODY, b"s3cret");
    assert_eq!(gitlab("s3cret"), Ok(()));
    assert_eq!(gitlab(" s3cret "), Ok(()));
    for wrong in ["", "s3cre", "s3crets", "S3CRET", "s3cret\0", "x"] {
        assert_eq!(reason(gitlab(wrong)), "does not match the project's secret", "{wrong:?}");
    }
    let res = verify(Forge::GitLab, &[("X-Gitlab-Event", "Push Hook")][..], BODY, b"s3cret");
    assert!(matches!(res, Err(HookError::MissingSignature { header: "X-Gitlab-Token", .. })));
}

#[test]
fn the_event_header_is_found_per_forge() {
    let headers = [
        ("x-github-event", " push "),
        ("X-Gitea-Event", "create"),
        ("X-Forgejo-Event", ""),
        ("X-Gitlab-Event", "Tag Push Hook"),
    ];
    assert_eq!(event_name(Forge::GitHub, &headers[..]), Ok("push"));
    assert_eq!(event_name(Forge::Gitea, &headers[..]), Ok("create"));
    // A blank X-Forgejo-Event falls back to X-Gitea-Event.
    assert_eq!(event_name(Forge::Forgejo, &headers[..]), Ok("create"));
    assert_eq!(event_name(Forge::GitLab, &headers[..]), Ok("Tag Push Hook"));
    let none: [(&str, &str); 0] = [];
    assert_eq!(event_name(Forge::Forgejo, &none[..]), Err(HookError::MissingEventHeader { header: "X-Forgejo-Event" }));
}

#[test]
fn a_body_checked_in_pieces_verifies_as_the_whole_and_is_refused_past_the_limit() {
    let headers = [("X-Hub-Signature-256", format!("sha256={SIGNATURE}"))];
    for cut in [0, 1, 5, BODY.len()] {
        let mut check = BodyCheck::start(Forge::GitHub, &headers[..], SECRET).expect("headers are fine");
        check.update(&BODY[..cut]).expect("small");
        check.update(&BODY[cut..]).expect("small");
        assert_eq!(check.finish(), Ok(()), "cut at {cut}");
    }
    let mut check = BodyCheck::start(Forge::GitHub, &headers[..], SECRET).expect("headers are fine");
    check.update(b"Hello, ").expect("small");
    check.update(b"Mars!").expect("small");
    assert!(matches!(check.finish(), Err(HookError::BadSignature { .. })));
    // Refused before any of the body: a malformed signature, a wrong GitLab token.
    let malformed = [("X-Hub-Signature-256", "sha256=zz")];
    assert!(matches!(BodyCheck::start(Forge::GitHub, &malformed[..], SECRET), Err(HookError::BadSignature { .. })));
    let token = [("X-Gitlab-Token", "wrong")];
    assert!(matches!(BodyCheck::start(Forge::GitLab, &token[..], SECRET), Err(HookError::BadSignature { .. })));
    let mut check = BodyCheck::start(Forge::GitHub, &headers[..], SECRET).expect("headers are fine");
    let piece = vec![b'x'; 1024 * 1024];
    let n_pieces = crate::MAX_BODY / piece.len();
    for _ in 0..n_pieces {
        check.update(&piece).expect("within the limit");
    }
    assert_eq!(check.update(b"x"), Err(HookError::TooLarge { limit: crate::MAX_BODY }));
}

/// A forge, the headers it sent and the delivery id they carry.
type DeliveryCase = (Forge, &'static [(&'static str, &'static str)], Option<&'static str>);

#[test]
fn delivery_ids_come_from_each_forges_header() {
    let table: &[DeliveryCase] = &[
        (
            Forge::GitHub,
            &[("x-github-delivery", " 72d3162e-cc78-11e3-81ab-4c9367dc0958 ")],
            Some("72d3162e-cc78-11e3-81ab-4c9367dc0958"),
        ),
        (Forge::GitHub, &[("X-Gitea-Delivery", "g")], None),
        (Forge::Gitea, &[("X-Gitea-Delivery", "g")], Some("g")),
        (Forge::Forgejo, &[("X-Gitea-Delivery", "g"), ("X-Forgejo-Delivery", "f")], Some("f")),
        (Forge::Forgejo, &[("X-Gitea-Delivery", "g")], Some("g")),
        (Forge::GitLab, &[("X-Gitlab-Event-UUID", "u")], Some("u")),
        (Forge::GitLab, &[("X-Gitlab-Event-UUID", "  ")], None),
    ];
    for (forge, headers, expected) in table {
        assert_eq!(delivery_id(*forge, *headers), Ok(*expected), "{forge} {headers:?}");
    }
    let long = "x".repeat(MAX_DELIVERY_ID + 1);
    assert!(matches!(
        delivery_id(Forge::GitHub, &[("X-GitHub-Delivery", long.as_str())][..]),
        Err(HookError::Malformed { .. })
    ));
}
