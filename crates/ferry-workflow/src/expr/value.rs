//! Values while an expression is evaluated, and GitHub's coercions between them: truthiness,
//! string to number, number to string, and loose equality and ordering.
//!
//! Evaluation borrows arrays and objects from the contexts instead of copying them, which also
//! gives objects and arrays an identity: GitHub compares them by instance, and two borrowed
//! values are the same instance exactly when they are the same place in a context.

use std::borrow::Cow;
use std::cmp::Ordering;

use super::Value;

/// A value during evaluation. Unlike [`Value`] it holds any double (NaN, infinities) and the
/// result of a `.*` filter, which later property accesses apply to each element.
#[derive(Debug, Clone)]
pub(crate) enum Val<'a> {
    Null,
    Bool(bool),
    Number(f64),
    Str(Cow<'a, str>),
    /// An array or object that lives in a context.
    Borrowed(&'a Value),
    /// An array or object made during evaluation (`fromJSON`).
    Owned(Value),
    /// The result of `.*`: its elements, each a value of any other variant.
    Filtered(Vec<Val<'a>>),
}

/// The kinds GitHub's coercion rules distinguish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Null,
    Bool,
    Number,
    String,
    Array,
    Object,
}

impl<'a> Val<'a> {
    pub(crate) fn from_ref(value: &'a Value) -> Val<'a> {
        match value {
            Value::Null => Val::Null,
            Value::Bool(b) => Val::Bool(*b),
            Value::Number(n) => Val::Number(n.as_f64().unwrap_or(f64::NAN)),
            Value::String(s) => Val::Str(Cow::Borrowed(s)),
            Value::Array(_) | Value::Object(_) => Val::Borrowed(value),
        }
    }

    pub(crate) fn from_owned(value: Value) -> Val<'a> {
        match value {
            Value::Null => Val::Null,
            Value::Bool(b) => Val::Bool(b),
            Value::Number(n) => Val::Number(n.as_f64().unwrap_or(f64::NAN)),
            Value::String(s) => Val::Str(Cow::Owned(s)),
            Value::Array(_) | Value::Object(_) => Val::Owned(value),
        }
    }

    pub(crate) fn kind(&self) -> Kind {
        match self {
            Val::Null => Kind::Null,
            Val::Bool(_) => Kind::Bool,
            Val::Number(_) => Kind::Number,
            Val::Str(_) => Kind::String,
            Val::Filtered(_) => Kind::Array,
            Val::Borrowed(value) => composite_kind(value),
            Val::Owned(value) => composite_kind(value),
        }
    }

    /// GitHub's truthiness: false, 0, -0, NaN, "" and null are false.
    pub(crate) fn is_truthy(&self) -> bool {
        match self {
            Val::Null => false,
            Val::Bool(b) => *b,
            Val::Number(n) => *n != 0.0 && !n.is_nan(),
            Val::Str(s) => !s.is_empty(),
            Val::Borrowed(_) | Val::Owned(_) | Val::Filtered(_) => true,
        }
    }

    /// The number a value coerces to: null 0, true 1, false 0, strings parsed, else NaN.
    pub(crate) fn to_number(&self) -> f64 {
        match self {
            Val::Null => 0.0,
            Val::Bool(b) => f64::from(u8::from(*b)),
            Val::Number(n) => *n,
            Val::Str(s) => parse_number(s),
            Val::Borrowed(_) | Val::Owned(_) | Val::Filtered(_) => f64::NAN,
        }
    }

    /// The string functions see (`format`, `join`, `contains`, …): GitHub names arrays and
    /// objects by their kind (`Array`, `Object`) here.
    pub(crate) fn to_function_string(&self) -> Cow<'_, str> {
        match self {
            Val::Null => Cow::Borrowed(""),
            Val::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
            Val::Number(n) => Cow::Owned(format_number(*n)),
            Val::Str(s) => Cow::Borrowed(s),
            Val::Borrowed(_) | Val::Owned(_) | Val::Filtered(_) => {
                Cow::Borrowed(if self.kind() == Kind::Array { "Array" } else { "Object" })
            }
        }
    }

    /// The text the value becomes when interpolated into a template: like
    /// [`Val::to_function_string`], except arrays and objects become their `toJSON` text.
    pub(crate) fn to_display_string(&self) -> String {
        match self {
            Val::Borrowed(_) | Val::Owned(_) | Val::Filtered(_) => to_json_text(self),
            _ => self.to_function_string().into_owned(),
        }
    }

    /// The value as JSON. Integral doubles become JSON integers; NaN and the infinities,
    /// which JSON cannot hold, become the strings `NaN`, `Infinity` and `-Infinity`.
    pub(crate) fn into_value(self) -> Value {
        match self {
            Val::Null => Value::Null,
            Val::Bool(b) => Value::Bool(b),
            Val::Number(n) => number_value(n),
            Val::Str(s) => Value::String(s.into_owned()),
            Val::Borrowed(value) => value.clone(),
            Val::Owned(value) => value,
            Val::Filtered(items) => Value::Array(items.into_iter().map(Val::into_value).collect()),
        }
    }
}

