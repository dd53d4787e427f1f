//! Event batches read back as they were written, and a broken one refused with its reason;
//! the environment that gives git a repository's credential.

use super::*;

fn batch() -> EventBatch {
    EventBatch {
        seq: 3,
        events: vec![
            StepEvent::StepStarted { step_idx: 0, name: "Build".to_owned(), at: 10 },
            StepEvent::Lines { step_idx: 0, text: "one\ntwo \"quoted\" ünïcode\n".to_owned() },
            StepEvent::Lines { step_idx: 1, text: String::new() },
            StepEvent::Lines { step_idx: 1, text: "three\n".to_owned() },
            StepEvent::StepFinished {
                step_idx: 0,
                outcome: Conclusion::Failure,
                conclusion: Conclusion::Success,
                at: 20,
            },
        ],
    }
}

#[test]
fn a_batch_is_a_head_line_of_json_and_then_its_texts_as_they_are() {
    let body = batch().encode();
    let text = String::from_utf8(body.clone()).expect("UTF-8");
    let (head, texts) = text.split_once('\n').expect("a head line");
    assert_eq!(
        head,
        r#"{"seq":3,"events":[{"type":"step_started","step_idx":0,"name":"Build","at":10},{"type":"lines","step_idx":0,"bytes":27},{"type":"lines","step_idx":1,"bytes":0},{"type":"lines","step_idx":1,"bytes":6},{"type":"step_finished","step_idx":0,"outcome":"failure","conclusion":"success","at":20}]}"#
    );
    assert_eq!(texts, "one\ntwo \"quoted\" ünïcode\nthree\n");
    let read = EventBatch::decode(&body).expect("reads back");
    assert_eq!(read.seq, 3);
    let owned: Vec<StepEvent> = read
        .events
        .into_iter()
        .map(|event| match event {
            StepEvent::Lines { step_idx, text } => StepEvent::Lines { step_idx, text: text.to_owned() },
            StepEvent::StepStarted { step_idx, name, at } => StepEvent::StepStarted { step_idx, name, at },
            StepEvent::StepFinished { step_idx, outcome, conclusion, at } => {
                StepEvent::StepFinished { step_idx, outcome, conclusion, at }
            }
        })
        .collect();
    assert_eq!(owned, batch().events);
}

#[test]
fn a_broken_batch_is_refused_with_what_is_wrong() {
    let head = |events: &str| format!(r#"{{"seq":1,"events":[{events}]}}"#);
    let lines = |bytes: usize| format!(r#"{{"type":"lines","step_idx":0,"bytes":{bytes}}}"#);
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"{\"seq\":1,\"events\":[]}".to_vec(), "this body has no line end"),
        (format!("{}\n", head(r#"{"type":"step_started","step_idx":1,"at":5}"#)).into_bytes(), "missing field `name`"),
        (format!("{}\n", head(r#"{"type":"shouting","step_idx":1}"#)).into_bytes(), "unknown variant `shouting`"),
        (format!("{}\nab\n", head(&lines(5))).into_bytes(), "says 5 bytes of lines follow, but only 3 bytes are left"),
        (format!("{}\nab", head(&lines(2))).into_bytes(), "do not end with a line end"),
        (format!("{}\nab\nextra", head(&lines(3))).into_bytes(), "5 bytes follow the texts the head announces"),
        ([format!("{}\n", head(&lines(3))).into_bytes(), vec![0xff, 0xfe, b'\n']].concat(), "are not UTF-8"),
    ];
    for (body, expected) in cases {
        let error = EventBatch::decode(&body).expect_err("refused").to_string();
        assert!(error.contains(expected), "{error:?} should say {expected:?} for {:?}", String::from_utf8_lossy(&body));
    }
}

#[test]
fn git_gets_the_credential_as_a_header_for_the_repository_only() {
    let env = git_auth_env("https://host/x.git", "tok\n");
    assert_eq!(env[1].1, "http.https://host/x.git.extraHeader");
    // base64("x-access-token:tok")
    assert_eq!(env[2].1, "Authorization: Basic eC1hY2Nlc3MtdG9rZW46dG9r");
    assert_eq!(git_auth_env("https://host/x.git", "me:pw")[2].1, "Authorization: Basic bWU6cHc=");
}
