//! Tests of [`compile`]: the spec built from the issue's example with every default, the
//! conversions to the agent protocol, and each diagnostic by its code and position (the
//! rendered messages are snapshotted by `ferry lint`'s tests).

use std::collections::BTreeMap;

use ferry_proto::agent::{
    AnalysisQuery, AnalysisSpec, CanaryStep, MetricsSpec, Probe, ProcessSpec, StrategySpec, TlsFiles,
};

use super::*;
use crate::spec::{DEFAULT_KEEP_OLD_MS, DEFAULT_START_TIMEOUT_MS};

const EXAMPLE: &str = "\
environments:                      # the order of promotion and the rules of each
  staging:    { auto-deploy: true }
  production: { after: staging, approvals: 1, branches: [main] }
services:
  web:
    run: python3 server.py
    env: { GREETING: hello }
    health: { http: /healthz, interval: 1s, timeout: 2s, healthy-after: 2, unhealthy-after: 3 }
    release: { workflow: ci.yml, job: package, artifact: web, branch: main }
    deploy:
      staging:    { port: 8001, replicas: 1, strategy: rolling }
      production:
        port: 8002
        replicas: 2
        strategy: canary
        canary: { steps: [ { weight: 20, pause: 20s }, { weight: 50, pause: 20s } ] }
        analysis: { max-error-rate: 0.05, max-p99-latency: 500ms, min-requests: 20 }
";

fn spec(src: &str) -> DeploySpec {
    let (spec, diagnostics) = compile(src);
    assert!(diagnostics.is_empty(), "{diagnostics:#?}");
    spec.expect("a spec")
}

/// `line:col code` of each diagnostic.
fn codes(src: &str) -> Vec<String> {
    compile(src).1.iter().map(|d| format!("{}:{} {}", d.span.start.line, d.span.start.col, d.code)).collect()
}

/// A file with `web` deployed to `staging` with `deploy` as its settings there.
fn with_deploy(deploy: &str) -> String {
    format!("environments:\n  staging: {{}}\nservices:\n  web:\n    run: x\n    deploy:\n      staging:\n{deploy}")
}

#[test]
fn the_issues_example_reads_as_it_says() {
    let spec = spec(EXAMPLE);
    let names: Vec<&str> = spec.environments.iter().map(|environment| environment.name.as_str()).collect();
    assert_eq!(names, ["staging", "production"]);
    let production = spec.environment("production").expect("production");
    assert_eq!(
        (production.after.as_slice(), production.approvals, production.branches.as_slice(), production.bind.as_str()),
        (&["staging".to_owned()][..], 1, &["main".to_owned()][..], "127.0.0.1")
    );
    assert_eq!((production.verify_ms, production.hosts.len(), production.auto_deploy), (30_000, 0, false));
    let web = spec.service("web").expect("web");
    assert_eq!(web.process, ProcessSpec::Run { command: "python3 server.py".to_owned() });
    assert_eq!(web.env, BTreeMap::from([("GREETING".to_owned(), "hello".to_owned())]));
    assert_eq!(web.health.probe, Probe::Http { path: "/healthz".to_owned() });
    assert_eq!(
        (web.health.interval_ms, web.health.timeout_ms, web.health.healthy_after, web.health.unhealthy_after),
        (1_000, 2_000, 2, 3)
    );
    assert_eq!(web.health.start_timeout_ms, DEFAULT_START_TIMEOUT_MS);
    let release = web.release.as_ref().expect("release rule");
    assert_eq!(
        (release.workflow.as_str(), release.job.as_deref(), release.artifact.as_str(), release.branch.as_deref()),
        ("ci.yml", Some("package"), "web", Some("main"))
    );
    let staging = web.deploy_to("staging").expect("staging");
    assert_eq!((staging.port, staging.replicas), (8001, 1));
    assert_eq!(staging.strategy, StrategySpec::Rolling { max_surge: 1, max_unavailable: 0 });
    let production = web.deploy_to("production").expect("production");
    assert_eq!((production.port, production.replicas), (8002, 2));
    assert_eq!(
        production.strategy,
        StrategySpec::Canary {
            steps: vec![CanaryStep { weight: 20, pause_ms: 20_000 }, CanaryStep { weight: 50, pause_ms: 20_000 }]
        }
    );
    assert_eq!(
        production.analysis,
        Some(AnalysisSpec {
            max_error_rate: Some(0.05),
            max_p99_latency_ms: Some(500.0),
            min_requests: 20,
            queries: Vec::new()
        })
    );
}

