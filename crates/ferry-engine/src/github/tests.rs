//! The `github` context's ids and API addresses, from each forge's payload.

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
