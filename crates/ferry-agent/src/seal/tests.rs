//! Secrets at rest in the agent's directory.

use std::collections::BTreeMap;

use ferry_proto::agent::{DesiredState, HealthSpec, Probe, ProcessSpec, ReleaseSpec, Unit, UnitKey};

use super::*;

fn desired(secret: &str) -> DesiredState {
    let mut env = BTreeMap::new();
    env.insert("API_KEY".to_owned(), secret.to_owned());
    env.insert("GREETING".to_owned(), "hello".to_owned());
    DesiredState {
        generation: 3,
        units: vec![Unit {
            key: UnitKey { project: "p".into(), service: "web".into(), environment: "production".into() },
            port: 8002,
            bind: "127.0.0.1".into(),
            replicas: 1,
            health: HealthSpec {
                probe: Probe::Tcp,
                interval_ms: 1000,
                timeout_ms: 1000,
                healthy_after: 1,
                unhealthy_after: 3,
                start_timeout_ms: 60_000,
            },
            drain_timeout_ms: 1000,
            response_timeout_ms: 60_000,
            trusted_proxies: Vec::new(),
            tls: Vec::new(),
            stop_grace_ms: 1000,
            release: Some(ReleaseSpec {
                number: 1,
                files: vec![],
                process: ProcessSpec::Run { command: "true".into() },
                env,
                secret_keys: vec!["API_KEY".into()],
            }),
            deployment: None,
            metrics: None,
        }],
    }
}

#[test]
fn secrets_are_sealed_and_open_only_under_the_same_token() {
    let sealer = Sealer::from_token("ferrya_abc_secret");
    let plain = desired("s3cr3t-value");
    let sealed = sealer.seal_desired(&plain);
    let text = serde_json::to_string(&sealed).expect("to_string");
    assert!(!text.contains("s3cr3t-value"), "{text}");
    assert!(text.contains("\"GREETING\":\"hello\""), "only secrets are sealed: {text}");
    assert_eq!(sealer.open_desired(sealed.clone()).expect("open_desired"), plain);
    // Sealing twice leaves sealed values alone.
    assert_eq!(sealer.open_desired(sealer.seal_desired(&sealed)).expect("open_desired"), plain);
    let err = Sealer::from_token("ferrya_other").open_desired(sealed).expect_err("it fails");
    assert_eq!(err.name, "API_KEY");
    assert_eq!(err.to_string(), "p/web/production API_KEY");
}
