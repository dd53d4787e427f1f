//! A throwaway PostgreSQL server for tests, run from Debian's `postgresql` binaries.
//!
//! The choice: each test process that asks for PostgreSQL starts its own server, once, and
//! shares it between its tests (a `Weak` in a static); each `TestDb` gets its own database.
//! `cargo nextest` runs every test in its own process, so the store's conformance suite runs
//! as one test per backend to pay the start-up (an `initdb` plus start, about a second or
//! two on this machine) once. A server shared across processes would need a lock file and
//! someone to decide when the last user is gone; per-process servers need neither.
//!
//! Start: `initdb` into a new temporary directory (as the unprivileged `postgres` user when
//! we are root, through `runuser` with an argument vector), then `postgres` itself as a
//! child listening only on 127.0.0.1 on a port the kernel picked for us, with `fsync=off`,
//! polled with `pg_isready` until it accepts connections (bounded).
//!
//! Stop: a watchdog `sh` process, in its own process group, reads its stdin, which is a pipe
//! whose write end only this process holds. When the last `TestDb` drops the server the pipe
//! closes; if the process dies instead (a panic that aborts, a timeout's SIGKILL) the kernel
//! closes it. Either way the watchdog sends the postmaster SIGQUIT (immediate shutdown),
//! waits for it to exit and deletes the directory, so no server outlives its tests.

use std::io::Write;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// How long a server may take to accept connections before the test fails.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Kills the postmaster whose data directory is `$1` and deletes `$2` once stdin closes.
/// A constant script: paths arrive as arguments, never spliced into the text.
const WATCHDOG: &str = r#"
read -r _ignored
pid=$(head -n 1 "$1/postmaster.pid" 2>/dev/null)
if [ -n "$pid" ]; then
    kill -QUIT "$pid" 2>/dev/null
    n=0
    while kill -0 "$pid" 2>/dev/null && [ "$n" -lt 200 ]; do sleep 0.05; n=$((n + 1)); done
    kill -KILL "$pid" 2>/dev/null
fi
rm -rf "$2"
"#;

static SERVER: Mutex<Weak<Server>> = Mutex::new(Weak::new());
static NEXT_DATABASE: AtomicU64 = AtomicU64::new(1);

/// A running server; dropping it stops it.
#[derive(Debug)]
pub(crate) struct Server {
    bin: PathBuf,
    port: u16,
    postgres: Mutex<Child>,
    watchdog: Mutex<Option<(Child, ChildStdin)>>,
}

impl Server {
    /// This process's server, started if no live `TestDb` holds one.
    pub(crate) fn shared() -> Arc<Server> {
        let mut slot = SERVER.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(server) = slot.upgrade() {
            return server;
        }
        let server = Arc::new(Server::start());
        *slot = Arc::downgrade(&server);
        server
    }

