//! ferry-testkit's integration tests: the PostgreSQL `TestDb` and the headless Chromium
//! start, work and leave nothing behind, whether their users drop them or the process dies.

mod chromium;
mod postgres;
