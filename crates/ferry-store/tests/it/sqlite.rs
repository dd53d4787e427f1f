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
