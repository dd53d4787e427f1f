//! Alert routing's state: rows of each kind written, replaced, deleted and loaded alike on
//! every backend.

use ferry_store::{AlertStateKind, Store};
use ferry_testkit::TestDb;

pub async fn alert_routing_state(store: Store, _db: &TestDb) {
    let alertmanager = store.alertmanager();
    let rows = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs.iter().map(|(key, body)| ((*key).to_owned(), (*body).to_owned())).collect()
    };
    alertmanager
        .put(AlertStateKind::Alert, &rows(&[("b", "{\"v\":1}"), ("a", "{}")]), 1)
        .await
        .expect("the database answers");
    alertmanager.put(AlertStateKind::Alert, &rows(&[("b", "{\"v\":2}")]), 2).await.expect("the database answers");
    alertmanager.put(AlertStateKind::Silence, &rows(&[("s1", "{}")]), 2).await.expect("the database answers");
    alertmanager
        .put(AlertStateKind::Nflog, &rows(&[("{}:{}/hook/webhook/0", "{}")]), 3)
        .await
        .expect("the database answers");
    alertmanager
        .delete(AlertStateKind::Alert, &["a".to_owned(), "missing".to_owned()])
        .await
        .expect("the database answers");
    let state = alertmanager.load().await.expect("the database answers");
    assert_eq!(state.alerts, rows(&[("b", "{\"v\":2}")]));
    assert_eq!(state.silences, rows(&[("s1", "{}")]));
    assert_eq!(state.log, rows(&[("{}:{}/hook/webhook/0", "{}")]));
}
