//! Looking fields up in a JSON payload by path, with errors that name the payload and the
//! field: "push payload: `commits[0].id` is missing".

use serde_json::{Map, Value};

use crate::HookError;

/// A JSON value and where it sits in a payload.
#[derive(Clone, Copy)]
pub(super) struct Node<'a> {
    value: &'a Value,
    /// What the payload is, for messages: `push`, `pull_request`.
    payload: &'a str,
    /// Where `value` is (`commits[0]`); empty at the root.
    path: &'a str,
}

/// A [`Node`] whose path is owned, for array items and nested objects.
pub(super) struct Owned<'a> {
    value: &'a Value,
    payload: &'a str,
    path: String,
}

impl<'a> Owned<'a> {
    pub(super) fn node(&self) -> Node<'_> {
        Node { value: self.value, payload: self.payload, path: &self.path }
    }
}

fn type_name(value: &Value) -> String {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(number) => return format!("the number {number}"),
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
    .to_owned()
}

impl<'a> Node<'a> {
    pub(super) fn root(value: &'a Value, payload: &'a str) -> Node<'a> {
        Node { value, payload, path: "" }
    }

    fn child_path(&self, key: &str) -> String {
        if self.path.is_empty() { key.to_owned() } else { format!("{}.{key}", self.path) }
    }

    fn malformed(&self, key: &str, problem: &str) -> HookError {
        HookError::Malformed { message: format!("{} payload: `{}` {problem}", self.payload, self.child_path(key)) }
    }

    fn wrong_type(&self, key: &str, expected: &str, found: &Value) -> HookError {
        self.malformed(key, &format!("should be {expected}, not {}", type_name(found)))
    }

    /// The field `key`, unless it is missing or `null`.
    fn field(&self, key: &str) -> Option<&'a Value> {
        self.value.as_object().and_then(|object| object.get(key)).filter(|value| !value.is_null())
    }

    /// The object `key`, or `None` when missing or `null`.
    pub(super) fn opt_object(&self, key: &str) -> Result<Option<Owned<'a>>, HookError> {
        match self.field(key) {
            None => Ok(None),
            Some(value @ Value::Object(_)) => {
                Ok(Some(Owned { value, payload: self.payload, path: self.child_path(key) }))
            }
            Some(other) => Err(self.wrong_type(key, "an object", other)),
        }
    }

    /// The object `key`, which must be there.
    pub(super) fn object(&self, key: &str) -> Result<Owned<'a>, HookError> {
        self.opt_object(key)?.ok_or_else(|| self.malformed(key, "is missing"))
    }

    /// The object `key` as a JSON map (empty when missing or `null`).
    pub(super) fn map(&self, key: &str) -> Result<Map<String, Value>, HookError> {
        match self.field(key) {
            None => Ok(Map::new()),
            Some(Value::Object(map)) => Ok(map.clone()),
            Some(other) => Err(self.wrong_type(key, "an object", other)),
        }
    }

    /// The string `key`, or `None` when missing or `null`.
    pub(super) fn opt_str(&self, key: &str) -> Result<Option<String>, HookError> {
        match self.field(key) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(other) => Err(self.wrong_type(key, "a string", other)),
        }
    }

    /// The string `key`, which must be there.
    pub(super) fn str(&self, key: &str) -> Result<String, HookError> {
        self.opt_str(key)?.ok_or_else(|| self.malformed(key, "is missing"))
    }

    /// The boolean `key`, or `None` when missing or `null`.
    pub(super) fn opt_bool(&self, key: &str) -> Result<Option<bool>, HookError> {
        match self.field(key) {
            None => Ok(None),
            Some(Value::Bool(flag)) => Ok(Some(*flag)),
            Some(other) => Err(self.wrong_type(key, "a boolean", other)),
        }
    }

    /// The non-negative integer `key`, or `None` when missing or `null`.
    pub(super) fn opt_u64(&self, key: &str) -> Result<Option<u64>, HookError> {
        match self.field(key) {
            None => Ok(None),
            Some(value) => value.as_u64().map(Some).ok_or_else(|| self.wrong_type(key, "a whole number", value)),
        }
    }

    /// The items of the array `key` (none when missing or `null`).
    pub(super) fn items(&self, key: &str) -> Result<Vec<Owned<'a>>, HookError> {
        match self.field(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => Ok(items
                .iter()
                .enumerate()
                .map(|(idx, value)| Owned {
                    value,
                    payload: self.payload,
                    path: format!("{}[{idx}]", self.child_path(key)),
                })
                .collect()),
            Some(other) => Err(self.wrong_type(key, "an array", other)),
        }
    }

    /// The array of strings `key`, or `None` when missing or `null`.
    pub(super) fn opt_strings(&self, key: &str) -> Result<Option<Vec<String>>, HookError> {
        match self.field(key) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(idx, item)| match item {
                    Value::String(text) => Ok(text.clone()),
                    other => Err(self.wrong_type(&format!("{key}[{idx}]"), "a string", other)),
                })
                .collect::<Result<Vec<String>, HookError>>()
                .map(Some),
            Some(other) => Err(self.wrong_type(key, "an array", other)),
        }
    }
}
