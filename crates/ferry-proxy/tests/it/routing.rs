//! Which backend takes a request: by the releases' weights, then in turn among a release's
//! backends; only the backends in the routes.

use std::collections::BTreeMap;

use crate::support::{TestBackend, proxy_to, routes, spread};

fn counts(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().map(|(id, n)| ((*id).to_owned(), *n)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weights_split_the_traffic_between_releases_exactly() {
    let old = TestBackend::start("old", 1).await;
    let new = TestBackend::start("new", 2).await;
    let proxy = proxy_to(&[&old, &new], &[(1, 80), (2, 20)]).await;

    // Smooth weighted round-robin is deterministic: 20 of every 100 requests, interleaved.
    assert_eq!(spread(&proxy, 1000).await, counts(&[("new", 200), ("old", 800)]));
    assert_eq!(spread(&proxy, 10).await, counts(&[("new", 2), ("old", 8)]));

    let traffic = proxy.traffic();
    let by_release: Vec<(i64, u64, u64)> = traffic.iter().map(|t| (t.release, t.requests, t.errors)).collect();
    assert_eq!(by_release, [(1, 808, 0), (2, 202, 0)]);
    for release in &traffic {
        assert_eq!(release.latency_buckets.len(), ferry_proto::agent::LATENCY_BUCKETS_MS.len() + 1);
        assert_eq!(release.latency_buckets.iter().sum::<u64>(), release.requests);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_without_weight_gets_no_traffic_and_its_share_goes_to_the_others() {
    let a1 = TestBackend::start("a1", 1).await;
    let a2 = TestBackend::start("a2", 1).await;
    let b1 = TestBackend::start("b1", 2).await;
    let c1 = TestBackend::start("c1", 3).await;
    // Release 2 is not listed, release 3 has weight 0, release 4 has no backend.
    let proxy = proxy_to(&[&a1, &a2, &b1, &c1], &[(1, 50), (3, 0), (4, 50)]).await;

    assert_eq!(spread(&proxy, 100).await, counts(&[("a1", 50), ("a2", 50)]));
    assert_eq!((b1.hits(), c1.hits()), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_weights_every_backend_takes_its_turn_whatever_its_release() {
    let a1 = TestBackend::start("a1", 1).await;
    let b1 = TestBackend::start("b1", 2).await;
    let b2 = TestBackend::start("b2", 2).await;
    let proxy = proxy_to(&[&a1, &b1, &b2], &[]).await;

    assert_eq!(spread(&proxy, 90).await, counts(&[("a1", 30), ("b1", 30), ("b2", 30)]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_routes_take_effect_at_once_and_a_removed_backend_gets_nothing() {
    let a1 = TestBackend::start("a1", 1).await;
    let a2 = TestBackend::start("a2", 1).await;
    let b1 = TestBackend::start("b1", 2).await;
    let proxy = proxy_to(&[&a1, &a2], &[]).await;
    assert_eq!(spread(&proxy, 10).await, counts(&[("a1", 5), ("a2", 5)]));

    proxy.set_routes(routes(&[&a2, &b1], &[(1, 50), (2, 50)]));
    assert_eq!(spread(&proxy, 10).await, counts(&[("a2", 5), ("b1", 5)]));

    proxy.set_routes(routes(&[&a2, &b1], &[(2, 100)]));
    assert_eq!(spread(&proxy, 10).await, counts(&[("b1", 10)]));
    assert_eq!(a1.hits(), 5);
}
