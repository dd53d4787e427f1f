//! What an environment gives a service: the layers of variables and secrets in their order.

use super::{layered, secret_binding};

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())).collect()
}

#[test]
fn environment_values_replace_the_project_s_and_secrets_replace_variables() {
    let (env, secret_keys) = layered(
        vec![pairs(&[("REGION", "eu"), ("LEVEL", "info")]), pairs(&[("REGION", "us")])],
        vec![pairs(&[("DB_PASSWORD", "project"), ("LEVEL", "secret-level")]), pairs(&[("DB_PASSWORD", "production")])],
    );
    let env: Vec<(&str, &str)> = env.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();
    assert_eq!(env, [("DB_PASSWORD", "production"), ("LEVEL", "secret-level"), ("REGION", "us")]);
    assert_eq!(secret_keys, ["DB_PASSWORD", "LEVEL"], "a secret that replaced a variable is masked too");
}

#[test]
fn an_environment_s_secret_is_sealed_under_its_environment() {
    assert_eq!(secret_binding("", "TOKEN"), "TOKEN");
    assert_eq!(secret_binding("production", "TOKEN"), "production/TOKEN");
}
