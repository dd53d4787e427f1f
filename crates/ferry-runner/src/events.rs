//! The channel a job's events travel on, bounded by the bytes waiting in it.
//!
//! Sending never waits: events come from synchronous callbacks (a step's output lines), and
//! a step's start or end must never be dropped. Instead the step's output is what waits: a
//! step process's pipes are read only while the channel holds less than its budget
//! ([`EventSender::writable`], which `process::run_process` awaits before each read), so a
//! step that prints faster than its lines are carried away (printed, or accepted by the
//! server) blocks in `write(2)` as it would on a terminal, and the runner holds at most the
//! budget plus one read of output, whatever the step prints.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{Notify, mpsc};

use crate::job::JobEvent;

/// The budget `ferry run` and `ferry runner` use: enough for a few reads of output and a
/// full batch in flight, small beside any machine's memory.
pub const DEFAULT_BUDGET: usize = 2 << 20;

/// A channel for job events holding about `budget` bytes of them before the output of the
/// steps that send into it waits. Each event is sent with the caller's tag (a job's number).
#[must_use]
pub fn channel(budget: usize) -> (EventSender, EventReceiver) {
    let (tx, rx) = mpsc::unbounded_channel();
    let budget = Arc::new(Budget { waiting: AtomicUsize::new(0), limit: budget, freed: Notify::new() });
    (EventSender { tx, budget: budget.clone() }, EventReceiver { rx, budget })
}

/// Bytes of events in the channel and the limit above which output waits.
#[derive(Debug)]
struct Budget {
    waiting: AtomicUsize,
    limit: usize,
    freed: Notify,
}

/// What an event counts for against the budget: the text it carries plus a little for the
/// event itself.
fn cost(event: &JobEvent) -> usize {
    let text = match event {
        JobEvent::Line { text, .. } | JobEvent::Lines { text, .. } => text.len(),
        JobEvent::StepStarted { name, .. } => name.len(),
        JobEvent::Group { title, .. } => title.len(),
        JobEvent::Annotation { annotation, .. } => annotation.message.len(),
        JobEvent::EndGroup { .. } | JobEvent::StepFinished { .. } => 0,
    };
    text + 32
}

/// The sending side; clones share the channel and its budget.
#[derive(Debug, Clone)]
pub struct EventSender {
    tx: mpsc::UnboundedSender<(usize, JobEvent)>,
    budget: Arc<Budget>,
}

impl EventSender {
    /// Sends `event` tagged `tag`, without waiting (a receiver that is gone drops it).
    pub fn send(&self, tag: usize, event: JobEvent) {
        let cost = cost(&event);
        self.budget.waiting.fetch_add(cost, Ordering::AcqRel);
        if self.tx.send((tag, event)).is_err() {
            self.budget.waiting.fetch_sub(cost, Ordering::AcqRel);
        }
    }

    /// Whether the channel holds less than its budget, or nobody receives any more (then
    /// output is read and dropped, so a step never waits for a receiver that is gone).
    #[must_use]
    pub fn is_writable(&self) -> bool {
        self.budget.waiting.load(Ordering::Acquire) < self.budget.limit || self.tx.is_closed()
    }

    /// Resolves once the channel holds less than its budget, at once when it does already.
    pub async fn writable(&self) {
        loop {
            // Created before the check: `notify_waiters` after this point wakes it even
            // before it is polled, so a receive between the check and the wait is not missed.
            let freed = self.budget.freed.notified();
            if self.is_writable() {
                return;
            }
            freed.await;
        }
    }
}

/// The receiving side; receiving an event frees its part of the budget.
#[derive(Debug)]
pub struct EventReceiver {
    rx: mpsc::UnboundedReceiver<(usize, JobEvent)>,
    budget: Arc<Budget>,
}

impl EventReceiver {
    /// The next event, `None` once every sender is gone and the channel is empty.
    pub async fn recv(&mut self) -> Option<(usize, JobEvent)> {
        let received = self.rx.recv().await;
        if let Some((_, event)) = &received {
            self.free(cost(event));
        }
        received
    }

    /// Waits for events and appends every waiting one, up to `limit`, to `buffer`; 0 once
    /// every sender is gone and the channel is empty. One wake-up for many lines.
    pub async fn recv_many(&mut self, buffer: &mut Vec<(usize, JobEvent)>, limit: usize) -> usize {
        let before = buffer.len();
        let n_received = self.rx.recv_many(buffer, limit).await;
        self.free(buffer[before..].iter().map(|(_, event)| cost(event)).sum());
        n_received
    }

    /// An event that is waiting now, without waiting for one.
    pub fn try_recv(&mut self) -> Option<(usize, JobEvent)> {
        let received = self.rx.try_recv().ok();
        if let Some((_, event)) = &received {
            self.free(cost(event));
        }
        received
    }

    fn free(&self, bytes: usize) {
        if bytes == 0 {
            return;
        }
        let before = self.budget.waiting.fetch_sub(bytes, Ordering::AcqRel);
        if before - bytes < self.budget.limit {
            // Every waiting step (`ferry run` runs several jobs into one channel).
            self.budget.freed.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests;
