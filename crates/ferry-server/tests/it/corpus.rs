//! The real-world corpus (`$FERRY_CORPUS`, by default `../shared/corpus` beside the workspace)
//! against a live server. Tests under `corpus::` run in their own step, `scripts/corpus`;
//! `scripts/test` leaves them out so that a clone without the corpus passes.

use crate::hooks::{SECRET, server_with_project, signature};

/// Every payload of the real-world corpus (`$FERRY_CORPUS/webhooks`), signed as its forge
/// signs, is taken by the server: a run is recorded (here failed, since the project's
/// repository does not exist) or the event is acknowledged; never a 4xx or 5xx.
#[test]
fn the_server_takes_every_corpus_payload() {
    let dir = match std::env::var_os("FERRY_CORPUS") {
        Some(dir) => std::path::PathBuf::from(dir),
        None => std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"),
    }
    .join("webhooks");
    let manifest = std::fs::read_to_string(dir.join("MANIFEST.tsv")).unwrap_or_else(|error| {
        panic!("the webhook corpus is missing in {} ({error}); set FERRY_CORPUS", dir.display())
    });
    let mut lines = manifest.lines();
    let header: Vec<&str> = lines.next().expect("a header").split('\t').collect();
    let column = |name: &str| header.iter().position(|column| *column == name).expect("a manifest column");
    let (file_col, forge_col, event_col) = (column("file"), column("forge"), column("event"));
    let server = server_with_project();
    let mut n_payloads = 0;
    for line in lines.filter(|line| !line.trim().is_empty()) {
        let fields: Vec<&str> = line.split('\t').collect();
        let (file, forge, event) = (fields[file_col], fields[forge_col], fields[event_col]);
        let body = std::fs::read(dir.join(file)).unwrap_or_else(|error| panic!("reading {file}: {error}"));
        let signature = signature(SECRET, &body);
        let hex = signature.trim_start_matches("sha256=").to_owned();
        let headers: Vec<(&str, &str)> = match forge {
            "github" => vec![("X-GitHub-Event", event), ("X-Hub-Signature-256", &signature)],
            "gitea" => vec![("X-Gitea-Event", event), ("X-Gitea-Signature", &hex)],
            "forgejo" => vec![("X-Forgejo-Event", event), ("X-Forgejo-Signature", &hex)],
            "gitlab" => vec![("X-Gitlab-Event", event), ("X-Gitlab-Token", SECRET)],
            other => panic!("{file}: unknown forge {other}"),
        };
        let res = server.request("POST", &format!("/hooks/{forge}/web"), &headers, &body);
        assert!(matches!(res.status, 200 | 202), "{file}: {} {}", res.status, res.body);
        n_payloads += 1;
    }
    assert!(n_payloads >= 30, "the corpus has its payloads: {n_payloads}");
}
