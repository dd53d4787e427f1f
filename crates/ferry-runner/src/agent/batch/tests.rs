//! Batching as data: job events at given times in, the batches the agent would send out.

use std::fmt::Write as _;

use ferry_model::Conclusion;

use super::*;

/// The server's limit on a request's body (axum's default).
const MAX_BODY: usize = 2 << 20;

fn started(step_idx: usize, name: &str) -> JobEvent {
    JobEvent::StepStarted { step_idx, name: name.to_owned() }
}

fn line(step_idx: usize, text: &str) -> JobEvent {
    JobEvent::Line { step_idx, text: text.to_owned() }
}

fn finished(step_idx: usize) -> JobEvent {
    JobEvent::StepFinished {
        step_idx,
        outcome: Conclusion::Success,
        conclusion: Conclusion::Success,
        elapsed: Duration::ZERO,
    }
}

/// Feeds `events` (each at its millisecond) as the agent does: after each event, every due
/// batch is sent; at the end, whatever waits is flushed. One line per batch, saying when it
/// went out.
fn batches(events: Vec<(u64, JobEvent)>) -> String {
    let start = Instant::now();
    let mut batcher = Batcher::new();
    let mut out = String::new();
    let mut send = |batcher: &mut Batcher, when: &str| {
        let batch = batcher.take().expect("a due batch has events");
        let events: Vec<String> = batch.events.iter().map(render).collect();
        let _ = writeln!(out, "#{} {when}: {}", batch.seq, events.join(" | "));
    };
    for (ms, event) in events {
        let now = start + Duration::from_millis(ms);
        // A deadline that passed before this event came was a send of its own.
        while batcher.deadline().is_some_and(|deadline| deadline < now) {
            let at = batcher.deadline().expect("checked").duration_since(start).as_millis();
            send(&mut batcher, &format!("at {at}ms"));
        }
        batcher.push(step_event(event, i64::try_from(ms).expect("small")), now);
        while batcher.is_due(now) {
            send(&mut batcher, &format!("at {ms}ms"));
        }
    }
    while batcher.deadline().is_some() {
        send(&mut batcher, "flushed");
    }
    out
}

fn render(event: &StepEvent) -> String {
    match event {
        StepEvent::StepStarted { step_idx, name, at } => format!("start {step_idx} {name:?} @{at}"),
        StepEvent::Lines { step_idx, text } => {
            assert!(text.ends_with('\n'), "whole lines: {text:?}");
            let lines: Vec<&str> = text.split_terminator('\n').collect();
            if lines.len() > 3 {
                format!("{step_idx}: {} lines", lines.len())
            } else {
                format!("{step_idx}: {lines:?}")
            }
        }
        StepEvent::StepFinished { step_idx, conclusion, at, .. } => format!("end {step_idx} {conclusion} @{at}"),
    }
}

#[test]
fn lines_of_a_step_join_and_batches_count_up_from_one() {
    let trace = batches(vec![
        (0, started(0, "build")),
        (1, line(0, "a")),
        (2, line(0, "b")),
        (3, finished(0)),
        (60, started(1, "test")),
        (61, line(1, "c")),
    ]);
    assert_eq!(
        trace,
        "#1 at 50ms: start 0 \"build\" @0 | 0: [\"a\", \"b\"] | end 0 success @3\n\
         #2 flushed: start 1 \"test\" @60 | 1: [\"c\"]\n"
    );
}

#[test]
fn a_batch_waits_at_most_fifty_milliseconds_after_its_oldest_event() {
    let trace = batches(vec![(0, line(0, "a")), (49, line(0, "b")), (50, line(0, "c")), (51, line(0, "d"))]);
    assert_eq!(trace, "#1 at 50ms: 0: [\"a\", \"b\", \"c\"]\n#2 flushed: 0: [\"d\"]\n");
}

#[test]
fn lines_of_different_steps_stay_apart() {
    let trace = batches(vec![(0, line(0, "a")), (1, line(1, "b")), (2, line(0, "c"))]);
    assert_eq!(trace, "#1 flushed: 0: [\"a\"] | 1: [\"b\"] | 0: [\"c\"]\n");
}

#[test]
fn a_full_batch_goes_at_once_and_no_batch_holds_more() {
    // Lines of 1 KiB with their line ends, all of one step: one `lines` event a batch.
    let text = "k".repeat(1023);
    let per_batch = (MAX_BYTES - HEAD_COST) / 1024;
    let n_lines = 2 * per_batch + 100;
    let mut events: Vec<(u64, JobEvent)> = (0..n_lines).map(|_| (0, line(0, &text))).collect();
    events.push((1, finished(0)));
    let trace = batches(events);
    assert_eq!(
        trace,
        format!(
            "#1 at 0ms: 0: {per_batch} lines\n#2 at 0ms: 0: {per_batch} lines\n#3 flushed: 0: 100 lines | end 0 success @1\n"
        )
    );
}

