//! The commit status request of each forge, from payloads shaped as each forge sends them.

use ferry_hooks::Forge;
use ferry_model::Conclusion;
use insta::assert_snapshot;
use serde_json::{Value, json};

use super::{NoStatus, Reported, StatusFacts, status_request};

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

/// The request for `payload` as text: the URL, the headers, the body.
fn request(forge: Forge, payload: Value, reported: Reported) -> String {
    match try_request(forge, &payload, reported) {
        Ok(request) => {
            let mut text = format!("POST {}\n", request.url);
            for (name, value) in &request.headers {
                text.push_str(&format!("{name}: {value}\n"));
            }
            text.push_str(&request.body);
            text
        }
        Err(error) => format!("no request: {error}"),
    }
}

fn try_request(forge: Forge, payload: &Value, reported: Reported) -> Result<super::StatusRequest, NoStatus> {
    let facts = StatusFacts {
        forge,
        payload,
        sha: SHA,
        workflow_file: ".github/workflows/ci.yml",
        run_number: 7,
        reported,
        error: None,
        target_url: None,
    };
    status_request(&facts, "t0ken")
}

const STARTED: Reported = Reported::Started;
const SUCCESS: Reported = Reported::Concluded(Conclusion::Success);

#[test]
fn github_push_payload_without_an_api_url_goes_to_api_github_com() {
    let payload = json!({"repository": {"full_name": "octo/web", "url": "https://github.com/octo/web", "html_url": "https://github.com/octo/web"}});
    assert_snapshot!(request(Forge::GitHub, payload, STARTED), @r#"
    POST https://api.github.com/repos/octo/web/statuses/0123456789abcdef0123456789abcdef01234567
    Authorization: Bearer t0ken
    Accept: application/vnd.github+json
    User-Agent: ferry
    Content-Type: application/json
    {"state":"pending","context":"ferry/ci.yml","description":"Run 7 is running"}
    "#);
}

#[test]
fn github_api_url_in_the_payload_is_the_repository_base() {
    let payload = json!({"repository": {"full_name": "octo/web", "url": "http://127.0.0.1:9/repos/octo/web/"}});
    assert_snapshot!(request(Forge::GitHub, payload, SUCCESS).lines().next().unwrap_or(""),
        @"POST http://127.0.0.1:9/repos/octo/web/statuses/0123456789abcdef0123456789abcdef01234567");
}

#[test]
fn github_enterprise_html_url_gives_its_api_v3() {
    let payload = json!({"repository": {"full_name": "octo/web", "url": "https://ghe.example/octo/web", "html_url": "https://ghe.example/octo/web"}});
    assert_snapshot!(request(Forge::GitHub, payload, SUCCESS).lines().next().unwrap_or(""),
        @"POST https://ghe.example/api/v3/repos/octo/web/statuses/0123456789abcdef0123456789abcdef01234567");
}

#[test]
fn conclusions_map_to_each_forges_states() {
    let github = json!({"repository": {"full_name": "o/r"}});
    let gitlab = json!({"project": {"id": 1, "web_url": "https://gitlab.com/o/r", "path_with_namespace": "o/r"}});
    let mut table = String::new();
    for reported in [
        Reported::Waiting,
        Reported::AwaitingApproval,
        STARTED,
        SUCCESS,
        Reported::Concluded(Conclusion::Failure),
        Reported::Concluded(Conclusion::Cancelled),
        Reported::Concluded(Conclusion::Skipped),
        Reported::Concluded(Conclusion::Neutral),
        Reported::NotPlanned,
    ] {
        let github = try_request(Forge::GitHub, &github, reported).expect("a request");
        let github: Value = serde_json::from_str(&github.body).expect("JSON");
        let gitlab = try_request(Forge::GitLab, &gitlab, reported).expect("a request");
        let gitlab_state = gitlab.url.split("state=").nth(1).and_then(|rest| rest.split('&').next()).unwrap_or("");
        table.push_str(&format!("{reported:?}: {} / {gitlab_state}\n", github["state"].as_str().unwrap_or("")));
    }
    assert_snapshot!(table, @"
    Waiting: pending / pending
    AwaitingApproval: pending / pending
    Started: pending / running
    Concluded(Success): success / success
    Concluded(Failure): failure / failed
    Concluded(Cancelled): error / canceled
    Concluded(Skipped): success / success
    Concluded(Neutral): success / success
    NotPlanned: failure / failed
    ");
}

#[test]
fn descriptions_say_what_the_run_does_and_why_it_failed_unplanned_in_at_most_140_characters() {
    let github = json!({"repository": {"full_name": "o/r"}});
    let description = |reported: Reported, error: Option<&str>| {
        let facts = StatusFacts {
            forge: Forge::GitHub,
            payload: &github,
            sha: SHA,
            workflow_file: "ci.yml",
            run_number: 7,
            reported,
            error,
            target_url: None,
        };
        let request = status_request(&facts, "t0ken").expect("a request");
        let body: Value = serde_json::from_str(&request.body).expect("JSON");
        body["description"].as_str().unwrap_or("").to_owned()
    };
    let long = format!("the workflow's `concurrency:` does not evaluate: {}", "x".repeat(200));
    let descriptions = [
        description(Reported::Waiting, None),
        description(
            Reported::NotPlanned,
            Some("the workflow has errors; fix them (`ferry lint` shows the same):\na:1:1: b"),
        ),
        description(Reported::NotPlanned, None),
        description(Reported::NotPlanned, Some(&long)),
        description(Reported::AwaitingApproval, None),
    ];
    assert_eq!(descriptions[3].chars().count(), 140, "{}", descriptions[3]);
    assert_snapshot!(descriptions.join("\n"), @"
    Run 7 is waiting for its concurrency group
    Run 7 failed: the workflow has errors; fix them (`ferry lint` shows the same)
    Run 7 failed: it could not be planned
    Run 7 failed: the workflow's `concurrency:` does not evaluate: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…
    Run 7 comes from a fork and waits for a developer's approval
    ");
}

#[test]
fn gitea_and_forgejo_use_the_instance_of_html_url_below_its_path_prefix() {
    let payload = json!({"repository": {
        "full_name": "octo/web",
        "html_url": "https://git.example/forge/octo/web",
        "clone_url": "https://git.example/forge/octo/web.git",
        "url": "https://git.example/forge/api/v1/repos/octo/web",
    }});
    assert_snapshot!(request(Forge::Gitea, payload.clone(), Reported::Concluded(Conclusion::Failure)), @r#"
    POST https://git.example/forge/api/v1/repos/octo/web/statuses/0123456789abcdef0123456789abcdef01234567
    Authorization: token t0ken
    Accept: application/json
    User-Agent: ferry
    Content-Type: application/json
    {"state":"failure","context":"ferry/ci.yml","description":"Run 7 concluded failure"}
    "#);
    assert_eq!(request(Forge::Forgejo, payload.clone(), STARTED).lines().nth(1), Some("Authorization: token t0ken"));
}

#[test]
fn gitea_without_html_url_takes_clone_url_and_an_unexpected_path_gives_the_host() {
    let clone_only =
        json!({"repository": {"full_name": "octo/web", "clone_url": "http://gitea.local:3000/octo/web.git"}});
    assert_snapshot!(request(Forge::Gitea, clone_only, STARTED).lines().next().unwrap_or(""),
        @"POST http://gitea.local:3000/api/v1/repos/octo/web/statuses/0123456789abcdef0123456789abcdef01234567");
    let renamed = json!({"repository": {"full_name": "octo/web", "html_url": "https://gitea.local/other/name"}});
    assert_snapshot!(request(Forge::Gitea, renamed, STARTED).lines().next().unwrap_or(""),
        @"POST https://gitea.local/api/v1/repos/octo/web/statuses/0123456789abcdef0123456789abcdef01234567");
}

#[test]
fn gitlab_takes_the_status_in_the_query_and_the_token_in_private_token() {
    let payload = json!({"project_id": 15, "project": {
        "id": 15, "web_url": "https://gitlab.example/gitlab/group/sub/web", "path_with_namespace": "group/sub/web",
    }});
    assert_snapshot!(request(Forge::GitLab, payload, STARTED), @"
    POST https://gitlab.example/gitlab/api/v4/projects/15/statuses/0123456789abcdef0123456789abcdef01234567?state=running&name=ferry%2Fci.yml&description=Run%207%20is%20running
    PRIVATE-TOKEN: t0ken
    User-Agent: ferry
    ");
}

#[test]
fn a_target_url_when_known_is_sent() {
    let payload = json!({"repository": {"full_name": "o/r"}});
    let facts = StatusFacts {
        forge: Forge::GitHub,
        payload: &payload,
        sha: SHA,
        workflow_file: "ci.yml",
        run_number: 1,
        reported: STARTED,
        error: None,
        target_url: Some("https://ferry.example/ui/runs/1"),
    };
    let request = status_request(&facts, "t").expect("a request");
    assert_snapshot!(request.body, @r#"{"state":"pending","context":"ferry/ci.yml","description":"Run 1 is running","target_url":"https://ferry.example/ui/runs/1"}"#);
}

#[test]
fn payloads_missing_what_the_forge_needs_get_no_request() {
    let cases = [
        (Forge::GitHub, json!({})),
        (Forge::GitHub, json!({"repository": {"full_name": "octo/web?x=1"}})),
        (Forge::GitHub, json!({"repository": {"full_name": "../../user"}})),
        (Forge::Gitea, json!({"repository": {"html_url": "https://gitea.local/octo/web"}})),
        (Forge::Gitea, json!({"repository": {"full_name": "octo/web"}})),
        (
            Forge::Forgejo,
            json!({"repository": {"full_name": "octo/web", "clone_url": "git@codeberg.org:octo/web.git"}}),
        ),
        (Forge::GitLab, json!({"project": {"web_url": "https://gitlab.com/o/r"}})),
        (Forge::GitLab, json!({"project": {"id": 3}})),
        (Forge::GitLab, json!({"project": {"id": 3, "web_url": "https://user:pw@gitlab.com/o/r"}})),
    ];
    let answers: Vec<String> =
        cases.into_iter().map(|(forge, payload)| format!("{forge}: {}", request(forge, payload, STARTED))).collect();
    assert_snapshot!(answers.join("\n"), @r#"
    GitHub: no request: the webhook payload has no `repository.full_name`
    GitHub: no request: the webhook payload's `repository.full_name` is not usable here: "octo/web?x=1"
    GitHub: no request: the webhook payload's `repository.full_name` is not usable here: "../../user"
    Gitea: no request: the webhook payload has no `repository.full_name`
    Gitea: no request: the webhook payload has no `repository.html_url`
    Forgejo: no request: the webhook payload has no `repository.html_url`
    GitLab: no request: the webhook payload has no `project.id`
    GitLab: no request: the webhook payload has no `project.web_url`
    GitLab: no request: the webhook payload's `project.web_url` is not usable here: "https://user:pw@gitlab.com/o/r"
    "#);
}

#[test]
fn a_sha_that_is_not_hex_gets_no_request() {
    let payload = json!({"repository": {"full_name": "o/r"}});
    let facts = StatusFacts {
        forge: Forge::GitHub,
        payload: &payload,
        sha: "main/../x",
        workflow_file: "ci.yml",
        run_number: 1,
        reported: STARTED,
        error: None,
        target_url: None,
    };
    assert_eq!(
        status_request(&facts, "t").map(|_| ()),
        Err(NoStatus::Unusable { field: "sha", value: "main/../x".to_owned() })
    );
}

#[test]
fn the_token_is_left_out_of_debug_output() {
    let request =
        try_request(Forge::GitLab, &json!({"project": {"id": 1, "web_url": "https://gitlab.com/o/r"}}), STARTED)
            .expect("a request");
    assert!(!format!("{request:?}").contains("t0ken"), "{request:?}");
}
