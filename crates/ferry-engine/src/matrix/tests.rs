//! Matrix expansion cases taken from GitHub's documented examples.

use serde_json::{Value, json};

use super::*;

fn expand(matrix: Value) -> Vec<Value> {
    expand_matrix(&matrix).expect("valid matrix").into_iter().map(Value::Object).collect()
}

#[test]
fn product_varies_the_first_dimension_slowest() {
    let got = expand(json!({"os": ["linux", "mac"], "version": [1, 2]}));
    assert_eq!(
        got,
        vec![
            json!({"os": "linux", "version": 1}),
            json!({"os": "linux", "version": 2}),
            json!({"os": "mac", "version": 1}),
            json!({"os": "mac", "version": 2}),
        ]
    );
}

#[test]
fn exclude_removes_partial_matches() {
    let got = expand(json!({
        "os": ["macos", "windows"], "version": [12, 14, 16], "environment": ["staging", "production"],
        "exclude": [{"os": "macos", "version": 12, "environment": "production"}, {"os": "windows", "version": 16}]
    }));
    assert_eq!(got.len(), 12 - 1 - 2);
    assert!(!got.contains(&json!({"os": "windows", "version": 16, "environment": "staging"})));
    assert!(got.contains(&json!({"os": "macos", "version": 12, "environment": "staging"})));
}

/// The worked example from GitHub's "Expanding or adding matrix configurations".
#[test]
fn include_extends_matching_combinations_and_adds_the_rest() {
    let got = expand(json!({
        "fruit": ["apple", "pear"], "animal": ["cat", "dog"],
        "include": [
            {"color": "green"},
            {"color": "pink", "animal": "cat"},
            {"fruit": "apple", "shape": "circle"},
            {"fruit": "banana"},
            {"fruit": "banana", "animal": "cat"}
        ]
    }));
    assert_eq!(
        got,
        vec![
            json!({"fruit": "apple", "animal": "cat", "color": "pink", "shape": "circle"}),
            json!({"fruit": "apple", "animal": "dog", "color": "green", "shape": "circle"}),
            json!({"fruit": "pear", "animal": "cat", "color": "pink"}),
            json!({"fruit": "pear", "animal": "dog", "color": "green"}),
            json!({"fruit": "banana"}),
            json!({"fruit": "banana", "animal": "cat"}),
        ]
    );
}

#[test]
fn include_alone_makes_one_combination_per_entry() {
    let got = expand(json!({"include": [{"site": "prod", "datacenter": "a"}, {"site": "dev"}]}));
    assert_eq!(got, vec![json!({"site": "prod", "datacenter": "a"}), json!({"site": "dev"})]);
}

#[test]
fn values_may_be_objects() {
    let got = expand(json!({"node": [{"version": 20, "lts": true}]}));
    assert_eq!(got, vec![json!({"node": {"version": 20, "lts": true}})]);
}

#[test]
fn bad_matrices_say_what_is_wrong() {
    let cases = [
        (json!({"os": "linux"}), "matrix dimension `os` must be a list of values, like `os: [a, b]`"),
        (json!({"include": {"a": 1}}), "matrix `include` must be a list of mappings"),
        (json!({"exclude": [1]}), "matrix `exclude` must be a list of mappings"),
        (json!("linux"), "the matrix must be a mapping of dimensions to lists"),
        (
            json!({"a": (0..20).collect::<Vec<_>>(), "b": (0..20).collect::<Vec<_>>()}),
            "the matrix generates 400 jobs; at most 256 are allowed",
        ),
    ];
    for (matrix, want) in cases {
        let error = expand_matrix(&matrix).expect_err("invalid matrix");
        assert_eq!(error.to_string(), want, "{matrix}");
    }
}

#[test]
fn instance_names_follow_github() {
    let combination = json!({"os": "linux", "version": 3, "flags": ["a"]});
    let Value::Object(combination) = combination else { unreachable!("object literal") };
    assert_eq!(instance_name("build", &combination), r#"build (linux, 3, ["a"])"#);
    assert_eq!(instance_name("build", &Map::new()), "build");
}
