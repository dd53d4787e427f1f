//! DORA through the API: deployments and incidents sent from outside join the ledger with
//! the commits each brought (read from the project's repository), and the report gives the
//! keys worked out by hand from them; incidents are opened, listed and resolved.

use serde_json::json;

use crate::{TestRepo, TestServer};

/// The committer date of `sha` in `repo`, in seconds.
fn committed_at(repo: &TestRepo, sha: &str) -> i64 {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(repo.path())
        .args(["log", "-1", "--format=%ct", sha])
        .output()
        .expect("git");
    String::from_utf8_lossy(&out.stdout).trim().parse().expect("a committer date")
}

#[test]
fn events_from_outside_give_the_keys_worked_out_by_hand() {
    let repo = TestRepo::new(&[("README", "one")]);
    let c1 = repo.head();
    let c2 = repo.commit(&[("README", "two")], "two");
    let c3 = repo.commit(&[("README", "three")], "three");
    let server = crate::hooks::with_repo_project(TestServer::start(), &repo.path());
    let developer = server.token("developer");
    let now = committed_at(&repo, &c3);
    let (t1, t2) = ((now + 3600) * 1000, (now + 7200) * 1000);

    let bad = json!({"deployments": [
        {"service": "web", "environment": "production", "commit": "0000000000000000000000000000000000000bad",
         "finished_at": t1, "outcome": "succeeded"}]});
    let res = server.call("POST", "/api/v1/projects/web/dora/events", Some(&developer), Some(&bad));
    assert_eq!(res.status, 422, "{}", res.body);
    assert!(
        res.json()["error"].as_str().is_some_and(|error| error.contains("is not in web's repository")),
        "{}",
        res.body
    );

    let events = json!({
        "deployments": [
            {"service": "web", "environment": "production", "commit": c3, "finished_at": t2, "outcome": "succeeded"},
            {"service": "web", "environment": "production", "commit": c1, "finished_at": t1, "outcome": "succeeded"},
        ],
        "incidents": [
            {"service": "web", "environment": "production", "started_at": t2 + 60_000,
             "resolved_at": t2 + 3_660_000, "caused_by_commit": c2, "title": "checkout broken"},
        ],
    });
    let res = server.call("POST", "/api/v1/projects/web/dora/events", Some(&developer), Some(&events));
    assert_eq!(res.status, 201, "{}", res.body);
    assert_eq!(res.json(), json!({"deployments": 2, "incidents": 1}));

    let viewer = server.token("viewer");
    let until = ferry_dora::rfc3339(now + 86_400);
    let res = server.call("GET", &format!("/api/v1/projects/web/dora?service=web&until={until}"), Some(&viewer), None);
    assert_eq!(res.status, 200, "{}", res.body);
    let report = res.json();
    assert_eq!(report["window"]["to"], until.as_str());
    // Two successful deployments; the first brings only c1, the second c2 and c3.
    assert_eq!(report["deployment_frequency"]["deployments"], 2);
    let mut leads = [
        now + 3600 - committed_at(&repo, &c1),
        now + 7200 - committed_at(&repo, &c2),
        now + 7200 - committed_at(&repo, &c3),
    ];
    leads.sort_unstable();
    assert_eq!(report["lead_time"]["commits"], 3);
    assert_eq!(report["lead_time"]["median_seconds"], leads[1]);
    assert_eq!(report["lead_time"]["p90_seconds"], leads[2]);
    assert_eq!(report["lead_time"]["tier"], "elite");
    // The incident names c2, first brought by the second deployment: 1 of 2, recovered in 1 h.
    assert_eq!(report["change_failure_rate"], json!({"failed": 1, "total": 2, "rate": 0.5, "tier": "low"}));
    assert_eq!(
        report["recovery_time"],
        json!({"failures": 1, "median_seconds": 3600, "p90_seconds": 3600, "tier": "high"})
    );
    assert_eq!(report["rework_rate"], json!({"rework": 0, "total": 2, "rate": 0.0}));

    let res = server.call("GET", "/api/v1/projects/web/dora?service=web&window=30", Some(&viewer), None);
    assert_eq!(res.status, 422, "{}", res.body);
    assert!(res.body.contains("needs a unit"), "{}", res.body);
}