    /// Creates a new database and returns its URL.
    pub(crate) fn create_database(&self) -> String {
        let name = format!("ferry_test_{}_{}", std::process::id(), NEXT_DATABASE.fetch_add(1, Ordering::Relaxed));
        let port = self.port.to_string();
        let args = ["-h", "127.0.0.1", "-p", &port, "-U", "postgres", &name];
        run(Command::new(self.bin.join("createdb")).args(args), "createdb");
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    fn start() -> Server {
        let bin = find_bin_dir();
        let root = tempfile::Builder::new()
            .prefix("ferry-postgres-")
            .tempdir()
            .expect("creating a temporary directory for PostgreSQL")
            .keep();
        let data = root.join("data");
        let as_root = rustix::process::geteuid().is_root();
        if as_root {
            let (uid, gid) = postgres_user();
            std::os::unix::fs::chown(&root, Some(uid), Some(gid)).expect("handing the directory to user postgres");
        }
        let initdb = bin.join("initdb");
        let data_arg = data.display().to_string();
        let initdb_args = ["-D", &data_arg, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"];
        run(&mut as_postgres(as_root, &initdb, &initdb_args), "initdb");

        // The watchdog starts before the server so that nothing can leave a server behind.
        let mut watchdog = Command::new("sh")
            .args(["-c", WATCHDOG, "ferry-postgres-watchdog"])
            .arg(&data)
            .arg(&root)
            .stdin(Stdio::piped())
            .process_group(0)
            .spawn()
            .expect("starting the PostgreSQL watchdog");
        let watchdog_stdin = watchdog.stdin.take().expect("stdin was piped");

        let log = std::fs::File::create(root.join("postgres.log")).expect("creating the PostgreSQL log");
        let (port, postgres) = start_postgres(&bin, as_root, &data, &root, &log);
        Server { bin, port, postgres: Mutex::new(postgres), watchdog: Mutex::new(Some((watchdog, watchdog_stdin))) }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let watchdog = self.watchdog.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
        if let Some((mut watchdog, mut stdin)) = watchdog {
            // A line (or the closed pipe) wakes the watchdog; then wait until it has cleaned up.
            let _ = stdin.write_all(b"stop\n");
            drop(stdin);
            let _ = watchdog.wait();
        }
        let _ = self.postgres.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).wait();
    }
}

/// Starts `postgres` on a free loopback port, retrying with another port if one was taken
/// between our probe and the server's bind, and waits until it accepts connections.
fn start_postgres(bin: &Path, as_root: bool, data: &Path, root: &Path, log: &std::fs::File) -> (u16, Child) {
    let mut last_failure = String::new();
    for _attempt in 0..3 {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("finding a free port")
            .port();
        let port_arg = port.to_string();
        let data_arg = data.display().to_string();
        let socket_dir = format!("unix_socket_directories={}", root.display());
        let args = [
            "-D",
            &data_arg,
            "-p",
            &port_arg,
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            &socket_dir,
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
        ];
        let mut child = as_postgres(as_root, &bin.join("postgres"), &args)
            .stdout(log.try_clone().expect("sharing the log file"))
            .stderr(log.try_clone().expect("sharing the log file"))
            .process_group(0)
            .spawn()
            .expect("starting postgres");
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                last_failure = format!("postgres exited with {status}");
                break;
            }
            let ready = Command::new(bin.join("pg_isready"))
                .args(["-q", "-h", "127.0.0.1", "-p", &port_arg, "-U", "postgres"])
                .status()
                .is_ok_and(|status| status.success());
            if ready {
                return (port, child);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                last_failure = format!("postgres did not accept connections within {START_TIMEOUT:?}");
                break;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }
    let log = std::fs::read_to_string(root.join("postgres.log")).unwrap_or_default();
    panic!("starting PostgreSQL failed: {last_failure}\n{log}");
}

/// The newest `/usr/lib/postgresql/<version>/bin` that has `initdb`.
fn find_bin_dir() -> PathBuf {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    found.sort();
    match found.pop() {
        Some((_, bin)) => bin,
        None => panic!(
            "PostgreSQL is not installed: no /usr/lib/postgresql/*/bin/initdb \
             (scripts/test installs Debian's `postgresql` package)"
        ),
    }
}

/// The uid and gid of the `postgres` user Debian's package creates.
fn postgres_user() -> (u32, u32) {
    let passwd = std::fs::read_to_string("/etc/passwd").expect("reading /etc/passwd");
    let ids = passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        if fields.first() != Some(&"postgres") {
            return None;
        }
        Some((fields.get(2)?.parse().ok()?, fields.get(3)?.parse().ok()?))
    });
    ids.expect("running as root needs the `postgres` user, which Debian's postgresql package creates")
}

/// A command that runs `program` as user `postgres` when we are root (PostgreSQL refuses to
/// run as root), or as ourselves otherwise.
fn as_postgres(as_root: bool, program: &Path, args: &[&str]) -> Command {
    let mut command = if as_root {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    };
    command.args(args);
    command
}

fn run(command: &mut Command, what: &str) {
    let output = command.output().unwrap_or_else(|error| panic!("running {what}: {error}"));
    if !output.status.success() {
        panic!(
            "{what} failed with {}:\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
