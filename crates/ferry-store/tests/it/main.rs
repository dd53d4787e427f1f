//! ferry-store's integration tests: one conformance suite that every backend passes, run on
//! SQLite and on a real PostgreSQL, plus what only SQLite has (its file).
//!
//! Each backend's suite is one test so that PostgreSQL starts once per test process (nextest
//! runs each test in its own process); every check inside gets a fresh database.

mod alertmanager;
mod conformance;
mod dora;
mod incidents;
mod sqlite;

use ferry_testkit::TestDb;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conformance_on_sqlite() {
    conformance::run(TestDb::sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conformance_on_postgres() {
    conformance::run(TestDb::postgres).await;
}
