//! Alert routing as Alertmanager does it, without IO: its configuration file (`config.rs`),
//! label matchers (`matcher.rs`), time intervals (`time_interval.rs`), silences
//! (`silence.rs`), inhibition (`inhibit.rs`) and the dispatcher (`dispatch.rs`): alerts and
//! `now` in, notifications out, with a notification log that tells a restarted server what
//! it already sent. The server sends the notifications and keeps the state durable.

pub mod alert;
pub mod config;
pub mod dispatch;
pub mod duration;
pub mod inhibit;
pub mod matcher;
pub mod notify;
pub mod silence;
pub mod time_interval;

pub use alert::{Alert, Labels, fingerprint};
pub use config::{Config, InvalidConfig, compile, compile_valid};
pub use dispatch::{Dispatcher, LogEntry, Notification, NotifyReason};
pub use matcher::{MatchType, Matcher, parse_matchers};
pub use silence::Silence;
