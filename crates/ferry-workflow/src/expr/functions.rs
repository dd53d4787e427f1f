//! The built-in functions: their names and arities (checked when parsing) and what they compute.

use std::borrow::Cow;

use super::value::{Kind, Val, fold, loose_eq, to_json_text};
use super::{Context, HashFilesError, Value};
use ferry_model::JobStatus;

/// GitHub's limit on the arguments of the variadic functions.
const MAX_ARGS: usize = 255;

/// The longest string a function may build. Nested `format` or `toJSON` calls grow
/// exponentially with nesting, so without a limit a short expression could exhaust memory.
pub(crate) const MAX_STRING_LEN: usize = 4 << 20;

/// Why a function call failed, in the words the workflow's author reads (the caller adds
/// where the call is).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FunctionError {
    /// The text built would pass [`MAX_STRING_LEN`].
    #[error("{what} would produce more than {} MiB of text; build smaller values", MAX_STRING_LEN >> 20)]
    TooLong { what: &'static str },
    #[error(
        "the format string `{fmt}` is invalid; write `{{N}}` for argument N and `{{{{` or `}}}}` for a literal brace"
    )]
    InvalidFormat { fmt: String },
    #[error(
        "the format string `{fmt}` refers to argument {{{index}}}, but only {given} argument{} given after it",
        if *given == 1 { " was" } else { "s were" }
    )]
    MissingFormatArgument { fmt: String, index: String, given: usize },
    #[error("a `case` predicate must be true or false, but one is {kind}; compare it instead, as in `x == 'value'`")]
    CasePredicate { kind: &'static str },
    #[error("fromJSON was given an empty string, which is not JSON; check that the output or variable it reads is set")]
    EmptyJson,
    #[error(
        "fromJSON could not read its argument as JSON ({detail}); pass a JSON text such as '{{\"a\": 1}}' or '[1, 2]'"
    )]
    BadJson { detail: String },
    #[error(transparent)]
    HashFiles(#[from] HashFilesError),
}

