//! The names and ids the API takes, each rule defined once: the server refuses what the
//! `is_*` function here refuses (400), and the OpenAPI document shows the same rule, as a
//! `pattern` with lengths, through the schema types here (`("key" = Key, Path, …)` for a path
//! parameter, `#[schema(value_type = Name)]` on a body's field).
//!
//! Patterns use only what ECMA-262 (the document's dialect), Python (schemathesis, which
//! generates requests from them) and Rust's regex crates read alike: anchors, classes of
//! listed characters, repetition. No `\s` or `\w`: their sets differ between the three.

use std::borrow::Cow;

use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::{KnownFormat, RefOr, SchemaFormat};
use utoipa::{PartialSchema, ToSchema};

/// `^[A-Za-z0-9._-]{1,100}$`: see [`Name`].
pub const NAME_PATTERN: &str = "^[A-Za-z0-9._-]{1,100}$";
/// `^[A-Za-z_][A-Za-z0-9_]{0,199}$`: see [`Key`].
pub const KEY_PATTERN: &str = "^[A-Za-z_][A-Za-z0-9_]{0,199}$";
/// Some character that is not an ASCII space, tab or line break: see [`Text`].
pub const TEXT_PATTERN: &str = "[^\\t\\n\\x0b\\x0c\\r ]";
/// `^[0-9a-f]{64}$`: see [`Digest`].
pub const DIGEST_PATTERN: &str = "^[0-9a-f]{64}$";

/// Whether `name` is a [`Name`].
#[must_use]
pub fn is_name(name: &str) -> bool {
    (1..=100).contains(&name.len())
        && name.bytes().all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-'))
}

/// Whether `key` is a [`Key`].
#[must_use]
pub fn is_key(key: &str) -> bool {
    key.bytes().next().is_some_and(|first| !first.is_ascii_digit())
        && key.len() <= 200
        && key.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'_')
}

/// Whether `text` is a [`Text`]: something other than spaces, tabs and line breaks.
#[must_use]
pub fn is_text(text: &str) -> bool {
    text.bytes().any(|byte| !matches!(byte, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' '))
}

/// Whether `text` is a [`Digest`]: a SHA-256 as blobs are named, 64 lowercase hex digits.
#[must_use]
pub fn is_digest(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f'))
}

/// A string schema with this pattern, lengths and description.
fn string_schema(pattern: &str, min_length: usize, max_length: Option<usize>, description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(SchemaType::new(Type::String))
        .pattern(Some(pattern))
        .min_length(Some(min_length))
        .max_length(max_length)
        .description(Some(description))
        .into()
}

/// The name of a project or a runner, which appears in URLs: 1 to 100 ASCII letters, digits,
/// `.`, `_` or `-`. (A schema only; the value is a `String` checked with [`is_name`].)
pub enum Name {}

impl PartialSchema for Name {
    fn schema() -> RefOr<Schema> {
        string_schema(NAME_PATTERN, 1, Some(100), "1 to 100 letters, digits, `.`, `_` or `-`")
    }
}

impl ToSchema for Name {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Name")
    }
}

/// The name of a secret or a variable, as GitHub allows them: letters, digits and `_`, not
/// starting with a digit, at most 200. (A schema only; checked with [`is_key`].)
pub enum Key {}

impl PartialSchema for Key {
    fn schema() -> RefOr<Schema> {
        string_schema(KEY_PATTERN, 1, Some(200), "Letters, digits and `_`, not starting with a digit; at most 200")
    }
}

impl ToSchema for Key {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Key")
    }
}

/// Free text that must say something: not empty, and not only spaces, tabs and line breaks
/// (a token's name, a project's repository). (A schema only; checked with [`is_text`].)
pub enum Text {}

impl PartialSchema for Text {
    fn schema() -> RefOr<Schema> {
        string_schema(TEXT_PATTERN, 1, None, "Not empty, and not only spaces, tabs and line breaks")
    }
}

impl ToSchema for Text {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Text")
    }
}

/// A SHA-256 digest in lowercase hex, as blobs are named. (A schema only; checked with
/// [`is_digest`].)
pub enum Digest {}

impl PartialSchema for Digest {
    fn schema() -> RefOr<Schema> {
        string_schema(DIGEST_PATTERN, 64, Some(64), "A SHA-256 digest: 64 lowercase hex digits")
    }
}

impl ToSchema for Digest {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Digest")
    }
}

/// The id of a stored row (a run, a job, a token) in a path: an `i64` from 1 up. A path
/// segment that is no such number is refused with 400; a number no row has, with 404.
pub enum Id {}

impl PartialSchema for Id {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::new(Type::Integer))
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .minimum(Some(1))
            .maximum(Some(i64::MAX))
            .description(Some("An id: a whole number from 1 to 9223372036854775807"))
            .into()
    }
}

impl ToSchema for Id {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Id")
    }
}

/// A conclusion as the API writes it: `success`, `failure`, `cancelled`, `skipped` or
/// `neutral` ([`Conclusion`](crate::Conclusion)'s words).
pub enum ConclusionWord {}

impl PartialSchema for ConclusionWord {
    fn schema() -> RefOr<Schema> {
        use crate::Conclusion;
        let words =
            [Conclusion::Success, Conclusion::Failure, Conclusion::Cancelled, Conclusion::Skipped, Conclusion::Neutral]
                .map(Conclusion::as_str);
        ObjectBuilder::new()
            .schema_type(SchemaType::new(Type::String))
            .enum_values(Some(words))
            .description(Some("How a step, job or run ended, in GitHub's words"))
            .into()
    }
}

impl ToSchema for ConclusionWord {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Conclusion")
    }
}

/// What a run list's `status` filter takes: a status (`queued`, `in_progress`,
/// `completed`) or a conclusion of completed runs (`success`, `failure`, `cancelled`,
/// `skipped`, `neutral`).
pub enum RunStateWord {}

impl PartialSchema for RunStateWord {
    fn schema() -> RefOr<Schema> {
        use crate::{Conclusion, Status};
        let statuses = [Status::Queued, Status::InProgress, Status::Completed].map(Status::as_str);
        let conclusions =
            [Conclusion::Success, Conclusion::Failure, Conclusion::Cancelled, Conclusion::Skipped, Conclusion::Neutral]
                .map(Conclusion::as_str);
        ObjectBuilder::new()
            .schema_type(SchemaType::new(Type::String))
            .enum_values(Some(statuses.into_iter().chain(conclusions)))
            .description(Some("A run's status, or the conclusion of a completed run"))
            .into()
    }
}

impl ToSchema for RunStateWord {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("RunState")
    }
}

#[cfg(test)]
mod tests;
