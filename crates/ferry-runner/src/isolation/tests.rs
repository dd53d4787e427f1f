//! The environment allow-list and the Landlock rule builder.

use std::ffi::OsString;
use std::path::PathBuf;

use super::*;

fn vars(pairs: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
    pairs.iter().map(|(name, value)| (OsString::from(name), OsString::from(value))).collect()
}

#[test]
fn steps_get_the_allow_listed_host_variables_and_no_ferry_one() {
    let host = vars(&[
        ("PATH", "/usr/bin:/bin"),
        ("HOME", "/home/ci"),
        ("LC_ALL", "C.UTF-8"),
        ("https_proxy", "http://proxy:3128"),
        ("FERRY_TOKEN", "ferryr_abc_secret"),
        ("FERRY_DATABASE", "postgres://ferry:pw@db/ferry"),
        ("AWS_SECRET_ACCESS_KEY", "hunter2"),
        ("JAVA_HOME", "/opt/jdk"),
        ("RUSTUP_HOME", "/opt/rustup"),
    ]);
    let env = host_env(host, &["JAVA_HOME".to_owned()]);
    let names: Vec<&str> = env.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["PATH", "HOME", "LC_ALL", "https_proxy", "JAVA_HOME"]);
}

#[test]
fn a_passed_ferry_variable_still_never_reaches_a_step() {
    let env = host_env(vars(&[("FERRY_TOKEN", "ferryr_x"), ("ferry_token", "ferryr_y")]), &["ferry_token".to_owned()]);
    assert_eq!(env, []);
}

#[test]
fn passing_a_ferry_variable_or_a_bad_name_is_refused_with_the_reason() {
    assert!(check_pass_env(&["JAVA_HOME".to_owned(), "_X1".to_owned()]).is_ok());
    let refused = |name: &str| check_pass_env(&[name.to_owned()]).expect_err("refused").to_string();
    assert!(refused("FERRY_TOKEN").contains("FERRY_* variables are Ferry's own"), "{}", refused("FERRY_TOKEN"));
    assert!(refused("Ferry_Token").contains("Ferry's own"));
    for bad in ["", "1ABC", "A-B", "A=B"] {
        assert!(refused(bad).contains("a variable name is"), "{bad}: {}", refused(bad));
    }
}

/// `<tmp>/{data/{secret.key, runner/jobs/, blobs/}, beside/, beside.txt, link -> data}`.
fn layout() -> (tempfile::TempDir, PathBuf) {
    let root = tempfile::tempdir().expect("temp dir");
    let base = root.path().canonicalize().expect("canonical");
    let data = base.join("data");
    std::fs::create_dir_all(data.join("runner").join("jobs")).expect("mkdir");
    std::fs::create_dir_all(data.join("blobs")).expect("mkdir");
    std::fs::create_dir_all(base.join("beside")).expect("mkdir");
    std::fs::write(data.join("secret.key"), "key").expect("write");
    std::fs::write(base.join("beside.txt"), "text").expect("write");
    std::os::unix::fs::symlink(&data, base.join("link")).expect("symlink");
    (root, base)
}

#[test]
fn the_rules_grant_everything_on_the_way_but_the_data_dir_and_open_its_runner_folder() {
    let (_root, base) = layout();
    let data = base.join("data");
    let confinement = Confinement::new(&data, &[data.join("runner")]).expect("exists");
    let rules = confinement.rules().expect("rules");

    // Nothing granted holds the data directory, but for its runner folder.
    for path in rules.full.iter().chain(&rules.read) {
        assert!(!data.starts_with(path), "{} would grant the data directory", path.display());
        assert!(!path.starts_with(&data) || path.starts_with(data.join("runner")), "{}", path.display());
    }
    assert!(rules.full.contains(&base.join("beside")));
    assert!(rules.full.contains(&base.join("beside.txt")));
    assert!(rules.full.contains(&data.join("runner")));
    // A link into the data directory is no way around it.
    assert!(!rules.full.contains(&base.join("link")));
    // Every directory on the way may be listed, from `/` down to the data directory's parent.
    let way: Vec<PathBuf> = base.ancestors().map(PathBuf::from).collect::<Vec<_>>().into_iter().rev().collect();
    assert_eq!(rules.list, way);
    assert_eq!(rules.read, Vec::<PathBuf>::new());
}

#[test]
fn repositories_a_workspace_borrows_from_become_readable() {
    let (_root, base) = layout();
    let data = base.join("data");
    let mirror = data.join("mirrors").join("demo.git");
    std::fs::create_dir_all(mirror.join("objects")).expect("mkdir");
    let workspace = data.join("runner").join("jobs").join("1");
    std::fs::create_dir_all(workspace.join(".git/objects/info")).expect("mkdir");
    std::fs::write(workspace.join(".git/objects/info/alternates"), format!("{}\n", mirror.join("objects").display()))
        .expect("write");

    let alternates = alternates_of(&workspace);
    assert_eq!(alternates, [mirror.join("objects")]);
    let confinement = Confinement::new(&data, &[data.join("runner")]).expect("exists").with_readable(alternates);
    let rules = confinement.rules().expect("rules");
    assert_eq!(rules.read, [mirror.join("objects")]);
}
