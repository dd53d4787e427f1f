//! Unit tests of the routing table: the order of choices, exclusions, and which loads are kept.

use super::*;

fn backend(id: &str, release: i64) -> Backend {
    Backend { id: id.into(), release, addr: SocketAddr::from(([127, 0, 0, 1], 1)) }
}

fn build(backends: &[(&str, i64)], weights: &[(i64, u32)]) -> (Table, HashMap<String, Arc<BackendLoad>>) {
    let mut loads = HashMap::new();
    let routes = Routes {
        backends: backends.iter().map(|(id, release)| backend(id, *release)).collect(),
        weights: weights.to_vec(),
    };
    (Table::build(&routes, &mut loads, &mut HashMap::new()), loads)
}

/// The ids of `n` choices, each released before the next.
fn choices(table: &Table, n: usize) -> String {
    (0..n)
        .map(|_| table.pick(None).map_or("-".to_owned(), |choice| choice.id.to_string()))
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn smooth_weighted_round_robin_interleaves_releases() {
    let (table, _) = build(&[("a", 1), ("b", 2)], &[(1, 80), (2, 20)]);
    assert_eq!(choices(&table, 10), "a a b a a a a b a a");
    let (table, _) = build(&[("a", 1), ("b", 2), ("c", 3)], &[(1, 50), (2, 30), (3, 20)]);
    assert_eq!(choices(&table, 10), "a b c a a b a c b a");
}

#[test]
fn the_least_busy_backend_of_a_release_is_chosen_and_ties_go_in_turn() {
    let (table, _) = build(&[("a", 1), ("b", 1), ("c", 1)], &[]);
    assert_eq!(choices(&table, 6), "a b c a b c");
    // Two requests held on a and b: c takes the next ones while they are in flight.
    let held_a = table.pick(None).expect("a choice");
    let held_b = table.pick(None).expect("a choice");
    assert_eq!((&*held_a.id, &*held_b.id), ("a", "b"));
    assert_eq!(choices(&table, 3), "c c c");
    drop(held_a);
    // a and c are idle again, b is still busy.
    let picked = choices(&table, 6);
    assert!(picked.contains('a') && picked.contains('c') && !picked.contains('b'), "{picked}");
}

#[test]
fn an_excluded_backend_is_replaced_by_one_of_its_release_or_else_of_another() {
    let (table, _) = build(&[("a", 1), ("b", 1), ("c", 2)], &[(1, 100), (2, 1)]);
    for _ in 0..5 {
        assert_eq!(table.pick(Some("a")).expect("a choice").id.as_ref(), "b");
    }
    let (table, _) = build(&[("a", 1), ("c", 2)], &[(1, 100), (2, 1)]);
    assert_eq!(table.pick(Some("a")).expect("a choice").id.as_ref(), "c");
    let (table, _) = build(&[("a", 1)], &[]);
    assert!(table.pick(Some("a")).is_none());
}

#[test]
fn no_backend_no_weighted_backend_or_only_zero_weights_give_no_choice() {
    assert_eq!(choices(&build(&[], &[]).0, 1), "-");
    assert_eq!(choices(&build(&[("a", 1)], &[(2, 100)]).0, 1), "-");
    assert_eq!(choices(&build(&[("a", 1)], &[(1, 0)]).0, 1), "-");
}

#[test]
fn loads_are_kept_for_routed_backends_and_busy_leavers_only() {
    let mut loads = HashMap::new();
    let all = Routes { backends: vec![backend("a", 1), backend("b", 1), backend("c", 1)], weights: vec![] };
    let table = Table::build(&all, &mut loads, &mut HashMap::new());
    let held = table.pick(None).expect("a choice");
    assert_eq!(&*held.id, "a");
    let a_load = loads["a"].clone();

    let only_c = Routes { backends: vec![backend("c", 1)], weights: vec![] };
    let table = Table::build(&only_c, &mut loads, &mut HashMap::new());
    let mut kept: Vec<&str> = loads.keys().map(String::as_str).collect();
    kept.sort_unstable();
    assert_eq!(kept, ["a", "c"]);
    assert!(!table.routes_to("a") && table.routes_to("c"));
    assert_eq!(a_load.in_flight(), 1);
    drop(held);
    assert_eq!(a_load.in_flight(), 0);
}

#[test]
fn a_backend_whose_drain_gave_up_starts_afresh_when_it_comes_back() {
    let mut loads = HashMap::new();
    let routes = Routes { backends: vec![backend("a", 1)], weights: vec![] };
    let table = Table::build(&routes, &mut loads, &mut HashMap::new());
    let held = table.pick(None).expect("a choice");
    loads["a"].cut();

    let table = Table::build(&routes, &mut loads, &mut HashMap::new());
    assert!(!loads["a"].is_cut());
    assert_eq!(loads["a"].in_flight(), 0);
    assert_eq!(held.in_flight.load().in_flight(), 1);
    assert_eq!(table.pick(None).expect("a choice").in_flight.load().in_flight(), 1);
}