#[test]
fn the_promotion_graph_follows_auto_deploy_and_after() {
    let spec = spec(
        "environments:\n  staging: { auto-deploy: true }\n  qa: { auto-deploy: true }\n  production: { after: [staging, qa] }\n  eu: { after: production }\nservices: {}\n",
    );
    let names = |environments: Vec<&crate::spec::Environment>| -> Vec<String> {
        environments.iter().map(|environment| environment.name.clone()).collect()
    };
    assert_eq!(names(spec.auto_deploy_environments()), ["staging", "qa"]);
    assert_eq!(names(spec.environments_after("staging")), ["production"]);
    assert_eq!(names(spec.environments_after("qa")), ["production"]);
    assert_eq!(names(spec.environments_after("production")), ["eu"]);
    assert!(spec.environments_after("eu").is_empty());
}

#[test]
fn a_unit_and_an_order_come_from_the_spec_in_one_call() {
    let spec = spec(EXAMPLE);
    let web = spec.service("web").expect("web");
    let overrides = BTreeMap::from([("GREETING".to_owned(), "hi".to_owned()), ("TOKEN".to_owned(), "s3".to_owned())]);
    let release = web.release_spec(7, Vec::new(), &overrides, vec!["TOKEN".to_owned()]);
    assert_eq!(release.env["GREETING"], "hi", "the environment's variables win over the service's env");
    let unit = spec.unit("shop", "web", "production", Some(release.clone())).expect("a unit");
    assert_eq!((unit.port, unit.bind.as_str(), unit.replicas), (8002, "127.0.0.1", 2));
    assert_eq!((unit.key.project.as_str(), unit.key.environment.as_str()), ("shop", "production"));
    assert_eq!(unit.health, web.health);
    let order = spec.order(41, "web", "production", release, false).expect("an order");
    assert_eq!((order.id, order.verify_ms, order.is_rollback, order.release.number), (41, 30_000, false, 7));
    assert!(matches!(order.strategy, StrategySpec::Canary { .. }));
    assert!(spec.unit("shop", "web", "eu", None).is_none());
    assert!(
        spec.order(1, "api", "staging", web.release_spec(1, Vec::new(), &BTreeMap::new(), Vec::new()), true).is_none()
    );
}

#[test]
fn defaults_fill_what_the_file_leaves_out() {
    let spec = spec(
        "environments:\n  staging:\nservices:\n  web:\n    image: nginx:1\n    deploy: { staging: { port: 80 } }\n",
    );
    let web = &spec.services[0];
    assert_eq!(web.process, ProcessSpec::Image { image: "nginx:1".to_owned(), archive: None });
    assert_eq!(web.health, crate::spec::default_health());
    assert_eq!(web.deploy[0].strategy, StrategySpec::Rolling { max_surge: 1, max_unavailable: 0 });
    assert_eq!(
        (web.deploy[0].replicas, web.deploy[0].drain_timeout_ms, web.deploy[0].stop_grace_ms),
        (1, 30_000, 10_000)
    );
    let blue_green = spec_of_strategy("strategy: blue-green");
    assert_eq!(blue_green, StrategySpec::BlueGreen { keep_old_ms: DEFAULT_KEEP_OLD_MS });
    assert_eq!(
        spec_of_strategy("strategy: blue-green\n        keep-old: 1m"),
        StrategySpec::BlueGreen { keep_old_ms: 60_000 }
    );
    assert_eq!(
        spec_of_strategy("strategy: rolling\n        max-surge: 0\n        max-unavailable: 1"),
        StrategySpec::Rolling { max_surge: 0, max_unavailable: 1 }
    );
    assert_eq!(spec_of_strategy("strategy: recreate"), StrategySpec::Recreate);
}

fn spec_of_strategy(lines: &str) -> StrategySpec {
    let src = with_deploy(&format!("        port: 1\n        replicas: 2\n        {lines}\n"));
    spec(&src).services[0].deploy[0].strategy.clone()
}