#[test]
fn long_lines_fill_a_batch_by_size_and_a_huge_line_is_cut() {
    let mut batcher = Batcher::new();
    let now = Instant::now();
    // 500 lines of 10 kB: about 5 MB, the text of three batches.
    for _ in 0..500 {
        batcher.push(step_event(line(0, &"y".repeat(10_000)), 0), now);
    }
    batcher.push(step_event(line(0, &"z".repeat(200_000)), 0), now);
    assert!(batcher.is_due(now), "a batch this big goes at once");
    let mut sizes = Vec::new();
    while let Some(batch) = batcher.take() {
        let lines: Vec<&str> = batch
            .events
            .iter()
            .flat_map(|event| match event {
                StepEvent::Lines { text, .. } => text.split_terminator('\n').collect(),
                _ => Vec::new(),
            })
            .collect();
        let n_bytes: usize = lines.iter().map(|line| line.len() + 1).sum();
        assert!(n_bytes <= MAX_BYTES, "batch {} holds {n_bytes} bytes", batch.seq);
        assert!(batch.encode().len() <= MAX_BODY, "batch {} is over the server's limit", batch.seq);
        sizes.push(lines.len());
        if let Some(last) = lines.last().filter(|line| line.starts_with('z')) {
            assert!(last.len() < 70_000 && last.ends_with("…[line cut at 64 KiB]"), "{}", last.len());
        }
    }
    assert_eq!(sizes.iter().sum::<usize>(), 501, "every line is sent once: {sizes:?}");
    assert!(sizes.len() >= 3, "{sizes:?}");
}

#[test]
fn a_backlog_is_cut_into_full_batches() {
    let mut batcher = Batcher::new();
    let now = Instant::now();
    // 1,100 lines of 2 KiB with their line ends, alternating between two steps.
    let text = "x".repeat(2047);
    for n in 0..1_100 {
        batcher.push(step_event(line(n % 2, &text), 0), now);
    }
    let mut sizes = Vec::new();
    while let Some(batch) = batcher.take() {
        let n_lines: usize = batch
            .events
            .iter()
            .map(|event| match event {
                StepEvent::Lines { text, .. } => text.len() / 2048,
                _ => 0,
            })
            .sum();
        sizes.push((batch.seq, n_lines));
    }
    // Each line is an event of its own (the step changes), with a head's entry.
    let per_batch = MAX_BYTES / (HEAD_COST + 2048);
    assert_eq!(sizes, [(1, per_batch), (2, 1_100 - per_batch)]);
}

#[test]
fn a_batch_of_many_small_events_fits_the_servers_limit() {
    let mut batcher = Batcher::new();
    let now = Instant::now();
    // Steps with long names that print a line each: the heads, not the text, fill batches.
    let name = "\u{1}".repeat(5_000);
    for step_idx in 0..2_000 {
        batcher.push(step_event(started(step_idx, &name), 0), now);
        batcher.push(step_event(line(step_idx, "x"), 0), now);
        batcher.push(step_event(finished(step_idx), 0), now);
    }
    let mut n_events = 0;
    while let Some(batch) = batcher.take() {
        let body = batch.encode();
        assert!(body.len() <= MAX_BODY, "batch {} is {} bytes", batch.seq, body.len());
        n_events += batch.events.len();
    }
    assert_eq!(n_events, 6_000, "every event is sent once");
}

#[test]
fn groups_and_annotations_show_as_log_lines() {
    let annotation = |level, file: Option<&str>, title: Option<&str>| JobEvent::Annotation {
        step_idx: 2,
        annotation: Annotation {
            level,
            message: "it broke".to_owned(),
            title: title.map(str::to_owned),
            file: file.map(str::to_owned),
            line: file.map(|_| 3),
            end_line: None,
            col: None,
            end_column: None,
        },
    };
    let events = [
        JobEvent::Group { step_idx: 2, title: "Install".to_owned() },
        JobEvent::EndGroup { step_idx: 2 },
        annotation(Level::Error, None, None),
        annotation(Level::Warning, Some("src/lib.rs"), Some("Lint")),
        annotation(Level::Notice, None, Some("FYI")),
    ];
    let lines: Vec<String> = events.into_iter().map(|event| render(&step_event(event, 0))).collect();
    assert_eq!(
        lines,
        [
            r###"2: ["##[group]Install"]"###,
            r###"2: ["##[endgroup]"]"###,
            r###"2: ["##[error]it broke"]"###,
            r###"2: ["##[warning]src/lib.rs:3: Lint: it broke"]"###,
            r###"2: ["##[notice]FYI: it broke"]"###,
        ]
    );
}
