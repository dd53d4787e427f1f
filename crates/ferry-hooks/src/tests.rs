//! Unit tests of the crate root: body size, forge names, statuses, and the order of checks in
//! `receive`.

use super::*;

#[test]
fn bodies_up_to_the_limit_are_accepted() {
    assert_eq!(check_size(0), Ok(()));
    assert_eq!(check_size(MAX_BODY), Ok(()));
    let error = check_size(MAX_BODY + 1).expect_err("over the limit");
    assert_eq!(error, HookError::TooLarge { limit: MAX_BODY });
    assert_eq!(error.status(), 413);
}

#[test]
fn oversized_bodies_are_refused_before_their_signature_is_checked() {
    let body = vec![b' '; MAX_BODY + 1];
    let res = receive(Forge::GitHub, &[("X-GitHub-Event", "push")][..], &body, b"secret");
    assert_eq!(res, Err(HookError::TooLarge { limit: MAX_BODY }));
}

#[test]
fn forges_are_named_by_their_slug() {
    for forge in Forge::ALL {
        assert_eq!(Forge::from_slug(forge.slug()), Some(forge));
    }
    assert_eq!(Forge::from_slug("GitLab"), Some(Forge::GitLab));
    assert_eq!(Forge::from_slug("bitbucket"), None);
}

#[test]
fn every_refusal_is_a_client_error() {
    let errors = [
        (HookError::NoSecret, 403),
        (HookError::MissingSignature { header: "X-Gitlab-Token", hint: "" }, 401),
        (HookError::BadSignature { header: "X-Gitlab-Token", reason: "does not match" }, 401),
        (HookError::MissingEventHeader { header: "X-GitHub-Event" }, 400),
        (HookError::UnknownEvent { forge: Forge::GitHub, event: "Push".to_owned() }, 400),
        (HookError::Malformed { message: "push payload: `ref` is missing".to_owned() }, 400),
        (HookError::TooLarge { limit: MAX_BODY }, 413),
    ];
    for (error, status) in errors {
        assert_eq!(error.status(), status, "{error}");
    }
}

#[test]
fn unsigned_bodies_are_refused_before_they_are_read() {
    let headers = [("X-Gitea-Event", "push")];
    let res = receive(Forge::Gitea, &headers[..], b"not json", b"secret");
    assert!(matches!(res, Err(HookError::MissingSignature { header: "X-Gitea-Signature", .. })), "{res:?}");
}

#[test]
fn a_signed_request_without_event_header_is_refused() {
    let headers = [("X-Gitlab-Token", "secret")];
    let res = receive(Forge::GitLab, &headers[..], b"{}", b"secret");
    assert_eq!(res, Err(HookError::MissingEventHeader { header: "X-Gitlab-Event" }));
}
