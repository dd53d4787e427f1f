//! Parsing `uses:` references.

use super::{ActionRef, is_full_sha};

fn parsed(reference: &str) -> Option<[String; 4]> {
    ActionRef::parse(reference).map(|action| [action.owner, action.repo, action.path, action.git_ref])
}

#[test]
fn owner_repo_path_and_ref_are_split() {
    let owned = |parts: [&str; 4]| Some(parts.map(str::to_owned));
    assert_eq!(parsed("actions/cache@v4"), owned(["actions", "cache", "", "v4"]));
    assert_eq!(parsed("actions/cache/restore@v4"), owned(["actions", "cache", "restore", "v4"]));
    assert_eq!(
        parsed("octo/repo/.github/workflows/x.yml@refs/heads/main"),
        owned(["octo", "repo", ".github/workflows/x.yml", "refs/heads/main"])
    );
    assert_eq!(parsed("a/b.c_d-e@release/v1.2"), owned(["a", "b.c_d-e", "", "release/v1.2"]));
}

#[test]
fn references_that_could_escape_the_store_or_reach_git_as_options_are_refused() {
    for reference in [
        "./local",
        "docker://alpine:3",
        "actions",
        "actions/cache",
        "actions/cache@",
        "../x/y@v1",
        "x/..@v1",
        "x/y/../../z@v1",
        "x/y@-upload-pack=evil",
        "x/y@v1..v2",
        "x/y@v 1",
        "-x/y@v1",
        "x y/z@v1",
        "x/y@HEAD~1",
    ] {
        assert_eq!(parsed(reference), None, "{reference}");
    }
}

#[test]
fn display_gives_back_the_reference() {
    for reference in ["actions/cache@v4", "actions/cache/save@0123456789012345678901234567890123456789"] {
        assert_eq!(ActionRef::parse(reference).map(|action| action.to_string()).as_deref(), Some(reference));
    }
}

#[test]
fn full_shas_are_forty_hex_digits() {
    assert!(is_full_sha("0123456789abcdefABCDEF012345678901234567"));
    assert!(!is_full_sha("0123456"));
    assert!(!is_full_sha("g123456789abcdefABCDEF012345678901234567"));
}
