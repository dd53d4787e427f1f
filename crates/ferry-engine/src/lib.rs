//! The run scheduler: expands matrices into concrete jobs, orders them by `needs`, and decides
//! which job runs, waits, or is skipped as results come in. Events in, commands out; no IO.