#[test]
fn unknown_keys_suggest_the_intended_one() {
    let src = "environmnets: {}\nservices:\n  web:\n    rnu: x\n    helth: {}\n";
    assert_eq!(
        codes(src),
        [
            "1:1 unknown-key",
            "1:1 missing-key",
            "3:3 not-deployed",
            "3:3 run-or-image",
            "4:5 unknown-key",
            "5:5 unknown-key"
        ]
    );
    let (_, diagnostics) = compile(src);
    let helps: Vec<&str> =
        diagnostics.iter().filter_map(|d| d.help.as_deref()).filter(|h| h.starts_with("did")).collect();
    assert_eq!(helps, ["did you mean `environments`?", "did you mean `run`?", "did you mean `health`?"]);
}

#[test]
fn bad_durations_and_numbers_are_pointed_at() {
    let src = with_deploy(
        "        port: 8001\n        replicas: two\n        drain-timeout: 30\n        stop-grace: 5 sec\n",
    );
    assert_eq!(codes(&src), ["9:19 bad-number", "10:24 bad-duration", "11:21 bad-duration"]);
    let approvals = "environments:\n  production: { approvals: many }\nservices: {}\n";
    assert_eq!(codes(approvals), ["2:28 bad-number"]);
    let negative = "environments:\n  production: { approvals: -1, verify: 1d }\nservices: {}\n";
    assert_eq!(codes(negative), ["2:28 bad-number", "2:40 bad-duration"]);
}

#[test]
fn a_strategys_fields_must_be_its_own() {
    let canary_without_steps = with_deploy("        port: 1\n        strategy: canary\n");
    assert_eq!(codes(&canary_without_steps), ["9:19 canary-steps"]);
    let empty_steps = with_deploy("        port: 1\n        strategy: canary\n        canary: { steps: [] }\n");
    assert_eq!(codes(&empty_steps), ["10:9 canary-steps"]);
    let misplaced = with_deploy(
        "        port: 1\n        strategy: rolling\n        canary: { steps: [{ weight: 10 }] }\n        keep-old: 1m\n",
    );
    assert_eq!(codes(&misplaced), ["10:9 misplaced-key", "11:9 misplaced-key"]);
    let weights = with_deploy(
        "        port: 1\n        strategy: canary\n        canary:\n          steps: [{ weight: 50 }, { weight: 20 }, { weight: 150 }, { pause: 1s }, { weight: 0.5 }]\n",
    );
    assert_eq!(
        codes(&weights),
        ["11:45 canary-weight", "11:61 canary-weight", "11:68 canary-weight", "11:93 canary-weight"]
    );
    let unknown = with_deploy("        port: 1\n        strategy: bluegreen\n");
    assert_eq!(codes(&unknown), ["9:19 unknown-strategy"]);
    let stuck = with_deploy("        port: 1\n        max-surge: 0\n");
    assert_eq!(codes(&stuck), ["9:20 bad-number"]);
}

#[test]
fn environments_must_exist_and_not_follow_each_other_in_circles() {
    let src = "environments:\n  staging: { after: production }\n  production: { after: staging }\n  qa: { after: [stagign] }\n  solo: { after: solo }\nservices:\n  web:\n    run: x\n    deploy: { prod: { port: 1 } }\n";
    assert_eq!(
        codes(src),
        ["3:24 after-cycle", "4:17 unknown-environment", "5:18 after-cycle", "9:15 unknown-environment"]
    );
    let (_, diagnostics) = compile(src);
    let messages: Vec<&str> = diagnostics.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(messages[0], "`after:` goes round in a circle: staging → production → staging");
    assert_eq!(messages[2], "`after:` goes round in a circle: solo → solo");
    assert_eq!(diagnostics[1].help.as_deref(), Some("did you mean `staging`?"));
}

#[test]
fn two_services_cannot_share_a_port_on_the_same_hosts() {
    let src = "environments:\n  staging: {}\n  production: {}\n  remote: { hosts: [edge] }\nservices:\n  web:\n    run: x\n    deploy: { staging: { port: 8001 }, remote: { port: 8001 } }\n  api:\n    run: y\n    deploy: { staging: { port: 8001 }, production: { port: 8001 } }\n";
    assert_eq!(codes(src), ["11:32 port-conflict", "11:60 port-conflict"]);
    let (_, diagnostics) = compile(src);
    assert_eq!(diagnostics[0].message, "service `api` in `staging` wants port 8001, already taken by service `web`");
    assert_eq!(
        diagnostics[1].message,
        "service `api` in `production` wants port 8001, already taken by service `web` in `staging` (on the same hosts)"
    );
}

