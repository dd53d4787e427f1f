//! `ferry lint` on `.ferry/deploy.yml`: found in a repository beside the workflows, or given
//! directly; every kind of finding rendered with file:line:col, and as JSON.

use crate::harness::Repo;
use crate::lint::lint;

/// One deploy.yml with every kind of mistake `ferry lint` finds in one.
const MISTAKES: &str = "\
environments:
  staging: { auto-deploy: true, verify: 30 }
  production: { after: stagin, approvals: two }
  eu: { after: us }
  us: { after: eu }
  qa: { bind: localhost, hosts: [edge] }
  bad env: {}
services:
  web:
    run: python3 server.py
    image: web:1
    helth: { http: /healthz }
    env: { 9LIVES: x }
    deploy:
      staging: { port: 8001 }
      production:
        port: 8002
        strategy: canary
        canary: { steps: [ { weight: 50, pause: 20s }, { weight: 20 } ] }
        max-surge: 1
        analysis: { max-error-rate: 5, min-requests: 20 }
      qa: { port: 70000, strategy: blue-grene, drain-timeout: 1 week }
      prod: { port: 8003 }
  api:
    health: { tcp: true, command: ./check }
    deploy:
      staging: { port: 8001, strategy: canary }
      us: { replicas: 2, analysis: { min-requests: 5 } }
  worker:
    run: ./worker
";

#[test]
fn every_mistake_in_a_deploy_file_is_pointed_at_with_a_fix() {
    let repo = Repo::new(&[
        (".ferry/deploy.yml", MISTAKES),
        (".github/workflows/ci.yml", "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: true\n"),
    ]);
    let (code, out) = lint(&[], repo.path());
    assert_eq!(code, Some(1), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn analysis_query_mistakes_are_pointed_at_with_their_line_and_column() {
    let repo = Repo::new(&[(
        ".ferry/deploy.yml",
        r#"environments:
  staging: {}
services:
  web:
    run: x
    deploy:
      staging:
        port: 8001
        analysis:
          queries:
            - name: error-ratio
              query: rate(errors{release="{{version}}"}[1m])
              success: result =< 0.01
"#,
    )]);
    let (code, out) = lint(&[], repo.path());
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("error: the query has unknown placeholder `{{version}}` [unknown-placeholder]"), "{out}");
    assert!(out.contains("./.ferry/deploy.yml:12:22"), "{out}");
    assert!(
        out.contains("error: `success: result =< 0.01` is not a condition: unexpected `=` at column 8: expected `<=` or `>=` (the `=` comes second) [bad-condition]"),
        "{out}"
    );
    assert!(out.contains("./.ferry/deploy.yml:13:24"), "{out}");
}

#[test]
fn a_deploy_file_given_directly_is_checked_and_listed_as_json() {
    let repo = Repo::new(&[(
        "ops/deploy.yml",
        "environments:\n  staging: {}\nservices:\n  web:\n    run: x\n    deploy: { staging: { port: 8001, stratgy: rolling } }\n",
    )]);
    let (code, out) = lint(&["ops/deploy.yml", "--json"], repo.path());
    assert_eq!(code, Some(1), "{out}");
    let json: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!((&json["files"], &json["errors"]), (&serde_json::json!(1), &serde_json::json!(1)));
    let finding = &json["diagnostics"][0];
    assert_eq!(
        (&finding["file"], &finding["line"], &finding["col"], &finding["code"], &finding["help"]),
        (
            &serde_json::json!("ops/deploy.yml"),
            &serde_json::json!(6),
            &serde_json::json!(38),
            &serde_json::json!("unknown-key"),
            &serde_json::json!("did you mean `strategy`?")
        )
    );
}

#[test]
fn a_repository_with_only_a_good_deploy_file_passes() {
    let repo = Repo::new(&[(
        ".ferry/deploy.yml",
        "environments:\n  staging: { auto-deploy: true }\n  production: { after: staging, approvals: 1, branches: [main] }\nservices:\n  web:\n    run: python3 server.py\n    health: { http: /healthz }\n    deploy:\n      staging: { port: 8001 }\n      production: { port: 8002, replicas: 2, strategy: blue-green, keep-old: 10m }\n",
    )]);
    let (code, out) = lint(&[], repo.path());
    assert_eq!((code, out.trim()), (Some(0), "ok: 1 file checked, 0 errors, 0 warnings"));
}
