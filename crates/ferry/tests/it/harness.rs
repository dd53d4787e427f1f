//! The one helper these tests share: a temporary git repository with workflow files, and
//! `ferry` run on it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// A temporary git repository with one commit.
pub struct Repo {
    pub dir: tempfile::TempDir,
}

impl Repo {
    /// A repository whose files are `files` (path, contents), committed on branch `main`.
    pub fn new(files: &[(&str, &str)]) -> Repo {
        let dir = tempfile::Builder::new().prefix("ferry-it-").tempdir().expect("temp dir");
        let repo = Repo { dir };
        repo.git(&["init", "--quiet", "--initial-branch=main"]);
        for (path, contents) in files {
            repo.write(path, contents);
        }
        repo.commit("initial");
        repo
    }

    /// A repository with one GitHub workflow at `.github/workflows/ci.yml`.
    pub fn with_workflow(workflow: &str) -> Repo {
        Repo::new(&[(".github/workflows/ci.yml", workflow)])
    }

    /// A repository whose workflow names marker files as `@name@`; each becomes a path
    /// outside the job's workspace (see [`marker`]), returned in the order of `markers`.
    pub fn with_markers(workflow: &str, markers: &[&str]) -> (Repo, Vec<PathBuf>) {
        let repo = Repo::new(&[]);
        let paths: Vec<PathBuf> = markers.iter().map(|name| marker(&repo, name)).collect();
        let workflow = markers.iter().zip(&paths).fold(workflow.to_owned(), |text, (name, path)| {
            text.replace(&format!("@{name}@"), &path.display().to_string())
        });
        repo.write(".github/workflows/ci.yml", &workflow);
        repo.commit("workflow");
        (repo, paths)
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, path: &str, contents: &str) {
        let path = self.path().join(path);
        std::fs::create_dir_all(path.parent().expect("a file in the repository")).expect("mkdir");
        std::fs::write(&path, contents).expect("write");
    }

    pub fn commit(&self, message: &str) {
        self.git(&["add", "--all"]);
        self.git(&["commit", "--quiet", "--allow-empty", "-m", message]);
    }

    pub fn git(&self, args: &[&str]) -> String {
        git_in(self.path(), args)
    }

    /// `ferry run` in this repository with `args`, writing and returning its report.
    pub fn run(&self, args: &[&str]) -> Run {
        let report = self.path().join(".git").join("ferry-report.json");
        let mut command = ferry();
        command.arg("run").arg(self.path()).arg("--report").arg(&report).args(args);
        // actions/cache entries live with the repository, so runs of one test share them.
        command.env("FERRY_CACHE_DIR", self.path().join(".git").join("ferry-cache"));
        // Fetched actions and the tool cache too, not in the user's cache folder.
        command.env("XDG_CACHE_HOME", self.path().join(".git").join("user-cache"));
        let output = command.output().expect("ferry runs");
        Run::from_output(output, &report)
    }
}

/// `git ARGS` in `dir` with the tests' identity; its trimmed output (it must succeed).
pub fn git_in(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git").current_dir(dir).args(args).envs(git_identity()).output().expect("git runs");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn git_identity() -> [(&'static str, &'static str); 4] {
    [
        ("GIT_AUTHOR_NAME", "Ferry Tests"),
        ("GIT_AUTHOR_EMAIL", "tests@ferry.invalid"),
        ("GIT_COMMITTER_NAME", "Ferry Tests"),
        ("GIT_COMMITTER_EMAIL", "tests@ferry.invalid"),
    ]
}

/// The `ferry` binary under test, with colours off, and (for `ferry server`) no local agent,
/// which would outlive the test as it is meant to outlive the server.
pub fn ferry() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ferry"));
    command.env("NO_COLOR", "1").env_remove("CLICOLOR_FORCE").env("FERRY_NO_AGENT", "1").envs(git_identity());
    command
}

/// What one `ferry run` did.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// The `--report` JSON (`Value::Null` when none was written).
    pub report: Value,
}

impl Run {
    pub fn from_output(output: Output, report: &Path) -> Run {
        let report = std::fs::read_to_string(report)
            .ok()
            .map(|text| serde_json::from_str(&text).expect("the report is JSON"))
            .unwrap_or(Value::Null);
        Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            report,
        }
    }

    /// `job / step-id-or-name: outcome/conclusion` lines and the run's conclusion: the shape
    /// of the run, for assertions that read like the workflow.
    pub fn trace(&self) -> String {
        let mut lines = vec![format!("run: {}", self.report["conclusion"].as_str().unwrap_or("?"))];
        for (job, entry) in self.report["jobs"].as_object().into_iter().flatten() {
            lines.push(format!("{job}: {}", entry["conclusion"].as_str().unwrap_or("?")));
            for step in entry["steps"].as_array().into_iter().flatten() {
                let name = step["id"].as_str().or_else(|| step["name"].as_str()).unwrap_or("?");
                let (outcome, conclusion) =
                    (step["outcome"].as_str().unwrap_or("?"), step["conclusion"].as_str().unwrap_or("?"));
                let result = if outcome == conclusion { outcome.to_owned() } else { format!("{outcome}/{conclusion}") };
                lines.push(format!("  {name}: {result}"));
            }
        }
        lines.join("\n")
    }

    /// The lines a job printed (its prefix removed).
    pub fn lines_of(&self, job: &str) -> Vec<&str> {
        let prefix = format!("{job} | ");
        self.stdout.lines().filter_map(|line| line.strip_prefix(&prefix)).collect()
    }

    /// Fails with everything ferry printed, for assertion messages.
    pub fn context(&self) -> String {
        format!(
            "exit {:?}\n--- stdout\n{}\n--- stderr\n{}\n--- report\n{:#}",
            self.code, self.stdout, self.stderr, self.report
        )
    }
}

/// A path inside the repository's `.git` folder, outside every job's workspace, that steps
/// can write to so tests can see what happened.
pub fn marker(repo: &Repo, name: &str) -> PathBuf {
    repo.path().join(".git").join(name)
}

/// A free loopback port (the usual race: another process may take it before it is used).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("an address").port()
}

/// `GET path` on a loopback port over a fresh connection: the status and body, or `None` when
/// nothing answers.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    http_get_at("127.0.0.1", port, path)
}

/// [`http_get`] on loopback address `ip` (`127.0.0.2`, where a second agent's proxies listen).
pub fn http_get_at(ip: &str, port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect((ip, port)).ok()?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10))).ok()?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    let status = answer.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, answer.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default()))
}

/// `GET /` on a loopback port: the body of a 200 answer.
pub fn get_ok(port: u16) -> Option<String> {
    http_get(port, "/").and_then(|(status, body)| (status == 200).then_some(body))
}
