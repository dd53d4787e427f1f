//! Fixture snapshots.
