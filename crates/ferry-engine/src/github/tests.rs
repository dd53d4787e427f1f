//! The `github` context's ids and API addresses, from each forge's payload or the project's forge.

use serde_json::json;

use super::*;

fn context(forge: &str, event: &Value) -> Map<String, Value> {
    github_context(&GithubFacts {
        repository: "team/app",
        forge,
        event,
        retention_days: "30",
        ..GithubFacts::default()
    })
}

fn field(context: &Map<String, Value>, key: &str) -> String {
    context.get(key).and_then(Value::as_str).unwrap_or("?").to_owned()
}

fn fields(context: &Map<String, Value>) -> [String; 6] {
    ["actor_id", "repository_id", "repository_owner_id", "api_url", "graphql_url", "retention_days"]
        .map(|key| field(context, key))
}

#[test]
fn github_payloads_give_ids_and_githubs_api_or_an_enterprise_servers() {
    let event = json!({"sender": {"id": 7}, "repository": {"id": 42, "full_name": "team/app",
        "html_url": "https://github.com/team/app", "owner": {"id": 9}}});
    assert_eq!(
        fields(&context("github", &event)),
        ["7", "42", "9", "https://api.github.com", "https://api.github.com/graphql", "30"]
    );
    let event = json!({"repository": {"full_name": "team/app", "html_url": "https://git.corp/team/app"}});
    let context = context("github", &event);
    assert_eq!(
        (field(&context, "api_url"), field(&context, "graphql_url")),
        ("https://git.corp/api/v3".to_owned(), "https://git.corp/api/graphql".to_owned())
    );
}

#[test]
fn gitea_forgejo_and_gitlab_projects_get_their_forges_api() {
    let gitea = json!({"sender": {"id": 3}, "repository": {"id": 11, "full_name": "team/app",
        "html_url": "https://gitea.example/team/app", "owner": {"id": 5}}});
    assert_eq!(fields(&context("gitea", &gitea)), ["3", "11", "5", "https://gitea.example/api/v1", "", "30"]);
    assert_eq!(field(&context("forgejo", &gitea), "api_url"), "https://gitea.example/api/v1");
    let gitlab = json!({"user_id": 4, "project_id": 15, "project": {"id": 15, "namespace_id": 8,
        "web_url": "https://gitlab.example/group/app", "path_with_namespace": "group/app"}});
    assert_eq!(
        fields(&context("gitlab", &gitlab)),
        ["4", "15", "8", "https://gitlab.example/api/v4", "https://gitlab.example/api/graphql", "30"]
    );
}

#[test]
fn without_a_payload_the_ids_are_zero_and_the_api_githubs() {
    assert_eq!(
        fields(&context("", &json!({}))),
        ["0", "0", "0", "https://api.github.com", "https://api.github.com/graphql", "30"]
    );
}

#[test]
fn issue_13_runs_no_webhook_started_get_their_projects_forges_api() {
    let with = |forge: &str, forge_url: &str| {
        let context = github_context(&GithubFacts { forge, forge_url, event: &json!({}), ..GithubFacts::default() });
        (field(&context, "api_url"), field(&context, "graphql_url"))
    };
    assert_eq!(with("gitea", "https://gitea.example/"), ("https://gitea.example/api/v1".to_owned(), String::new()));
    assert_eq!(with("forgejo", "https://codeberg.org").0, "https://codeberg.org/api/v1");
    assert_eq!(
        with("gitlab", "https://gitlab.example"),
        ("https://gitlab.example/api/v4".to_owned(), "https://gitlab.example/api/graphql".to_owned())
    );
    assert_eq!(with("github", "https://git.corp").0, "https://git.corp/api/v3");
    assert_eq!(with("github", "https://github.com").0, "https://api.github.com");
    assert_eq!(with("gitea", "").0, "https://api.github.com", "a forge whose address is unknown");
    // The payload's address wins over the project's.
    let event = json!({"repository": {"full_name": "team/app", "html_url": "https://new.example/team/app"}});
    let context = github_context(&GithubFacts {
        forge: "gitea",
        forge_url: "https://old.example",
        event: &event,
        ..GithubFacts::default()
    });
    assert_eq!(field(&context, "api_url"), "https://new.example/api/v1");
}

#[test]
fn well_known_hosts_in_a_repository_url_name_their_forge() {
    let cases = [
        ("https://github.com/team/app.git", Some(("github", "https://github.com"))),
        ("git@github.com:team/app.git", Some(("github", "https://github.com"))),
        ("ssh://git@GitLab.com:22/group/sub/app.git", Some(("gitlab", "https://gitlab.com"))),
        ("https://x-access-token@codeberg.org/team/app", Some(("forgejo", "https://codeberg.org"))),
        ("https://gitea.example/team/app.git", None),
        ("/srv/git/app.git", None),
        ("https://github.com.evil.example/team/app.git", None),
    ];
    for (url, forge) in cases {
        assert_eq!(forge_of_repo_url(url), forge, "{url}");
    }
}
