//! `ferry release create --dir`, `ferry releases`, `ferry var` and `ferry secret set --env`
//! against a real `ferry server`.

use serde_json::Value;

use crate::harness::Repo;
use crate::runner::{client_command, output_within, start_server, text};

const DEPLOY: &str = "
services:
  web:
    run: python3 server.py
    deploy:
      staging: { port: 8001 }
";

#[test]
fn a_folder_becomes_numbered_releases_listed_newest_first() {
    let scratch = tempfile::Builder::new().prefix("ferry-releases-it-").tempdir().expect("temp dir");
    let repo = Repo::new(&[(".ferry/deploy.yml", DEPLOY), ("server.py", "print('hi')\n")]);
    let (server, url, admin) = start_server(scratch.path());
    let ferry = |args: &[&str]| {
        let output = output_within(client_command(&url, &admin, args));
        assert!(output.status.success(), "{}\n--- server\n{}", text(&output), server.stderr());
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    ferry(&["project", "add", "demo", "--repo", &repo.path().display().to_string()]);
    let dist = scratch.path().join("dist");
    std::fs::create_dir_all(dist.join("static")).expect("a folder");
    std::fs::write(dist.join("server.py"), "print('hello')\n").expect("a file");
    std::fs::write(dist.join("static/index.html"), "<h1>hi</h1>\n").expect("a file");
    let dir = dist.display().to_string();

    let first: Value =
        serde_json::from_str(&ferry(&["release", "create", "demo", "web", "--dir", &dir, "--json"])).expect("JSON");
    assert_eq!((first["number"].as_i64(), first["service"].as_str()), (Some(1), Some("web")), "{first}");
    assert_eq!(first["commit"].as_str(), Some(repo.git(&["rev-parse", "HEAD"]).trim()), "{first}");
    let paths: Vec<&str> =
        first["files"].as_array().expect("files").iter().filter_map(|file| file["path"].as_str()).collect();
    assert_eq!(paths, ["server.py", "static/index.html"]);
    assert!(first["deploy_spec"].as_str().is_some_and(|spec| spec.contains("python3 server.py")), "{first}");

    // The same files again: nothing to upload, a new number.
    let second = ferry(&["release", "create", "demo", "web", "--dir", &dir]);
    assert!(second.starts_with("release 2 of web made from commit"), "{second}");

    let listed: Value = serde_json::from_str(&ferry(&["releases", "demo", "--json"])).expect("JSON");
    let numbers: Vec<i64> =
        listed.as_array().expect("a list").iter().filter_map(|release| release["number"].as_i64()).collect();
    assert_eq!(numbers, [2, 1]);
    let table = ferry(&["releases", "demo", "web"]);
    assert_eq!(table.lines().count(), 3, "a header and two releases:\n{table}");

    // A service the deploy.yml does not declare is refused, saying which it declares.
    let refused = output_within(client_command(&url, &admin, &["release", "create", "demo", "api", "--dir", &dir]));
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("declares no service \"api\" (it declares: web)"),
        "{}",
        text(&refused)
    );
}

#[test]
fn variables_and_secrets_are_set_per_environment() {
    let scratch = tempfile::Builder::new().prefix("ferry-vars-it-").tempdir().expect("temp dir");
    let repo = Repo::new(&[("README", "demo")]);
    let (server, url, admin) = start_server(scratch.path());
    let ferry = |args: &[&str]| {
        let output = output_within(client_command(&url, &admin, args));
        assert!(output.status.success(), "{}\n--- server\n{}", text(&output), server.stderr());
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    ferry(&["project", "add", "demo", "--repo", &repo.path().display().to_string()]);
    ferry(&["var", "set", "demo", "REGION", "eu"]);
    assert_eq!(
        ferry(&["var", "set", "demo", "REGION", "us", "--env", "production"]),
        "var REGION set in environment production of project demo\n"
    );
    ferry(&["var", "set", "demo", "LOG_LEVEL", "debug", "--env", "production"]);
    let production: Value =
        serde_json::from_str(&ferry(&["var", "list", "demo", "--env", "production", "--json"])).expect("JSON");
    let pairs: Vec<(&str, &str)> = production
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|var| Some((var["name"].as_str()?, var["value"].as_str()?)))
        .collect();
    assert_eq!(pairs, [("LOG_LEVEL", "debug"), ("REGION", "us")]);
    assert_eq!(ferry(&["var", "list", "demo"]), "REGION=eu\n");
    ferry(&["var", "delete", "demo", "LOG_LEVEL", "--env", "production"]);
    assert_eq!(ferry(&["var", "list", "demo", "--env", "production"]), "REGION=us\n");

    let set: Value = serde_json::from_str(&ferry(&[
        "secret",
        "set",
        "demo",
        "DB_PASSWORD",
        "hunter2",
        "--env",
        "production",
        "--json",
    ]))
    .expect("JSON");
    assert_eq!(set, serde_json::json!({"project": "demo", "environment": "production", "secret": "DB_PASSWORD"}));
}
