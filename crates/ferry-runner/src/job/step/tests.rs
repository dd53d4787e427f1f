//! A step's output handed over a read at a time (`Output::lines`) is shown, masked and
//! turned into commands exactly as it would be a line at a time (`Output::line`).

use std::sync::{Arc, RwLock};

use serde_json::Map;

use super::ScriptOutput;
use crate::commands::Commands;
use crate::events;
use crate::job::JobEvent;
use crate::mask::Masker;
use crate::process::{Output, Stream};

/// What a step shows of `reads`, each handed over whole (`bulk`) or line by line: the text
/// of every event, in order, with the step's outputs.
fn shown(reads: &[&str], bulk: bool) -> (Vec<String>, Vec<String>) {
    let (sender, mut receiver) = events::channel(events::DEFAULT_BUDGET);
    let mut commands = Commands::default();
    let mut masker = Masker::new();
    masker.add("s3cr3t");
    let mut output = ScriptOutput {
        step_idx: 0,
        tag: 0,
        events: &sender,
        commands: &mut commands,
        masker: Arc::new(RwLock::new(masker)),
        outputs: Map::new(),
        command_failed: false,
        state: Vec::new(),
        pending: String::new(),
        held: [String::new(), String::new()],
    };
    for text in reads {
        if let Some(piece) = text.strip_prefix("<piece>") {
            output.piece(Stream::Stdout, piece);
        } else if bulk {
            output.lines(Stream::Stdout, text);
        } else {
            for line in text.split('\n') {
                output.line(Stream::Stdout, line.strip_suffix('\r').unwrap_or(line));
            }
        }
        output.flush();
    }
    let mut outputs: Vec<String> = output.outputs.keys().cloned().collect();
    outputs.sort();
    drop(sender);
    let mut texts = Vec::new();
    while let Some((_, event)) = receiver.try_recv() {
        texts.push(match event {
            JobEvent::Lines { text, .. } | JobEvent::Line { text, .. } => text,
            JobEvent::Group { title, .. } => format!("group {title}"),
            JobEvent::EndGroup { .. } => "endgroup".to_owned(),
            JobEvent::Annotation { annotation, .. } => format!("annotation {}", annotation.message),
            other => format!("{other:?}"),
        });
    }
    (texts, outputs)
}

#[test]
fn a_read_handed_over_whole_shows_what_its_lines_one_by_one_show() {
    let reads: &[&[&str]] = &[
        &["plain", "one\ntwo\nthree"],
        &["\n\n", "a\n\nb\n"],
        &["crlf\r\nline\r\n\r", "mixed\r\nplain\nend"],
        &["the s3cr3t is here\nand s3cr3t again\nclean"],
        &["before\n::add-mask::dyn-42\nnow dyn-42 is hidden\n  ::add-mask::   \nafter"],
        &["::group::Build\ninside\n::endgroup::\n::warning::careful s3cr3t\n::set-output name=x::1"],
        &["::stop-commands::tok\n::group::not a group\n::tok::\n::group::a group again"],
        &["x::not a command\n   ::debug::hidden\n::error::bad\r\n::"],
        // `::` and `\r` inside lines that are no commands, several on one line, at either end.
        &["std::io::Error at a::b\nplain\n::debug::one\nc::d\r::e\r\nlast::"],
        &["::\n::\n\r\r\n\r", "mid\rline\nno end\r"],
        &["a\nb\nc\n  \t::notice::indented\nd::\n::set-output name=y::2\ne"],
    ];
    for read in reads {
        let bulk = shown(read, true);
        assert_eq!(bulk, shown(read, false), "{read:?}");
        let all: String = bulk.0.concat();
        assert!(!all.contains("s3cr3t") && !all.contains("dyn-42 is"), "{read:?} showed a secret: {all:?}");
    }
    assert_eq!(shown(&["a\n\nb\r\nc"], true).0, ["a\n\nb\nc\n"]);
}

/// A line longer than `MAX_LINE` reaches the output in pieces: a secret across two pieces is
/// masked whole, and the pieces end with the line's rest, whether it comes whole or by line.
#[test]
fn a_secret_across_the_pieces_of_a_long_line_is_masked_whole() {
    let reads: &[&[&str]] = &[
        &["<piece>aaaa s3c", "r3t bbb\nnext"],
        &["<piece>aaaa s3", "<piece>c", "<piece>r3", "t\n::debug::x"],
        &["<piece>s3cr", "<piece>3t s3", "cr3t"],
        &["<piece>no secret here ", "<piece>nor here", "\nafter"],
    ];
    for read in reads {
        let bulk = shown(read, true);
        assert_eq!(bulk, shown(read, false), "{read:?}");
        let all: String = bulk.0.concat();
        for half in ["s3c", "r3t", "cr3", "3t"] {
            assert!(!all.contains(half), "{read:?} showed part of a secret: {all:?}");
        }
    }
    let (texts, _) = shown(&["<piece>no secret here ", "<piece>nor here", "\nafter"], true);
    assert_eq!(texts.concat().replace('\n', "|"), "no secre|t here n|or here|after|");
}
