//! Runs steps as real processes on this host, the way GitHub's runner does.
