//! A job's events as the runner protocol carries them: each [`JobEvent`] becomes a
//! [`StepEvent`] (groups and annotations become the `##[…]` lines GitHub's log shows), and the
//! events are cut into numbered [`EventBatch`]es. Pure, with time passed in, so the rules are
//! tested with data; the agent does the sending.
//!
//! A batch is due once its oldest event waited [`MAX_DELAY`] or it costs [`MAX_BYTES`] (its
//! log text, and a little for each event's entry in its head), whichever comes first; a batch
//! never costs more than that, so a step that prints fast while a send is slow makes several
//! batches, not one huge one, and every encoded batch fits the server's 2 MiB request limit
//! (a line longer than [`MAX_LINE_BYTES`] is cut there).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use ferry_proto::runner::{EventBatch, StepEvent};

use crate::commands::{Annotation, Level};
use crate::job::JobEvent;

/// The longest an event waits before its batch is sent.
pub(crate) const MAX_DELAY: Duration = Duration::from_millis(50);
/// The most one batch carries, counting its log text and [`head_cost`] for each event; a
/// batch this full is sent at once. Large batches make a step that prints a lot cheap to
/// store (the 50 MB log benchmark: a server's CPU per run fell from about 205 to 150 ms from
/// 1 MiB to this), and this leaves room under the server's 2 MiB limit for the head and for
/// a first line over the budget.
pub(crate) const MAX_BYTES: usize = 7 << 18;
/// What an event's entry in a batch's head costs beyond a step's name: its JSON, with room
/// to spare.
pub(crate) const HEAD_COST: usize = 128;
/// Longer lines are cut to this many bytes, as GitHub's log cuts them.
pub(crate) const MAX_LINE_BYTES: usize = 64 * 1024;

/// What a line cut at [`MAX_LINE_BYTES`] ends with.
const CUT_MARK: &str = " …[line cut at 64 KiB]";

/// The protocol's event for `event`, which happened at `at_ms` (milliseconds since the epoch).
pub(crate) fn step_event(event: JobEvent, at_ms: i64) -> StepEvent {
    let idx = |step_idx: usize| i64::try_from(step_idx).unwrap_or(i64::MAX);
    let line = |step_idx: usize, mut text: String| {
        text.push('\n');
        StepEvent::Lines { step_idx: idx(step_idx), text }
    };
    match event {
        JobEvent::StepStarted { step_idx, name } => StepEvent::StepStarted { step_idx: idx(step_idx), name, at: at_ms },
        JobEvent::Line { step_idx, text } => line(step_idx, text),
        JobEvent::Lines { step_idx, text } => StepEvent::Lines { step_idx: idx(step_idx), text },
        JobEvent::Group { step_idx, title } => line(step_idx, format!("##[group]{title}")),
        JobEvent::EndGroup { step_idx } => line(step_idx, "##[endgroup]".to_owned()),
        JobEvent::Annotation { step_idx, annotation } => line(step_idx, annotation_line(&annotation)),
        JobEvent::StepFinished { step_idx, outcome, conclusion, elapsed: _ } => {
            StepEvent::StepFinished { step_idx: idx(step_idx), outcome, conclusion, at: at_ms }
        }
    }
}

