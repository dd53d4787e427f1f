//! `ferry dora`, `ferry dora import`, `ferry incident` and `ferry incidents` against a real
//! server: a history imported from CSV files gives the keys worked out by hand below
//! (docs/dora.md's definitions), and a bad row is refused with its file and line.

use serde_json::Value;

use crate::harness::Repo;
use crate::runner::{client_command, output_within, start_server, text};

#[test]
fn an_imported_history_gives_the_keys_worked_out_by_hand_and_incidents_open_and_resolve() {
    let scratch = tempfile::Builder::new().prefix("ferry-dora-it-").tempdir().expect("temp dir");
    let repo = Repo::new(&[("README", "one")]);
    let mut shas = vec![repo.git(&["rev-parse", "HEAD"]).trim().to_owned()];
    for n in ["two", "three"] {
        repo.write("README", n);
        repo.commit(n);
        shas.push(repo.git(&["rev-parse", "HEAD"]).trim().to_owned());
    }
    let (server, url, admin) = start_server(scratch.path());
    let ferry = |args: &[&str]| output_within(client_command(&url, &admin, args));
    let added = ferry(&["project", "add", "shop", "--repo", &repo.path().display().to_string()]);
    assert!(added.status.success(), "{}", text(&added));

    // A bad row: nothing is sent, and the error names the file and line.
    let bad = scratch.path().join("bad.csv");
    std::fs::write(&bad, "service,environment,commit,finished_at,outcome\nweb,production,abc,yesterday,succeeded\n")
        .expect("write");
    let refused = ferry(&["dora", "import", "shop", "--deployments", bad.to_str().expect("UTF-8")]);
    assert!(!refused.status.success());
    assert!(text(&refused).contains(&format!("{}:line 2", bad.display())), "{}", text(&refused));

    // Three deployments of web to production and one incident, all in the 30 days before
    // 2026-12-01. The incident names no cause, so it is attributed by time to the last
    // successful deployment before it started: the first. Hence, by hand:
    // - frequency: the 2 successful deployments; failed 2 of all 3 (the first, by the incident; the second, failed);
    // - recovery: the first from the incident's start (22nd 00:00) to its resolution (23rd
    //   00:00) = 86 400 s; the second from its finish (22nd 12:00) to the next success (24th
    //   00:00) = 129 600 s; median (1st of 2) 86 400, p90 (2nd of 2) 129 600;
    // - rework: the second finished while the incident was open: 1 of 3.
    let deployments = scratch.path().join("deployments.csv");
    std::fs::write(
        &deployments,
        format!(
            "service,environment,commit,finished_at,outcome\n\
             web,production,{},2026-11-20T00:00:00Z,succeeded\n\
             web,production,{},2026-11-22T12:00:00Z,failed\n\
             web,production,{},2026-11-24T00:00:00Z,succeeded\n",
            shas[0], shas[1], shas[2]
        ),
    )
    .expect("write");
    let incidents = scratch.path().join("incidents.csv");
    std::fs::write(
        &incidents,
        "service,environment,started_at,resolved_at,caused_by_commit\nweb,production,2026-11-22T00:00:00Z,2026-11-23T00:00:00Z,\n",
    )
    .expect("write");
    let args = ["dora", "import", "shop", "--deployments", deployments.to_str().expect("UTF-8"), "--incidents"];
    let imported = ferry(&[&args[..], &[incidents.to_str().expect("UTF-8")]].concat());
    assert!(imported.status.success(), "{}\n--- server\n{}", text(&imported), server.stderr());
    assert_eq!(String::from_utf8_lossy(&imported.stdout).trim(), "imported 3 deployments and 1 incidents into shop");

    let out = ferry(&["dora", "shop", "--service", "web", "--until", "2026-12-01T00:00:00Z", "--json"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", text(&out)));
    assert_eq!(report["window"]["to"], "2026-12-01T00:00:00Z", "{report:#}");
    assert_eq!(report["deployment_frequency"]["deployments"], 2, "{report:#}");
    let failures = &report["change_failure_rate"];
    assert_eq!((failures["failed"].as_u64(), failures["total"].as_u64()), (Some(2), Some(3)), "{report:#}");
    let recovery = &report["recovery_time"];
    assert_eq!(
        (recovery["failures"].as_u64(), recovery["median_seconds"].as_i64(), recovery["p90_seconds"].as_i64()),
        (Some(2), Some(86_400), Some(129_600)),
        "{report:#}"
    );
    assert_eq!((report["rework_rate"]["rework"].as_u64(), report["rework_rate"]["total"].as_u64()), (Some(1), Some(3)));
    let shown = ferry(&["dora", "shop", "--service", "web", "--until", "2026-12-01T00:00:00Z"]);
    assert!(text(&shown).contains("change failure rate"), "{}", text(&shown));
    // Without --service: every service of the project (web alone here) added up, so the same.
    let all = ferry(&["dora", "shop", "--until", "2026-12-01T00:00:00Z", "--json"]);
    let all_services: Value = serde_json::from_slice(&all.stdout).unwrap_or_else(|_| panic!("{}", text(&all)));
    assert_eq!(all_services, report);
    let shown = ferry(&["dora", "shop", "--until", "2026-12-01T00:00:00Z"]);
    assert!(text(&shown).contains("shop (all services) → production"), "{}", text(&shown));

    // An incident opened by hand, listed, resolved by its id alone.
    let out = ferry(&["incident", "open", "shop", "--service", "web", "--title", "checkout errors", "--json"]);
    let incident: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", text(&out)));
    assert_eq!((incident["title"].as_str(), incident["resolved_at"].as_i64()), (Some("checkout errors"), None));
    let id = incident["id"].as_i64().expect("an id").to_string();
    let listed: Value = serde_json::from_slice(&ferry(&["incidents", "shop", "--json"]).stdout).expect("JSON");
    assert!(listed.as_array().is_some_and(|all| all.iter().any(|one| one["id"] == incident["id"])), "{listed:#}");
    let out = ferry(&["incident", "resolve", &id, "--json"]);
    let resolved: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", text(&out)));
    assert!(resolved["resolved_at"].as_i64().is_some(), "{resolved:#}");
}