#[test]
fn without_a_service_the_report_adds_up_the_projects_services() {
    let repo = TestRepo::new(&[("README", "one")]);
    let c1 = repo.head();
    let c2 = repo.commit(&[("README", "two")], "two");
    let c3 = repo.commit(&[("README", "three")], "three");
    let server = crate::hooks::with_repo_project(TestServer::start(), &repo.path());
    let now = committed_at(&repo, &c3);
    let (t1, t2) = ((now + 3600) * 1000, (now + 7200) * 1000);
    // web: c1 succeeds (its first deployment brings c1 only), then c2 fails (brings c2);
    // api: c3 succeeds (brings c3 only); staging is another environment.
    let events = json!({"deployments": [
        {"service": "web", "environment": "production", "commit": c1, "finished_at": t1, "outcome": "succeeded"},
        {"service": "web", "environment": "production", "commit": c2, "finished_at": t2, "outcome": "failed"},
        {"service": "api", "environment": "production", "commit": c3, "finished_at": t1, "outcome": "succeeded"},
        {"service": "web", "environment": "staging", "commit": c3, "finished_at": t2, "outcome": "succeeded"},
    ]});
    let res = server.call("POST", "/api/v1/projects/web/dora/events", Some(&server.admin), Some(&events));
    assert_eq!(res.status, 201, "{}", res.body);

    let viewer = server.token("viewer");
    let until = ferry_dora::rfc3339(now + 86_400);
    let res = server.call("GET", &format!("/api/v1/projects/web/dora?until={until}"), Some(&viewer), None);
    assert_eq!(res.status, 200, "{}", res.body);
    let report = res.json();
    // Production only: web's two and api's one; two succeeded, on one day.
    assert_eq!(report["deployment_frequency"]["deployments"], 2);
    // c1 at web's success, c3 at api's (each a unit's first deployment); c2 came with a failure.
    let mut leads = [now + 3600 - committed_at(&repo, &c1), now + 3600 - committed_at(&repo, &c3)];
    leads.sort_unstable();
    assert_eq!(report["lead_time"]["commits"], 2);
    assert_eq!(report["lead_time"]["median_seconds"], leads[0]);
    assert_eq!(report["lead_time"]["p90_seconds"], leads[1]);
    // web's failure, 1 of 3, is not recovered: api's success is another unit's.
    assert_eq!(report["change_failure_rate"], json!({"failed": 1, "total": 3, "rate": 1.0 / 3.0, "tier": "low"}));
    assert_eq!(
        report["recovery_time"],
        json!({"failures": 0, "median_seconds": null, "p90_seconds": null, "tier": null})
    );
    assert_eq!(report["rework_rate"], json!({"rework": 0, "total": 3, "rate": 0.0}));
    // One service's report is that unit's alone.
    let res = server.call("GET", &format!("/api/v1/projects/web/dora?service=api&until={until}"), Some(&viewer), None);
    assert_eq!(res.json()["change_failure_rate"], json!({"failed": 0, "total": 1, "rate": 0.0, "tier": "elite"}));
}

#[test]
fn incidents_are_opened_listed_and_resolved() {
    let repo = TestRepo::new(&[("README", "one")]);
    let server = crate::hooks::with_repo_project(TestServer::start(), &repo.path());
    let developer = server.token("developer");
    let body = json!({"service": "web", "title": "slow checkout"});
    let res = server.call("POST", "/api/v1/projects/web/incidents", Some(&developer), Some(&body));
    assert_eq!(res.status, 201, "{}", res.body);
    let incident = res.json();
    assert_eq!(incident["environment"], "production");
    assert_eq!(incident["resolved_at"], serde_json::Value::Null);
    let id = incident["id"].as_i64().expect("an id");

    let bad = json!({"service": "web", "caused_by": 4242});
    let res = server.call("POST", "/api/v1/projects/web/incidents", Some(&developer), Some(&bad));
    assert_eq!(res.status, 422, "{}", res.body);
    assert!(res.body.contains("deployment 4242 is not a deployment of web to production"), "{}", res.body);

    let path = format!("/api/v1/incidents/{id}/resolve");
    let res = server.call("POST", &path, Some(&developer), None);
    assert_eq!(res.status, 200, "{}", res.body);
    let resolved_at = res.json()["resolved_at"].as_i64().expect("resolved");
    let res = server.call("POST", &path, Some(&developer), None);
    assert_eq!(res.json()["resolved_at"], resolved_at, "resolving again keeps the time");
    let res = server.call("POST", "/api/v1/incidents/99999/resolve", Some(&developer), None);
    assert_eq!(res.status, 404, "{}", res.body);

    let res = server.call("GET", "/api/v1/projects/web/incidents", Some(&server.token("viewer")), None);
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.json().as_array().map(Vec::len), Some(1));
    assert_eq!(res.json()[0]["title"], "slow checkout");

    // An incident that started as early as an i64 allows still shows its timeline (the
    // contract run found the window's start overflowing).
    let early = json!({"service": "web", "started_at": i64::MIN});
    let res = server.call("POST", "/api/v1/projects/web/incidents", Some(&developer), Some(&early));
    assert_eq!(res.status, 201, "{}", res.body);
    let path = format!("/api/v1/incidents/{}", res.json()["id"]);
    let res = server.call("GET", &path, Some(&server.token("viewer")), None);
    assert_eq!(res.status, 200, "{}", res.body);
}
