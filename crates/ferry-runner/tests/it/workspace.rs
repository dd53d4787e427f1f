//! Workspaces: real git repositories in temporary directories.
