//! `FERRY_LOG` filters: the default, levels by target, and the message for one that does not parse.

use tracing::Level;
use tracing::level_filters::LevelFilter;

use super::filter;

#[test]
fn an_unset_or_blank_filter_logs_info_and_above_everywhere() {
    for spec in [None, Some(""), Some("  ")] {
        let targets = filter(spec).expect("the default filter");
        assert!(targets.would_enable("ferry_server::api", &Level::INFO), "{spec:?}");
        assert!(!targets.would_enable("ferry_server::api", &Level::DEBUG), "{spec:?}");
    }
}

#[test]
fn a_filter_names_a_default_level_and_levels_for_targets() {
    let targets = filter(Some("warn,ferry_runner=debug")).expect("a valid filter");
    assert!(targets.would_enable("ferry_runner::process", &Level::DEBUG));
    assert!(!targets.would_enable("ferry_runner::process", &Level::TRACE));
    assert!(!targets.would_enable("ferry_server::api", &Level::INFO));
    assert!(targets.would_enable("ferry_server::api", &Level::WARN));
    assert_eq!(filter(Some("off")).expect("off").default_level(), Some(LevelFilter::OFF));
}

#[test]
fn a_filter_that_does_not_parse_says_what_is_wrong_and_how_to_write_one() {
    let error = filter(Some("ferry_runner=loud")).expect_err("not a level").to_string();
    assert!(error.starts_with("FERRY_LOG=\"ferry_runner=loud\" is not a log filter"), "{error}");
    assert!(error.contains("info,ferry_runner=debug"), "{error}");
}