fn composite_kind(value: &Value) -> Kind {
    if value.is_array() { Kind::Array } else { Kind::Object }
}

/// `toJSON`: pretty JSON with two-space indentation, numbers written as GitHub writes them.
pub(crate) fn to_json_text(value: &Val<'_>) -> String {
    let json = match value {
        Val::Number(n) if !n.is_finite() => return format_number(*n),
        Val::Borrowed(value) => normalize_numbers(value),
        Val::Owned(value) => normalize_numbers(value),
        other => normalize_numbers(&other.clone().into_value()),
    };
    serde_json::to_string_pretty(&json).unwrap_or_default()
}

/// A copy of `value` where every integral float is an integer, so `1.0` prints as `1`.
fn normalize_numbers(value: &Value) -> Value {
    match value {
        Value::Number(n) if n.is_f64() => number_value(n.as_f64().unwrap_or(f64::NAN)),
        Value::Array(items) => Value::Array(items.iter().map(normalize_numbers).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), normalize_numbers(v))).collect()),
        other => other.clone(),
    }
}

/// A double as a JSON value; see [`Val::into_value`].
pub(crate) fn number_value(n: f64) -> Value {
    // 2^53: every integer below it is exact in a double and in an i64.
    const EXACT: f64 = 9_007_199_254_740_992.0;
    if n.is_finite() && n.fract() == 0.0 && n.abs() <= EXACT {
        #[expect(clippy::cast_possible_truncation, reason = "integral and within ±2^53, so exact")]
        return Value::from(n as i64);
    }
    match serde_json::Number::from_f64(n) {
        Some(number) => Value::Number(number),
        None => Value::String(format_number(n)),
    }
}

/// Property lookup on an object, ignoring case as GitHub does; an exact match wins.
pub(crate) fn get_property<'v>(map: &'v serde_json::Map<String, Value>, key: &str) -> Option<&'v Value> {
    map.get(key).or_else(|| map.iter().find(|(k, _)| eq_ignore_case(k, key)).map(|(_, v)| v))
}

/// The key of `map` that `key` names, ignoring case (see [`get_property`]).
pub(crate) fn find_key(map: &serde_json::Map<String, Value>, key: &str) -> Option<String> {
    if map.contains_key(key) {
        return Some(key.to_owned());
    }
    map.keys().find(|k| eq_ignore_case(k, key)).cloned()
}

/// GitHub's case folding: upper case, except the dotless `ı` which .NET leaves alone.
pub(crate) fn fold(c: char) -> impl Iterator<Item = char> {
    let keep = (c == 'ı').then_some(c);
    let upper = if keep.is_some() { None } else { Some(c.to_uppercase()) };
    keep.into_iter().chain(upper.into_iter().flatten())
}

pub(crate) fn eq_ignore_case(a: &str, b: &str) -> bool {
    (a.len() == b.len() && a.eq_ignore_ascii_case(b)) || a.chars().flat_map(fold).eq(b.chars().flat_map(fold))
}

pub(crate) fn cmp_ignore_case(a: &str, b: &str) -> Ordering {
    a.chars().flat_map(fold).cmp(b.chars().flat_map(fold))
}

/// Two values after GitHub's coercion: the same kinds compare as themselves; different
/// primitive kinds compare as numbers; a primitive and an array or object never match.
enum Pair<'v, 'a> {
    Nulls,
    Bools(bool, bool),
    Numbers(f64, f64),
    Strings(&'v str, &'v str),
    Composites(&'v Val<'a>, &'v Val<'a>),
    Mismatch,
}

fn coerce<'v, 'a>(left: &'v Val<'a>, right: &'v Val<'a>) -> Pair<'v, 'a> {
    match (left, right) {
        (Val::Null, Val::Null) => Pair::Nulls,
        (Val::Bool(l), Val::Bool(r)) => Pair::Bools(*l, *r),
        (Val::Number(l), Val::Number(r)) => Pair::Numbers(*l, *r),
        (Val::Str(l), Val::Str(r)) => Pair::Strings(l, r),
        _ => {
            let (lk, rk) = (left.kind(), right.kind());
            let composite = |k| matches!(k, Kind::Array | Kind::Object);
            if lk == rk {
                Pair::Composites(left, right)
            } else if composite(lk) || composite(rk) {
                Pair::Mismatch
            } else {
                Pair::Numbers(left.to_number(), right.to_number())
            }
        }
    }
}