#[test]
fn run_and_image_ports_and_health_are_checked() {
    let both =
        "environments:\n  s: {}\nservices:\n  web:\n    run: x\n    image: y:1\n    deploy: { s: { port: 70000 } }\n";
    assert_eq!(codes(both), ["6:5 run-or-image", "7:26 port-range"]);
    let zero = with_deploy("        port: 0\n");
    assert_eq!(codes(&zero), ["8:15 port-range"]);
    let missing = with_deploy("        replicas: 1\n");
    assert_eq!(codes(&missing), ["7:7 missing-key"]);
    let health = "environments:\n  s: {}\nservices:\n  web:\n    run: x\n    health: { http: healthz, tcp: true, interval: 0s }\n    deploy: { s: { port: 1 } }\n";
    assert_eq!(codes(health), ["6:13 bad-health", "6:21 bad-health", "6:30 bad-health"]);
}

#[test]
fn text_that_is_not_a_deploy_file_gives_no_spec() {
    for src in ["", "[1, 2]", "a: [", "just text"] {
        let (spec, diagnostics) = compile(src);
        assert!(spec.is_none(), "{src:?}");
        assert!(diagnostics.iter().any(Diagnostic::is_error), "{src:?}");
    }
    let (spec, diagnostics) = compile("environments: {}\nservices: {}\n---\nx: 1\n");
    assert!(spec.is_some());
    assert_eq!(diagnostics[0].message, "a deploy.yml holds exactly one YAML document");
}

#[test]
fn names_must_be_usable_in_ids_and_env_keys_in_a_shell() {
    let src = "environments:\n  prod uction: {}\nservices:\n  web:\n    run: x\n    env: { 1BAD: x, GOOD_1: y }\n    deploy: { prod uction: { port: 1 } }\n";
    assert_eq!(codes(src), ["2:3 bad-name", "6:12 bad-name"]);
}

#[test]
fn every_prefix_of_a_good_file_compiles_without_panicking() {
    for (idx, _) in EXAMPLE.char_indices() {
        let src = &EXAMPLE[..idx];
        let (_, diagnostics) = compile(src);
        assert!(diagnostics.iter().all(|d| d.span.end.offset <= src.len()), "{src:?}");
    }
}

#[test]
fn branches_limit_which_releases_may_deploy() {
    let spec = spec(
        "environments:\n  production: { branches: [main, 'release/*', '!release/old'] }\n  staging: {}\nservices: {}\n",
    );
    let production = spec.environment("production").expect("production");
    let allowed: Vec<bool> = ["main", "release/2", "release/old", "feature/x"]
        .iter()
        .map(|branch| production.allows_branch(branch))
        .collect();
    assert_eq!(allowed, [true, true, false, false]);
    assert!(spec.environment("staging").expect("staging").allows_branch("anything"));
    assert_eq!(codes("environments:\n  production: { branches: ['[z-a]'] }\nservices: {}\n"), ["2:28 bad-pattern"]);
}

#[test]
fn acting_on_a_file_needs_it_free_of_errors() {
    assert!(compile_valid(EXAMPLE).is_ok());
    let warned = "environments:\n  s: {}\nservices:\n  web:\n    run: x\n";
    assert!(compile_valid(warned).is_ok(), "warnings do not stop a deployment");
    let error = compile_valid("environments:\n  s: { verify: 30, approvals: x }\nservices:\n  web: { rnu: x }\n")
        .expect_err("errors");
    assert_eq!(error.errors.len(), 4);
    assert_eq!(
        error.to_string(),
        "deploy.yml has 4 errors: 2:16: `verify`: `30` has no unit [bad-duration]; 2:31: `approvals` must be a whole number, found a string `x` [bad-number]; 4:3: service `web` gives neither `run:` nor `image:` [run-or-image] (and 1 more; `ferry lint` lists them all)"
    );
    assert_eq!(compile_valid("").expect_err("empty").to_string().lines().count(), 1);
}

