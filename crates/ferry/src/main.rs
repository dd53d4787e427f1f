//! The `ferry` binary: parses arguments, sets up output, and wires the crates together.

fn main() {}