/// `text` (lines each ending in `\n`) with every line longer than [`MAX_LINE_BYTES`] cut there.
fn cut_long_lines(text: String) -> String {
    // No line of a text this short can be too long: the common case costs nothing.
    if text.len() <= MAX_LINE_BYTES {
        return text;
    }
    if !text.split_terminator('\n').any(|line| line.len() > MAX_LINE_BYTES) {
        return text;
    }
    let mut out = String::with_capacity(text.len());
    for line in text.split_terminator('\n') {
        if line.len() > MAX_LINE_BYTES {
            let mut cut = MAX_LINE_BYTES;
            while !line.is_char_boundary(cut) {
                cut -= 1;
            }
            out.push_str(&line[..cut]);
            out.push_str(CUT_MARK);
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// Where to split `text` so its first part is whole lines of at most `budget` bytes: `None`
/// when not even its first line fits.
fn split_point(text: &str, budget: usize) -> Option<usize> {
    if text.len() <= budget {
        return Some(text.len());
    }
    text.as_bytes()[..budget].iter().rposition(|&byte| byte == b'\n').map(|newline| newline + 1)
}

/// `##[error]file:line:col: title: message`, with the parts the annotation has.
fn annotation_line(annotation: &Annotation) -> String {
    let level = match annotation.level {
        Level::Error => "error",
        Level::Warning => "warning",
        Level::Notice => "notice",
    };
    let mut text = format!("##[{level}]");
    if let Some(file) = &annotation.file {
        text.push_str(file);
        for number in [annotation.line, annotation.col].into_iter().map_while(|number| number) {
            text.push_str(&format!(":{number}"));
        }
        text.push_str(": ");
    }
    if let Some(title) = &annotation.title {
        text.push_str(title);
        text.push_str(": ");
    }
    text.push_str(&annotation.message);
    text
}

/// What `event`'s entry in a batch's head costs: [`HEAD_COST`], and a step's name as JSON at
/// worst (`\u00XX` for each byte).
fn head_cost(event: &StepEvent) -> usize {
    match event {
        StepEvent::StepStarted { name, .. } => HEAD_COST + 6 * name.len(),
        StepEvent::Lines { .. } | StepEvent::StepFinished { .. } => HEAD_COST,
    }
}

/// What `event` costs in a batch: its head's entry and its text.
fn cost(event: &StepEvent) -> usize {
    let text_len = match event {
        StepEvent::Lines { text, .. } => text.len(),
        StepEvent::StepStarted { .. } | StepEvent::StepFinished { .. } => 0,
    };
    head_cost(event) + text_len
}

/// The events not sent yet, and the number the next batch gets (1, 2, 3… per job).
#[derive(Debug)]
pub(crate) struct Batcher {
    next_seq: i64,
    events: VecDeque<StepEvent>,
    /// What the waiting events cost ([`cost`]).
    n_bytes: usize,
    /// When the oldest waiting event came.
    oldest: Option<Instant>,
}

impl Batcher {
    pub(crate) fn new() -> Batcher {
        Batcher { next_seq: 1, events: VecDeque::new(), n_bytes: 0, oldest: None }
    }

    /// Adds an event that came at `now`; lines of the step the last event was about join it.
    pub(crate) fn push(&mut self, event: StepEvent, now: Instant) {
        self.oldest.get_or_insert(now);
        if let StepEvent::Lines { step_idx, text } = event {
            let text = cut_long_lines(text);
            if let Some(StepEvent::Lines { step_idx: last_idx, text: last }) = self.events.back_mut()
                && *last_idx == step_idx
            {
                self.n_bytes += text.len();
                last.push_str(&text);
                return;
            }
            self.n_bytes += HEAD_COST + text.len();
            self.events.push_back(StepEvent::Lines { step_idx, text });
        } else {
            self.n_bytes += cost(&event);
            self.events.push_back(event);
        }
    }

    /// When the waiting events are due at the latest, `None` when nothing waits.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.oldest.map(|oldest| oldest + MAX_DELAY)
    }

    /// Whether a batch should be sent now.
    pub(crate) fn is_due(&self, now: Instant) -> bool {
        self.n_bytes >= MAX_BYTES || self.deadline().is_some_and(|deadline| deadline <= now)
    }

    /// The next batch, numbered: the oldest events, costing up to [`MAX_BYTES`] (at least one
    /// event, and at least one line of a `lines` event, which is never longer than the cut).
    /// `None` when nothing waits. What is left keeps the oldest event's time: it waits no
    /// longer than the batch just taken would have.
    pub(crate) fn take(&mut self) -> Option<EventBatch> {
        if self.events.is_empty() {
            return None;
        }
        let mut events = Vec::new();
        let mut n_bytes = 0;
        while let Some(event) = self.events.pop_front() {
            match event {
                StepEvent::Lines { step_idx, mut text } => {
                    let budget = MAX_BYTES.saturating_sub(n_bytes + HEAD_COST);
                    let fit = match split_point(&text, budget) {
                        Some(fit) => fit,
                        // A batch carries at least one line.
                        None if n_bytes == 0 => text.find('\n').map_or(text.len(), |newline| newline + 1),
                        None => 0,
                    };
                    n_bytes += HEAD_COST + fit;
                    if fit < text.len() {
                        let rest = text.split_off(fit);
                        if !text.is_empty() {
                            events.push(StepEvent::Lines { step_idx, text });
                        }
                        self.events.push_front(StepEvent::Lines { step_idx, text: rest });
                        break;
                    }
                    events.push(StepEvent::Lines { step_idx, text });
                }
                other => {
                    let cost = head_cost(&other);
                    if n_bytes > 0 && n_bytes + cost > MAX_BYTES {
                        self.events.push_front(other);
                        break;
                    }
                    n_bytes += cost;
                    events.push(other);
                }
            }
        }
        // What is left is counted again: a split `lines` event has a head in each batch.
        self.n_bytes = self.events.iter().map(cost).sum();
        if self.events.is_empty() {
            self.oldest = None;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        Some(EventBatch { seq, events })
    }
}

#[cfg(test)]
mod tests;
