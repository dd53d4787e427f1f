//! Parsing `options:` as GitHub's workflows write them.

use std::time::Duration;

use super::*;

#[test]
fn health_options_as_the_corpus_writes_them() {
    let options = parse_options(
        "--health-cmd \"pg_isready -U postgres\" --health-interval 10s --health-timeout=5s \
         --health-retries 5 --health-start-period 1m30s -e PGUSER=postgres -e IGNORED",
    )
    .expect("valid");
    assert_eq!(options.health_cmd.as_deref(), Some("pg_isready -U postgres"));
    assert_eq!(options.health_interval, Some(Duration::from_secs(10)));
    assert_eq!(options.health_timeout, Some(Duration::from_secs(5)));
    assert_eq!(options.health_retries, Some(5));
    assert_eq!(options.health_start_period, Some(Duration::from_secs(90)));
    assert_eq!(options.env, vec!["PGUSER=postgres".to_owned()]);
}

#[test]
fn resource_options_are_passed_on() {
    let options =
        parse_options("--privileged --cap-add SYS_PTRACE --shm-size=2g -u 1000:1000 --tmpfs /run:rw -v /a:/b")
            .expect("valid");
    assert!(options.privileged);
    assert_eq!(options.cap_add, vec!["SYS_PTRACE".to_owned()]);
    assert_eq!(options.shm_size, Some(2 << 30));
    assert_eq!(options.user.as_deref(), Some("1000:1000"));
    assert_eq!(options.tmpfs.get("/run").map(String::as_str), Some("rw"));
    assert_eq!(options.volumes, vec!["/a:/b".to_owned()]);
}

#[test]
fn unknown_flags_and_bad_values_are_refused_with_the_flag_named() {
    let refused = |text: &str| parse_options(text).expect_err("refused").to_string();
    assert!(refused("--network host").contains("`--network` is not supported"));
    assert!(refused("--health-interval soon").contains("`soon` is not a duration"));
    assert!(refused("--health-retries").contains("needs a value"));
    assert!(refused("--health-cmd 'unclosed").contains("unclosed quote"));
}

#[test]
fn go_durations_add_up() {
    assert_eq!(duration("--x", "1h2m3s").expect("valid"), Duration::from_secs(3723));
    assert_eq!(duration("--x", "500ms").expect("valid"), Duration::from_millis(500));
    assert_eq!(duration("--x", "1.5s").expect("valid"), Duration::from_millis(1500));
    assert!(duration("--x", "5").is_err());
}
