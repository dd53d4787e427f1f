//! Step events read back as they were written, and a broken one refused with its reason.

use super::*;

#[test]
fn every_kind_of_step_event_reads_back_as_written() {
    let batch = EventBatch {
        seq: 3,
        events: vec![
            StepEvent::StepStarted { step_idx: 0, name: "Build".to_owned(), at: 10 },
            StepEvent::Lines { step_idx: 0, lines: vec!["one".to_owned(), "two \"quoted\"".to_owned()] },
            StepEvent::StepFinished {
                step_idx: 0,
                outcome: Conclusion::Failure,
                conclusion: Conclusion::Success,
                at: 20,
            },
        ],
    };
    let json = serde_json::to_string(&batch).expect("serializes");
    assert_eq!(
        json,
        r#"{"seq":3,"events":[{"type":"step_started","step_idx":0,"name":"Build","at":10},{"type":"lines","step_idx":0,"lines":["one","two \"quoted\""]},{"type":"step_finished","step_idx":0,"outcome":"failure","conclusion":"success","at":20}]}"#
    );
    let read: EventBatch = serde_json::from_str(&json).expect("reads back");
    assert_eq!(read, batch);
}

#[test]
fn an_event_missing_a_field_of_its_kind_is_refused_with_the_field() {
    let error =
        serde_json::from_str::<StepEvent>(r#"{"type":"step_started","step_idx":1,"at":5}"#).expect_err("no name");
    assert_eq!(error.to_string(), "missing field `name` in a `step_started` event");
    let error = serde_json::from_str::<StepEvent>(r#"{"type":"shouting","step_idx":1}"#).expect_err("no such kind");
    assert!(error.to_string().starts_with("unknown variant `shouting`"), "{error}");
}
