//! Reading services and their `release:` rules out of a deploy.yml.

use super::{ReleaseRule, ServiceSpec, services};

#[test]
fn services_and_their_release_rules_in_the_file_s_order() {
    let text = "
environments:
  staging: { auto-deploy: true }
services:
  web:
    run: python3 server.py
    release: { workflow: ci.yml, job: package, artifact: site, branch: main }
    deploy:
      staging: { port: 8001, replicas: 1, strategy: rolling }
  worker:
    run: ./worker
    release:
      workflow: ci.yml
  cron:
    run: ./cron
";
    let rule = |job: Option<&str>, artifact: &str, branch: Option<&str>| ReleaseRule {
        workflow: "ci.yml".to_owned(),
        job: job.map(str::to_owned),
        artifact: artifact.to_owned(),
        branch: branch.map(str::to_owned),
    };
    assert_eq!(
        services(text),
        Ok(vec![
            ServiceSpec { name: "web".into(), release: Some(rule(Some("package"), "site", Some("main"))) },
            ServiceSpec { name: "worker".into(), release: Some(rule(None, "worker", None)) },
            ServiceSpec { name: "cron".into(), release: None },
        ])
    );
}

#[test]
fn a_file_of_another_shape_is_refused_saying_what_is_wrong() {
    assert_eq!(services(""), Ok(vec![]));
    assert_eq!(services("- a\n- b\n"), Err("the file must be a mapping with `services:`".to_owned()));
    assert_eq!(
        services("services: [web]\n"),
        Err("`services` must be a mapping of service names to services".to_owned())
    );
    assert_eq!(
        services("services: { web: { release: { job: build } } }\n"),
        Err("`services.web.release` needs `workflow:` (the workflow's file name, ci.yml)".to_owned())
    );
    let broken = services("services: { web: [\n").expect_err("not YAML");
    assert!(broken.starts_with("not valid YAML"), "{broken}");
}
