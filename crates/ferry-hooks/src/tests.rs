//! Unit tests of the crate root.
