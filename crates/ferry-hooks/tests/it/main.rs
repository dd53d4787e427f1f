//! Integration tests of ferry-hooks over the shared corpus of real webhook payloads
//! (`$FERRY_CORPUS/webhooks`, by default `../shared/corpus` beside the workspace), and of the
//! events they carry against workflows' `on:` filters.

mod corpus;
mod mangled;
mod signatures;
mod triggers;
