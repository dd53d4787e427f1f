//! Ferry's vocabulary: the words every other crate shares.
//!
//! This crate holds values and the rules between them (for example how a step's outcome
//! becomes its conclusion under `continue-on-error`), and the reader of durations every file
//! format shares ([`duration`]). It does no IO and reads no clock: it defines the [`Clock`]
//! others are given.

mod clock;
mod conclusion;
pub mod duration;
mod status;

pub use clock::Clock;
pub use conclusion::{Conclusion, JobStatus};
pub use status::Status;
