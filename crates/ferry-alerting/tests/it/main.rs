//! Integration tests of `ferry-alerting`: the real-world corpus (`corpus`, run by
//! `scripts/corpus`).

mod corpus;