/// `text` unless it is longer than [`MAX_STRING_LEN`].
fn limited(text: String, what: &'static str) -> Result<String, FunctionError> {
    if text.len() > MAX_STRING_LEN { Err(FunctionError::TooLong { what }) } else { Ok(text) }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Function {
    Contains,
    StartsWith,
    EndsWith,
    Format,
    Join,
    ToJson,
    FromJson,
    HashFiles,
    Success,
    Always,
    Cancelled,
    Failure,
    Case,
}

const ALL: [Function; 13] = [
    Function::Contains,
    Function::StartsWith,
    Function::EndsWith,
    Function::Format,
    Function::Join,
    Function::ToJson,
    Function::FromJson,
    Function::HashFiles,
    Function::Success,
    Function::Always,
    Function::Cancelled,
    Function::Failure,
    Function::Case,
];

impl Function {
    /// The function called `name`, ignoring case.
    pub(crate) fn lookup(name: &str) -> Option<Function> {
        ALL.into_iter().find(|function| function.name().eq_ignore_ascii_case(name))
    }

    /// The name as GitHub documents it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Function::Contains => "contains",
            Function::StartsWith => "startsWith",
            Function::EndsWith => "endsWith",
            Function::Format => "format",
            Function::Join => "join",
            Function::ToJson => "toJSON",
            Function::FromJson => "fromJSON",
            Function::HashFiles => "hashFiles",
            Function::Success => "success",
            Function::Always => "always",
            Function::Cancelled => "cancelled",
            Function::Failure => "failure",
            Function::Case => "case",
        }
    }

    /// The fewest and most arguments the function takes.
    pub(crate) fn arity(self) -> (usize, usize) {
        match self {
            Function::Contains | Function::StartsWith | Function::EndsWith => (2, 2),
            Function::Format | Function::HashFiles => (1, MAX_ARGS),
            Function::Join => (1, 2),
            Function::ToJson | Function::FromJson => (1, 1),
            Function::Success | Function::Always | Function::Cancelled | Function::Failure => (0, 0),
            // Predicate and value pairs, then a default: any odd number from 3 (see `parser`).
            Function::Case => (3, usize::MAX),
        }
    }

    pub(crate) fn is_status(self) -> bool {
        matches!(self, Function::Success | Function::Always | Function::Cancelled | Function::Failure)
    }

    /// The known name closest to a misspelt `name`, if one is close enough to suggest.
    pub(crate) fn suggest(name: &str) -> Option<Function> {
        let name = name.to_ascii_lowercase();
        ALL.into_iter()
            .map(|function| (edit_distance(&name, &function.name().to_ascii_lowercase()), function))
            .filter(|&(distance, function)| distance <= 2.max(function.name().len() / 3))
            .min_by_key(|&(distance, _)| distance)
            .map(|(_, function)| function)
    }

    /// Every function name, for error messages.
    pub(crate) fn all_names() -> String {
        ALL.iter().map(|function| format!("`{}`", function.name())).collect::<Vec<_>>().join(", ")
    }

    /// Calls the function; arity was checked when parsing. Errors are messages: the caller
    /// knows where the call is.
    pub(crate) fn call<'a>(self, args: Vec<Val<'a>>, ctx: &dyn Context) -> Result<Val<'a>, FunctionError> {
        let arg = |idx: usize| args.get(idx).unwrap_or(&Val::Null);
        let res = match self {
            Function::Contains => Val::Bool(contains(arg(0), arg(1))),
            Function::StartsWith => Val::Bool(affix(arg(0), arg(1), starts_with_ignore_case)),
            Function::EndsWith => Val::Bool(affix(arg(0), arg(1), ends_with_ignore_case)),
            Function::Format => Val::Str(Cow::Owned(format(&args)?)),
            Function::Join => Val::Str(Cow::Owned(join(arg(0), args.get(1))?)),
            Function::ToJson => Val::Str(Cow::Owned(limited(to_json_text(arg(0)), "toJSON")?)),
            Function::FromJson => from_json(&arg(0).to_function_string())?,
            Function::HashFiles => {
                let patterns: Vec<String> = args.iter().map(|arg| arg.to_function_string().into_owned()).collect();
                Val::Str(Cow::Owned(ctx.hash_files(&patterns)?))
            }
            Function::Success => Val::Bool(ctx.job_status() == JobStatus::Success),
            Function::Failure => Val::Bool(ctx.job_status() == JobStatus::Failure),
            Function::Cancelled => Val::Bool(ctx.job_status() == JobStatus::Cancelled),
            Function::Always => Val::Bool(true),
            Function::Case => case(args)?,
        };
        Ok(res)
    }
}

/// `contains(search, item)`: an element of an array (loose equality), or a substring of a
/// string ignoring case, both sides coerced to strings.
fn contains(search: &Val<'_>, item: &Val<'_>) -> bool {
    let primitive = |val: &Val<'_>| !matches!(val.kind(), Kind::Array | Kind::Object);
    match search {
        Val::Borrowed(Value::Array(items)) | Val::Owned(Value::Array(items)) => {
            items.iter().any(|element| loose_eq(item, &Val::from_ref(element)))
        }
        Val::Filtered(items) => items.iter().any(|element| loose_eq(item, element)),
        Val::Borrowed(_) | Val::Owned(_) => false,
        _ if !primitive(item) => false,
        // GitHub lower-cases both sides here, where comparisons upper-case them.
        _ => search.to_function_string().to_lowercase().contains(&item.to_function_string().to_lowercase()),
    }
}

/// `startsWith` and `endsWith`: both primitive, compared as strings ignoring case.
fn affix(search: &Val<'_>, item: &Val<'_>, test: fn(&str, &str) -> bool) -> bool {
    let primitive = |val: &Val<'_>| !matches!(val.kind(), Kind::Array | Kind::Object);
    primitive(search) && primitive(item) && test(&search.to_function_string(), &item.to_function_string())
}

fn starts_with_ignore_case(text: &str, prefix: &str) -> bool {
    let mut text = text.chars().flat_map(fold);
    prefix.chars().flat_map(fold).all(|c| text.next() == Some(c))
}

fn ends_with_ignore_case(text: &str, suffix: &str) -> bool {
    let mut text = text.chars().rev().flat_map(fold);
    suffix.chars().rev().flat_map(fold).all(|c| text.next() == Some(c))
}

