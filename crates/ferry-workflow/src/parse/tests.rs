//! Snapshot tests of the diagnostics for small workflows, one per check.