#[test]
fn image_is_a_reference_or_an_archive_in_the_release() {
    let image = |value: &str| {
        format!(
            "environments:\n  s: {{}}\nservices:\n  web:\n    image: {value}\n    deploy: {{ s: {{ port: 80 }} }}\n"
        )
    };
    let archive = spec(&image("{ archive: dist/web.tar }"));
    assert_eq!(
        archive.services[0].process,
        ProcessSpec::Image { image: "dist/web.tar".to_owned(), archive: Some("dist/web.tar".to_owned()) }
    );
    let pinned = spec(&image("registry.example.com:5000/team/web@sha256:abc"));
    assert!(matches!(&pinned.services[0].process, ProcessSpec::Image { archive: None, .. }));
    assert_eq!(codes(&image("localhost:5000/web")), ["5:12 image-tag"]);
    assert_eq!(codes(&image("Web:1")), ["5:12 image-reference"]);
    assert_eq!(codes(&image("{ archive: ../web.tar }")), ["5:23 image-archive"]);
    assert_eq!(codes(&image("{ archive: /tmp/web.tar }")), ["5:23 image-archive"]);
    assert_eq!(codes(&image("{ file: web.tar }")), ["5:12 image-archive", "5:14 unknown-key"]);
}

#[test]
fn the_proxys_response_timeout_and_trusted_proxies_reach_the_unit() {
    let src = "environments:\n  staging: { trusted-proxies: [10.0.0.5, '::1'] }\nservices:\n  web:\n    run: x\n    \
               deploy: { staging: { port: 80, response-timeout: 5s } }\n";
    let unit = spec(src).unit("shop", "web", "staging", None).expect("a unit");
    assert_eq!(
        (unit.response_timeout_ms, unit.trusted_proxies.as_slice()),
        (5_000, &["10.0.0.5".to_owned(), "::1".to_owned()][..])
    );
    let defaults = spec(&with_deploy("        port: 80\n")).unit("shop", "web", "staging", None).expect("a unit");
    assert_eq!((defaults.response_timeout_ms, defaults.trusted_proxies.len()), (60_000, 0));

    let bad = "environments:\n  staging: { trusted-proxies: [lb.internal] }\nservices:\n  web:\n    run: x\n    \
               deploy: { staging: { port: 80, response-timeout: 0s } }\n";
    assert_eq!(codes(bad), ["2:32 bad-address", "6:54 bad-duration"]);
}

#[test]
fn tls_takes_one_certificate_or_a_list_and_reaches_the_unit() {
    let one = with_deploy("        port: 443\n        tls: { cert: /etc/tls/a.pem, key: /etc/tls/a.key }\n");
    let unit = spec(&one).unit("shop", "web", "staging", None).expect("a unit");
    assert_eq!(unit.tls, [TlsFiles { cert: "/etc/tls/a.pem".into(), key: "/etc/tls/a.key".into() }]);

    let two = with_deploy(
        "        port: 443\n        tls:\n          - { cert: /a.pem, key: /a.key }\n          - { cert: /b.pem, key: /b.key }\n",
    );
    let unit = spec(&two).unit("shop", "web", "staging", None).expect("a unit");
    assert_eq!(unit.tls.iter().map(|files| files.cert.as_str()).collect::<Vec<_>>(), ["/a.pem", "/b.pem"]);
    assert!(
        spec(&with_deploy("        port: 80\n")).unit("shop", "web", "staging", None).expect("a unit").tls.is_empty()
    );
}

#[test]
fn tls_mistakes_are_pointed_at() {
    // A relative path, a missing key, an unknown key with the intended one, and a string.
    assert_eq!(
        codes(&with_deploy("        port: 443\n        tls: { cert: a.pem, key: /a.key }\n")),
        ["9:22 tls-path"]
    );
    assert_eq!(codes(&with_deploy("        port: 443\n        tls: { cert: /a.pem }\n")), ["9:14 missing-key"]);
    let unknown = compile(&with_deploy("        port: 443\n        tls: { cert: /a.pem, kye: /a.key }\n")).1;
    assert_eq!(
        unknown.iter().map(|d| format!("{}:{} {}", d.span.start.line, d.span.start.col, d.code)).collect::<Vec<_>>(),
        ["9:14 missing-key", "9:30 unknown-key"]
    );
    assert!(unknown[1].help.as_deref().unwrap_or_default().contains("key"), "{unknown:#?}");
    assert_eq!(codes(&with_deploy("        port: 443\n        tls: /a.pem\n")), ["9:14 wrong-type"]);
}