/// `format(fmt, args…)`: `{N}` is argument N, `{{` and `}}` are literal braces.
fn format(args: &[Val<'_>]) -> Result<String, FunctionError> {
    let Some((fmt, values)) = args.split_first() else { return Ok(String::new()) };
    let fmt = fmt.to_function_string();
    let invalid = || FunctionError::InvalidFormat { fmt: fmt.clone().into_owned() };
    let mut out = String::with_capacity(fmt.len());
    let mut rest: &str = &fmt;
    while let Some(brace) = rest.find(['{', '}']) {
        out.push_str(&rest[..brace]);
        let after = &rest[brace + 1..];
        if rest[brace..].starts_with('}') {
            if !after.starts_with('}') {
                return Err(invalid());
            }
            out.push('}');
            rest = &after[1..];
            continue;
        }
        if let Some(after_escape) = after.strip_prefix('{') {
            out.push('{');
            rest = after_escape;
            continue;
        }
        let n_digits = after.bytes().take_while(u8::is_ascii_digit).count();
        if n_digits == 0 || !after[n_digits..].starts_with('}') {
            return Err(invalid());
        }
        let value = after[..n_digits].parse::<usize>().ok().and_then(|idx| values.get(idx)).ok_or_else(|| {
            FunctionError::MissingFormatArgument {
                fmt: fmt.clone().into_owned(),
                index: after[..n_digits].to_owned(),
                given: values.len(),
            }
        })?;
        out.push_str(&value.to_function_string());
        if out.len() > MAX_STRING_LEN {
            return Err(FunctionError::TooLong { what: "format" });
        }
        rest = &after[n_digits + 1..];
    }
    out.push_str(rest);
    limited(out, "format")
}

/// `case(pred1, val1, pred2, val2, …, default)`: the value after the first true predicate,
/// else the default. Predicates must be booleans. Like GitHub, every argument is evaluated.
fn case(args: Vec<Val<'_>>) -> Result<Val<'_>, FunctionError> {
    let mut args = args.into_iter();
    while let Some(predicate) = args.next() {
        let Some(value) = args.next() else { return Ok(predicate) };
        match predicate {
            Val::Bool(true) => return Ok(value),
            Val::Bool(false) => {}
            other => {
                let kind = match other.kind() {
                    Kind::Null => "null",
                    Kind::Bool => "a boolean",
                    Kind::Number => "a number",
                    Kind::String => "a string",
                    Kind::Array => "an array",
                    Kind::Object => "an object",
                };
                return Err(FunctionError::CasePredicate { kind });
            }
        }
    }
    Ok(Val::Null)
}

/// `join(array, separator = ",")`: the elements as strings; a primitive is its own string.
fn join(array: &Val<'_>, separator: Option<&Val<'_>>) -> Result<String, FunctionError> {
    let separator = match separator {
        Some(sep) if !matches!(sep.kind(), Kind::Array | Kind::Object) => sep.to_function_string(),
        _ => Cow::Borrowed(","),
    };
    let items: Vec<Val<'_>> = match array {
        Val::Borrowed(Value::Array(items)) | Val::Owned(Value::Array(items)) => {
            items.iter().map(Val::from_ref).collect()
        }
        Val::Filtered(items) => items.clone(),
        Val::Borrowed(_) | Val::Owned(_) => return Ok(String::new()),
        primitive => return Ok(primitive.to_function_string().into_owned()),
    };
    let mut out = String::new();
    for (idx, item) in items.iter().enumerate() {
        if idx > 0 {
            out.push_str(&separator);
        }
        out.push_str(&item.to_function_string());
        if out.len() > MAX_STRING_LEN {
            return Err(FunctionError::TooLong { what: "join" });
        }
    }
    Ok(out)
}

/// `fromJSON(text)`.
fn from_json<'a>(text: &str) -> Result<Val<'a>, FunctionError> {
    if text.trim().is_empty() {
        return Err(FunctionError::EmptyJson);
    }
    match serde_json::from_str::<Value>(text) {
        Ok(value) => Ok(Val::from_owned(value)),
        Err(error) => Err(FunctionError::BadJson { detail: error.to_string() }),
    }
}

/// Levenshtein distance, for suggesting function names.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != *cb)).min(row[j] + 1).min(above + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}
