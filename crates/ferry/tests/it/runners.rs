//! `ferry runners` and `ferry runner revoke` against a real `ferry server`, with a real
//! `ferry runner` registered for one project.

use std::process::Stdio;

use serde_json::Value;

use crate::harness::Repo;
use crate::runner::{Process, client_command, output_within, start_server, text, wait_for};

#[test]
fn runners_are_listed_with_their_projects_and_revoked_by_name() {
    let scratch = tempfile::Builder::new().prefix("ferry-runners-it-").tempdir().expect("temp dir");
    let repo = Repo::new(&[("README", "demo")]);
    let (server, url, admin) = start_server(scratch.path());
    let ferry = |args: &[&str]| {
        let output = output_within(client_command(&url, &admin, args));
        assert!(output.status.success(), "{}\n--- server\n{}", text(&output), server.stderr());
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    ferry(&["project", "add", "demo", "--repo", &repo.path().display().to_string()]);

    let runner_stderr = scratch.path().join("runner.stderr");
    let mut command = client_command(&url, &admin, &["runner", "--name", "demo-box", "--project", "demo"]);
    let child = command
        .arg("--work-dir")
        .arg(scratch.path().join("runner"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&runner_stderr).expect("a stderr file"))
        .spawn()
        .expect("ferry runner starts");
    // Held until the test ends, which kills it.
    let _runner = Process { child, stderr: runner_stderr };
    let listed = |name: &str| -> Option<Value> {
        let runners: Value = serde_json::from_str(&ferry(&["runners", "--json"])).expect("JSON");
        runners.as_array().expect("a list").iter().find(|runner| runner["name"] == name).cloned()
    };
    let demo_box = wait_for("the runner to register", || listed("demo-box"));
    assert_eq!(demo_box["projects"], serde_json::json!(["demo"]), "{demo_box}");
    assert_eq!(demo_box["revoked_at"], Value::Null);
    let id = demo_box["id"].as_i64().expect("an id");

    let table = ferry(&["runners"]);
    let line = table.lines().find(|line| line.contains("demo-box")).expect("a line for demo-box");
    assert!(
        line.starts_with(&format!("{id} demo-box idle"))
            && line.contains("projects demo")
            && line.contains("labels self-hosted,linux"),
        "{table}"
    );

    assert_eq!(
        ferry(&["runner", "revoke", "demo-box"]),
        format!("runner demo-box ({id}) revoked: its token no longer works\n")
    );
    assert!(listed("demo-box").expect("still listed")["revoked_at"].is_i64());
    let revoked: Value = serde_json::from_str(&ferry(&["runner", "revoke", &id.to_string(), "--json"])).expect("JSON");
    assert_eq!((revoked["id"].as_i64(), revoked["name"].as_str()), (Some(id), Some("demo-box")), "by id, again");

    let unknown = output_within(client_command(&url, &admin, &["runner", "revoke", "nope"]));
    assert_eq!(unknown.status.code(), Some(2), "{}", text(&unknown));
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("no runner has the id or name \"nope\""),
        "{}",
        text(&unknown)
    );
}