/// The issue's example of `analysis.queries`, an Argo Rollouts AnalysisTemplate in Ferry's words.
const QUERIES: &str = r#"        port: 8001
        analysis:
          max-error-rate: 0.05
          queries:
            - name: error-ratio
              query: |
                sum(rate(http_requests_total{service="{{service}}",release="{{release}}",code=~"5.."}[1m]))
                / sum(rate(http_requests_total{service="{{service}}",release="{{release}}"}[1m]))
              interval: 30s
              success: result < 0.01
              failure: result >= 0.05
              failure-limit: 1
              inconclusive-limit: 2
              count: 0
            - name: latency
              query: histogram_quantile(0.99, sum by (le) (rate(latency_bucket{release="{{ release }}"}[1m]))) > {{stable}}
"#;

#[test]
fn analysis_queries_read_with_their_defaults() {
    let file = spec(&with_deploy(QUERIES));
    let analysis =
        file.service("web").and_then(|web| web.deploy_to("staging")).and_then(|deploy| deploy.analysis.clone());
    let queries = analysis.map(|analysis| analysis.queries).unwrap_or_default();
    assert_eq!(queries.len(), 2, "{queries:#?}");
    assert_eq!(
        queries[0],
        AnalysisQuery {
            name: "error-ratio".to_owned(),
            query: "sum(rate(http_requests_total{service=\"{{service}}\",release=\"{{release}}\",code=~\"5..\"}[1m]))\n/ sum(rate(http_requests_total{service=\"{{service}}\",release=\"{{release}}\"}[1m]))\n".to_owned(),
            interval_ms: 30_000,
            success: Some("result < 0.01".to_owned()),
            failure: Some("result >= 0.05".to_owned()),
            failure_limit: 1,
            inconclusive_limit: 2,
            count: 0,
        }
    );
    let latency = &queries[1];
    assert_eq!(
        (
            latency.interval_ms,
            latency.success.as_deref(),
            latency.failure.as_deref(),
            latency.failure_limit,
            latency.count
        ),
        (crate::queries::DEFAULT_INTERVAL_MS, None, None, 0, 0)
    );
    // Queries alone are an analysis.
    let only = spec(&with_deploy("        port: 8001\n        analysis: { queries: [ { name: up, query: up } ] }\n"));
    let deploy = only.service("web").and_then(|web| web.deploy_to("staging")).expect("a deploy");
    assert_eq!(deploy.analysis.as_ref().map(|analysis| analysis.queries.len()), Some(1));
}

