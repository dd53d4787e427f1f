//! What only the SQLite backend has: a file in WAL mode that survives reopening.

use ferry_store::{NewProject, Store};
use ferry_testkit::TestDb;

const PROJECT: NewProject<'static> =
    NewProject { name: "web", repo: "/srv/web.git", branch: "main", webhook_secret: "s" };

#[tokio::test]
async fn the_file_survives_reopening() {
    let db = TestDb::sqlite();
    let store = db.open().await;
    let project = store.projects().create(&PROJECT, 1).await.expect("create");
    assert!(std::path::Path::new(&format!("{}-wal", db.url())).exists(), "the database is in WAL mode");
    store.close().await;

    let store = db.open().await;
    assert_eq!(store.projects().get(project.id).await.expect("get"), project);
}

#[tokio::test]
async fn a_sqlite_url_and_a_plain_path_open_the_same_file() {
    let db = TestDb::sqlite();
    let store = Store::open(&format!("sqlite://{}", db.url())).await.expect("open by URL");
    store.projects().create(&PROJECT, 1).await.expect("create");
    store.close().await;
    let store = Store::open(db.url()).await.expect("open by path");
    assert!(store.projects().by_name("web").await.expect("by_name").is_some());
}

#[tokio::test]
async fn an_unknown_scheme_is_refused() {
    let res = Store::open("mysql://localhost/ferry").await;
    assert!(matches!(res, Err(ferry_store::StoreError::UnsupportedUrl(_))), "{res:?}");
}

/// Migration 16 rebuilds `deployments` (SQLite cannot drop a NOT NULL): the rows, their
/// ids and the links between them are kept, and each learns its release's commit.
#[tokio::test]
async fn deployments_keep_their_rows_when_the_release_becomes_optional() {
    use sqlx::Connection as _;
    sqlx::any::install_default_drivers();
    let db = TestDb::sqlite();
    let mut conn = sqlx::AnyConnection::connect(&format!("sqlite://{}?mode=rwc", db.url())).await.expect("connect");
    sqlx::raw_sql("PRAGMA foreign_keys = ON").execute(&mut conn).await.expect("foreign keys");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    let mut files: Vec<_> =
        std::fs::read_dir(&dir).expect("the migrations").map(|entry| entry.expect("an entry").path()).collect();
    files.sort();
    let (before, after): (Vec<_>, Vec<_>) = files.into_iter().partition(|path| {
        path.file_name().and_then(|name| name.to_str()).is_some_and(|name| name.as_bytes() < b"0016".as_slice())
    });
    for path in &before {
        let sql = std::fs::read_to_string(path).expect("a migration");
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await.expect("an earlier migration");
    }
    sqlx::raw_sql(
        "INSERT INTO projects (id, name, repo, branch, webhook_secret, created_at) VALUES (1, 'web', '/r', 'main', 's', 1);
         INSERT INTO releases (project_id, service, number, commit_sha, files, deploy_spec, created_at)
             VALUES (1, 'web', 3, 'abc123', '[]', '', 2);
         INSERT INTO deployments (id, project_id, service, environment, release, strategy, status, triggered_by, target, created_at)
             VALUES (7, 1, 'web', 'staging', 3, 'rolling', 'succeeded', 'auto', '{}', 3);
         INSERT INTO deployments (id, project_id, service, environment, release, strategy, status, triggered_by, target, created_at, rollback_of, is_rollback)
             VALUES (8, 1, 'web', 'staging', 3, 'rolling', 'queued', 'rollback', '{}', 4, 7, 1);",
    )
    .execute(&mut conn)
    .await
    .expect("rows of the old schema");
    for path in &after {
        let sql = std::fs::read_to_string(path).expect("a migration");
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await.expect("migration 16 and later");
    }
    // id, release, rollback_of, commit_sha
    type Row = (i64, Option<i64>, Option<i64>, Option<String>);
    let rows: Vec<Row> = sqlx::query_as("SELECT id, release, rollback_of, commit_sha FROM deployments ORDER BY id")
        .fetch_all(&mut conn)
        .await
        .expect("the rows");
    assert_eq!(rows, [(7, Some(3), None, Some("abc123".into())), (8, Some(3), Some(7), Some("abc123".into()))]);
    sqlx::raw_sql(
        "INSERT INTO deployments (project_id, service, environment, strategy, status, triggered_by, target, created_at)
         VALUES (1, 'deploy', 'production', 'job', 'waiting', 'alice', '{}', 5)",
    )
    .execute(&mut conn)
    .await
    .expect("a deployment without a release");
}
