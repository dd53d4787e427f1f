//! Ferry's vocabulary: the words every other crate shares.
//!
//! This crate holds values and the rules between them (for example how a step's outcome
//! becomes its conclusion under `continue-on-error`). It does no IO and reads no clock.

mod conclusion;

pub use conclusion::{Conclusion, JobStatus};
