//! Finding, redacting and splitting credentials in repository URLs.

use super::*;

#[test]
fn http_user_info_and_passwords_are_credentials_ssh_user_names_are_not() {
    let cases = [
        ("https://user:tok@host/x.git", true),
        ("https://tok@host/x.git", true),
        ("HTTP://tok@host:8080/x.git", true),
        ("ssh://git:pw@host/x.git", true),
        ("ssh://git@host/x.git", false),
        ("git@github.com:o/r.git", false),
        ("https://host/x.git?at=a@b", false),
        ("/srv/repos/x.git", false),
    ];
    for (url, credential) in cases {
        assert_eq!(has_credential(url), credential, "{url}");
    }
}

#[test]
fn urls_are_shown_without_their_credential() {
    assert_eq!(redacted("https://user:tok@host/x.git"), "https://***@host/x.git");
    assert_eq!(redacted("https://host/x.git"), "https://host/x.git");
    let git_error = "fatal: unable to access 'https://user:tok@127.0.0.1:1/x.git/': Failed to connect\n\
                     fatal: repository https://tok@h/y not found; also ssh://git@h/z";
    assert_eq!(
        redact_text(git_error),
        "fatal: unable to access 'https://***@127.0.0.1:1/x.git/': Failed to connect\n\
         fatal: repository https://***@h/y not found; also ssh://git@h/z"
    );
    assert_eq!(redact_text("é https://a:b@h"), "é https://***@h");
}

#[test]
fn a_credential_is_split_off_percent_decoded() {
    assert_eq!(
        split_credential("https://us%40er:t%3Ak@host/x.git"),
        ("https://host/x.git".to_owned(), Some("us@er:t:k".to_owned()))
    );
    assert_eq!(split_credential("https://host/x.git"), ("https://host/x.git".to_owned(), None));
}
