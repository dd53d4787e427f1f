//! `ferry server`: the real binary starts, says where it listens, and answers `/healthz`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

#[test]
fn ferry_server_prints_its_address_and_answers_healthz() {
    let dir = tempfile::Builder::new().prefix("ferry-server-").tempdir().expect("temp dir");
    let data_dir = dir.path().join("data");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["server", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data_dir)
        .env_remove("FERRY_CONFIG")
        .env_remove("FERRY_DATABASE")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("ferry server starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let addr = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| line.strip_prefix("ferry server listening on http://").map(str::to_owned));
    let Some(addr) = addr else {
        let _ = child.kill();
        panic!("ferry server exited without saying where it listens: {:?}", child.wait());
    };
    let mut stream = TcpStream::connect(&addr).expect("connecting");
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: ferry\r\nConnection: close\r\n\r\n").expect("sending");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("reading");
    child.kill().expect("stopping ferry server");
    child.wait().expect("ferry server exits");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(data_dir.join("admin.token").exists());
    assert!(data_dir.join("secret.key").exists());
}

#[test]
fn ferry_server_reads_its_settings_from_a_config_file() {
    let dir = tempfile::Builder::new().prefix("ferry-server-").tempdir().expect("temp dir");
    let config = dir.path().join("ferry.toml");
    std::fs::write(&config, "[server]\ndata_dir = \"state\"\nlisten = \"127.0.0.1:0\"\n").expect("write");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["server", "--config"])
        .arg(&config)
        .env_remove("FERRY_DATA_DIR")
        .env_remove("FERRY_LISTEN")
        .env_remove("FERRY_DATABASE")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("ferry server starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let listening = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|line| line.contains("listening on http://127.0.0.1:"));
    child.kill().expect("stopping ferry server");
    child.wait().expect("ferry server exits");
    assert!(listening, "ferry server said where it listens");
    assert!(dir.path().join("state/admin.token").exists());
}

#[test]
fn ferry_server_refuses_a_log_filter_it_cannot_read_before_it_starts() {
    let dir = tempfile::Builder::new().prefix("ferry-server-").tempdir().expect("temp dir");
    let output = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["server", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .env("FERRY_LOG", "ferry_server=loud")
        .env("NO_COLOR", "1")
        .output()
        .expect("ferry server runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("FERRY_LOG=\"ferry_server=loud\" is not a log filter"), "{stderr}");
    assert!(!dir.path().join("data/admin.token").exists(), "nothing was set up");
}