#[test]
fn analysis_query_mistakes_are_pointed_at() {
    let src = with_deploy(
        r#"        port: 8001
        analysis:
          queries:
            - name: a
              query: up{release="{{version}}"}
            - name: b
              query: sum(rate(x[1m])
              success: result = 1
              interval: 500ms
            - name: a
              query: up
              failure: result < 1 && result > 0
              count: -1
            - query: up
              colour: red
            - name: bad name
              query: up
"#,
    );
    assert_eq!(
        codes(&src),
        [
            "12:22 unknown-placeholder",
            "14:22 bad-query",
            "15:24 bad-condition",
            "16:25 bad-duration",
            "17:15 duplicate-query",
            "19:24 bad-condition",
            "20:22 bad-number",
            "21:15 missing-key",
            "22:15 unknown-key",
            "23:21 bad-name",
        ]
    );
    let messages: Vec<String> = compile(&src).1.iter().map(|d| d.message.clone()).collect();
    assert_eq!(messages[0], "the query has unknown placeholder `{{version}}`");
    assert_eq!(
        messages[2],
        "`success: result = 1` is not a condition: unexpected `=` at column 8: expected `==` to compare"
    );
    assert_eq!(messages[4], "the analysis of `web` in `staging` has two queries named `a`");
}

#[test]
fn a_service_names_the_receiver_that_owns_its_incidents() {
    let src = EXAMPLE.replace("    run: python3 server.py\n", "    run: python3 server.py\n    owner: web-oncall\n");
    assert_eq!(spec(&src).services[0].owner.as_deref(), Some("web-oncall"));
    assert_eq!(spec(EXAMPLE).services[0].owner, None);
    assert_eq!(codes(&src.replace("owner: web-oncall", "owner: [a, b]")), ["7:12 wrong-type"]);
}

#[test]
fn metrics_take_a_path_or_a_table_and_reach_the_unit() {
    let with_metrics = |metrics: &str| {
        format!(
            "environments:\n  s: {{}}\nservices:\n  web:\n    run: x\n    metrics: {metrics}\n    deploy: {{ s: {{ port: 8001 }} }}\n"
        )
    };
    let short = spec(&with_metrics("/metrics"));
    let unit = short.unit("shop", "web", "s", None).expect("a unit");
    assert_eq!(
        unit.metrics,
        Some(MetricsSpec { path: "/metrics".to_owned(), interval_ms: 15_000, timeout_ms: 10_000 })
    );
    let table = spec(&with_metrics("{ path: /internal/metrics, interval: 5s }"));
    assert_eq!(
        table.service("web").and_then(|web| web.metrics.clone()),
        Some(MetricsSpec { path: "/internal/metrics".to_owned(), interval_ms: 5_000, timeout_ms: 5_000 }),
        "a timeout left out is at most the interval"
    );
    assert_eq!(
        spec(&with_deploy("        port: 8001\n")).unit("p", "web", "staging", None).expect("unit").metrics,
        None
    );
    assert_eq!(codes(&with_metrics("metrics")), ["6:14 bad-metrics"]);
    assert_eq!(codes(&with_metrics("{ path: /m, interval: 10s, timeout: 20s }")), ["6:50 bad-metrics"]);
    assert_eq!(codes(&with_metrics("{ path: /m, interval: 100ms }")), ["6:14 bad-metrics"]);
    assert_eq!(codes(&with_metrics("{ paht: /m }")), ["6:16 unknown-key"]);
}

#[test]
fn slos_and_error_budgets_are_checked_where_they_are_written() {
    let src = "environments:
  production: { error-budget: always }
services:
  web:
    run: x
    deploy: { production: { port: 1 } }
    slos:
      - name: a
        objective: 100
        sli: proxy-availabilty
      - name: b
        objective: 99
        sli: { proxy-latency: 300ms }
      - name: c
        objective: 99
        window: 1000d
        sli: { errors: \"sum(rate(x[5m]))\", total: \"sum(rate(y[{{.window}}]\" }
      - objective: 99.9
        sli: proxy-availability
";
    assert_eq!(
        codes(src),
        [
            "2:31 unknown-error-budget",
            "9:20 bad-objective",
            "10:14 unknown-sli",
            "13:31 bad-sli",
            "16:17 bad-window",
            "17:24 missing-window",
            "17:51 bad-query",
            "18:9 missing-key",
        ]
    );
    let messages: Vec<String> =
        compile(src).1.iter().map(|d| format!("{} ({})", d.message, d.help.as_deref().unwrap_or(""))).collect();
    assert_eq!(messages[2], "unknown built-in SLI `proxy-availabilty` (did you mean `proxy-availability`?)");
    assert_eq!(
        messages[3],
        "`proxy-latency` must be a bucket bound of the proxy's latency histogram, found `300ms` (use `250ms` or `500ms` \
         (the bounds are 0.5ms, 1ms, 2.5ms, 5ms, 10ms, 25ms, 50ms, 100ms, 250ms, 500ms, 1s, 2500ms, 5s, 10s, 30s, 1m))"
    );
}

#[test]
fn an_slo_needs_both_queries_and_a_name_of_its_own() {
    let src = "environments: { production: {} }
services:
  web:
    run: x
    deploy: { production: { port: 1 } }
    slos:
      - { name: a, objective: 99, sli: { errors: \"sum(rate(x[{{.window}}]))\" } }
      - { name: b, objective: 99, sli: proxy-availability }
      - { name: b, objective: 99, sli: proxy-availability }
      - { name: c, objective: 99, sli: { proxy-availability: yes } }
";
    assert_eq!(codes(src), ["7:40 missing-key", "9:9 duplicate-slo", "10:42 bad-sli"]);
}
