//! No panics.
