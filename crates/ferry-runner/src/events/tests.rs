//! The event channel's budget: output waits while it is spent and goes on once events are
//! received.

use std::time::Duration;

use super::*;

fn line(text: &str) -> JobEvent {
    JobEvent::Line { step_idx: 0, text: text.to_owned() }
}

/// Whether `writable` resolves within a short while (it is either immediate or waits for a
/// receive that this test does not make).
async fn resolves(sender: &EventSender) -> bool {
    tokio::time::timeout(Duration::from_millis(50), sender.writable()).await.is_ok()
}

#[tokio::test]
async fn a_spent_budget_blocks_output_until_events_are_received() {
    let (sender, mut receiver) = channel(100);
    sender.send(7, line(&"x".repeat(60)));
    assert!(sender.is_writable(), "92 of 100 bytes are waiting");
    assert!(resolves(&sender).await);
    sender.send(7, line("y"));
    assert!(!sender.is_writable(), "125 of 100 bytes are waiting");
    assert!(!resolves(&sender).await, "writable must wait while the budget is spent");

    let waiter = tokio::spawn({
        let sender = sender.clone();
        async move { sender.writable().await }
    });
    let (tag, event) = receiver.recv().await.expect("an event");
    assert_eq!(tag, 7);
    assert_eq!(event, line(&"x".repeat(60)));
    tokio::time::timeout(Duration::from_secs(10), waiter)
        .await
        .expect("receiving wakes the waiting output")
        .expect("the waiter ran");
    assert!(sender.is_writable());
}

#[tokio::test]
async fn recv_many_takes_every_waiting_event_and_frees_their_budget() {
    let (sender, mut receiver) = channel(64);
    for text in ["a", "b", "c", "d"] {
        sender.send(1, line(text));
    }
    assert!(!sender.is_writable());
    let mut received = Vec::new();
    assert_eq!(receiver.recv_many(&mut received, 100).await, 4);
    let texts: Vec<_> = received
        .iter()
        .map(|(_, event)| match event {
            JobEvent::Line { text, .. } => text.as_str(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(texts, ["a", "b", "c", "d"]);
    assert!(sender.is_writable());
    assert!(receiver.try_recv().is_none());
}

#[tokio::test]
async fn output_never_waits_for_a_receiver_that_is_gone() {
    let (sender, receiver) = channel(10);
    sender.send(1, line("more than ten bytes"));
    assert!(!sender.is_writable());
    drop(receiver);
    assert!(sender.is_writable());
    assert!(resolves(&sender).await, "nobody will receive: waiting would hang the step");
}
