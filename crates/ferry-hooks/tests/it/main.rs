//! Integration tests of ferry-hooks over the shared corpus of real webhook payloads
//! (`$FERRY_CORPUS/webhooks`, by default `../shared/corpus` beside the workspace), and of the
//! events they carry against workflows' `on:` filters. They all sit under `corpus::`, which
//! the suite leaves to its own step (`scripts/corpus`): a clone without the corpus passes
//! `scripts/test`, and the forge parsers' own tests are the unit tests in `src/`.

mod corpus;