/// `==`: loose equality. NaN equals nothing; strings ignore case; arrays and objects are equal
/// only when they are the same instance (the same place in a context).
pub(crate) fn loose_eq(left: &Val<'_>, right: &Val<'_>) -> bool {
    match coerce(left, right) {
        Pair::Nulls => true,
        Pair::Bools(l, r) => l == r,
        Pair::Numbers(l, r) => l == r,
        Pair::Strings(l, r) => eq_ignore_case(l, r),
        Pair::Composites(Val::Borrowed(l), Val::Borrowed(r)) => std::ptr::eq(*l, *r),
        Pair::Composites(..) | Pair::Mismatch => false,
    }
}

/// The order of two values for `<` and `>`, or `None` when they do not compare (NaN, arrays,
/// objects, null against null, mismatched kinds).
pub(crate) fn loose_cmp(left: &Val<'_>, right: &Val<'_>) -> Option<Ordering> {
    match coerce(left, right) {
        Pair::Bools(l, r) => Some(l.cmp(&r)),
        Pair::Numbers(l, r) => l.partial_cmp(&r),
        Pair::Strings(l, r) => Some(cmp_ignore_case(l, r)),
        Pair::Nulls | Pair::Composites(..) | Pair::Mismatch => None,
    }
}

/// A string as a number, as GitHub reads it: surrounding whitespace ignored, empty is 0,
/// decimal with optional sign, fraction and exponent, `0x` hex and `0o` octal (32-bit),
/// `Infinity`, `-Infinity`; anything else is NaN.
pub(crate) fn parse_number(text: &str) -> f64 {
    let s = text.trim();
    if s.is_empty() {
        return 0.0;
    }
    if is_decimal(s) {
        return s.parse().unwrap_or(f64::NAN);
    }
    if let Some(hex) = s.strip_prefix("0x") {
        return radix_i32(hex, 16);
    }
    if let Some(octal) = s.strip_prefix("0o") {
        return radix_i32(octal, 8);
    }
    match s {
        "Infinity" | "+Infinity" => f64::INFINITY,
        "-Infinity" => f64::NEG_INFINITY,
        _ => f64::NAN,
    }
}

fn radix_i32(digits: &str, radix: u32) -> f64 {
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return f64::NAN;
    }
    i32::from_str_radix(digits, radix).map_or(f64::NAN, f64::from)
}

/// `[+-]digits[.digits][(e|E)[+-]digits]` with at least one mantissa digit (`1.` and `.5` too).
fn is_decimal(s: &str) -> bool {
    let bytes = s.as_bytes();
    let mut idx = 0;
    if matches!(bytes.first(), Some(b'+' | b'-')) {
        idx += 1;
    }
    let digits = |idx: &mut usize| {
        let start = *idx;
        while bytes.get(*idx).is_some_and(u8::is_ascii_digit) {
            *idx += 1;
        }
        *idx - start
    };
    let mut n_digits = digits(&mut idx);
    if bytes.get(idx) == Some(&b'.') {
        idx += 1;
        n_digits += digits(&mut idx);
    }
    if n_digits == 0 {
        return false;
    }
    if matches!(bytes.get(idx), Some(b'e' | b'E')) {
        idx += 1;
        if matches!(bytes.get(idx), Some(b'+' | b'-')) {
            idx += 1;
        }
        if digits(&mut idx) == 0 {
            return false;
        }
    }
    idx == bytes.len()
}

/// A number as GitHub writes it: JavaScript's `Number#toString` after rounding to 15 decimal
/// places, so `1` not `1.0`, `0.1` not `0.1000000000000000055…`, `1e+21`, `1e-7`, and `-0` as `0`.
pub(crate) fn format_number(n: f64) -> String {
    if n.is_nan() {
        return "NaN".to_owned();
    }
    if n.is_infinite() {
        return if n > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    let n = if n.abs() < 1e21 { format!("{n:.15}").parse().unwrap_or(n) } else { n };
    if n == 0.0 {
        return "0".to_owned();
    }
    // `{:e}` gives the shortest digits that read back as `n`, as JavaScript uses.
    let sci = format!("{:e}", n.abs());
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let point: i64 = exponent.parse::<i64>().unwrap_or(0) + 1;
    let n_digits = i64::try_from(digits.len()).unwrap_or(i64::MAX);
    let sign = if n < 0.0 { "-" } else { "" };
    let text = if n_digits <= point && point <= 21 {
        format!("{digits}{}", "0".repeat(usize::try_from(point - n_digits).unwrap_or(0)))
    } else if 0 < point && point <= 21 {
        let (int, frac) = digits.split_at(usize::try_from(point).unwrap_or(0));
        format!("{int}.{frac}")
    } else if -6 < point && point <= 0 {
        format!("0.{}{digits}", "0".repeat(usize::try_from(-point).unwrap_or(0)))
    } else {
        let (first, rest) = digits.split_at(1);
        let exp = point - 1;
        let exp_sign = if exp < 0 { "-" } else { "+" };
        let dot = if rest.is_empty() { "" } else { "." };
        format!("{first}{dot}{rest}e{exp_sign}{}", exp.abs())
    };
    format!("{sign}{text}")
}
