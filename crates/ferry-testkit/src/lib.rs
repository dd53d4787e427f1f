//! Test helpers shared by Ferry's crates: [`TestDb`], a fresh database on SQLite or on a real
//! PostgreSQL this kit starts from Debian's binaries, and [`Browser`], a headless Chromium
//! from Debian's package that tests of the web UI drive through [`Page`], and [`FakeClock`],
//! the clock a test moves instead of sleeping, [`http_recorder`], a remote that records
//! what clients send it, [`http_receiver`], a webhook receiver that collects JSON bodies,
//! [`busybox_image`], a container image built locally for container
//! tests, and [`Registry`], a private registry on loopback with basic auth.
//!
//! `TestDb` panics with a message saying what failed: it only runs inside tests. `Browser`
//! and `Page` return a [`ChromiumError`] instead, because a UI test asserts on some of them
//! (a JavaScript exception, a timed-out wait).

mod chromium;
mod clock;
mod docker;
mod http;
mod postgres;
mod registry;

use std::sync::Arc;

use ferry_store::Store;

pub use chromium::{Browser, ChromiumError, Event, Page};
pub use clock::FakeClock;
pub use docker::{
    BUSYBOX_IMAGE, TEST_LABEL, busybox_image, busybox_image_with, labelled, remove_labelled, saved_image,
};
pub use http::{NOT_FOUND, http_receiver, http_recorder};
pub use registry::Registry;

/// A fresh, empty database for one test; what it holds is deleted when it is dropped.
///
/// ```no_run
/// # async fn example() {
/// let db = ferry_testkit::TestDb::sqlite();
/// let store = db.open().await;
/// # let _ = store;
/// # }
/// ```
#[derive(Debug)]
pub struct TestDb {
    url: String,
    _guard: Guard,
}

#[derive(Debug)]
enum Guard {
    /// Held for its `Drop`, which deletes the directory.
    Sqlite { _dir: tempfile::TempDir },
    /// Held for its `Drop`: the last holder stops the server.
    Postgres { _server: Arc<postgres::Server> },
}

impl TestDb {
    /// An SQLite file in a new temporary directory.
    ///
    /// # Panics
    /// When the temporary directory cannot be created.
    pub fn sqlite() -> TestDb {
        let dir = tempfile::Builder::new().prefix("ferry-testdb-").tempdir().expect("creating a temporary directory");
        let url = dir.path().join("ferry.db").display().to_string();
        TestDb { url, _guard: Guard::Sqlite { _dir: dir } }
    }

    /// A new database on this process's PostgreSQL server, which is started on first use
    /// (see `postgres.rs` for how and what it costs) and stopped when the last `TestDb`
    /// using it is dropped, or by its watchdog if the process dies first.
    ///
    /// # Panics
    /// When PostgreSQL is not installed (`scripts/test` installs it) or fails to start.
    pub fn postgres() -> TestDb {
        let server = postgres::Server::shared();
        let url = server.create_database();
        TestDb { url, _guard: Guard::Postgres { _server: server } }
    }

    /// The URL [`Store::open`] takes.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Opens the store on this database (applying migrations).
    ///
    /// # Panics
    /// When opening fails.
    pub async fn open(&self) -> Store {
        match Store::open(&self.url).await {
            Ok(store) => store,
            Err(error) => panic!("opening the test store at {}: {error}", self.url),
        }
    }
}
