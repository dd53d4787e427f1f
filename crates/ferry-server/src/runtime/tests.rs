//! The parts of the cache service that need no server: Content-Range, block lists, names.

use super::blob::block_list;
use super::legacy::parse_content_range;
use super::*;

#[test]
fn content_ranges_are_read_as_the_toolkit_writes_them() {
    assert_eq!(parse_content_range("bytes 0-199/*"), Some((0, 199)));
    assert_eq!(parse_content_range("bytes 33554432-67108863/*"), Some((33_554_432, 67_108_863)));
    assert_eq!(parse_content_range("bytes 5-5/6"), Some((5, 5)));
    for bad in ["", "bytes 9-1/*", "bytes 0-/*", "items 0-1/*", "bytes 0-1", "bytes -1-2/*"] {
        assert_eq!(parse_content_range(bad), None, "{bad:?}");
    }
}

#[test]
fn a_block_list_is_read_in_order() {
    let xml = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><BlockList><Latest>QUFB</Latest><Latest>QkJC</Latest>
        <Uncommitted>Q0ND</Uncommitted></BlockList>"#;
    assert_eq!(block_list(xml).expect("a block list"), ["QUFB", "QkJC", "Q0ND"]);
    assert_eq!(block_list("<BlockList></BlockList>").expect("empty"), Vec::<String>::new());
    for bad in [
        "",
        "<BlockList><Latest>x</BlockList>",
        "<BlockList><Other>x</Other></BlockList>",
        "<BlockList><Latest>x</Latest>",
    ] {
        assert!(block_list(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn keys_and_versions_are_checked() {
    assert!(check_entry_name("cargo-Linux-abc", "9f86d081884c7d65").is_ok());
    assert!(check_entry_name("", "v").is_err());
    assert!(check_entry_name("a,b", "v").is_err());
    assert!(check_entry_name(&"k".repeat(513), "v").is_err());
    assert!(check_entry_name("k", "").is_err());
    assert!(check_entry_name("k", "../x").is_err());
    let eleven: Vec<String> = (0..11).map(|idx| format!("k{idx}")).collect();
    assert!(check_lookup(&eleven, "v").is_err(), "at most 10 keys");
    assert!(check_lookup(&[], "v").is_err());
}

#[test]
fn the_server_s_route_table_holds_every_route_of_the_service() {
    let table: Vec<(String, &str)> =
        crate::router::routes().into_iter().map(|route| (route.method.to_string(), route.path)).collect();
    for (method, path, _) in routes::<crate::AppState>() {
        assert!(
            table.contains(&(method.to_string(), path)),
            "{method} {path} is served by ferry run but not the server"
        );
    }
}

#[test]
fn every_route_of_the_service_is_under_a_path_a_runner_relays() {
    for (method, path, _) in routes::<crate::AppState>() {
        assert!(
            ferry_proto::runtime::RUNTIME_PATHS.iter().any(|runtime| path.starts_with(runtime)),
            "{method} {path} is not under ferry_proto::runtime::RUNTIME_PATHS: a runner's relay for containers would refuse it"
        );
    }
}
