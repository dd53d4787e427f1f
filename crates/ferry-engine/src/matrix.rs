//! Matrix expansion as GitHub documents it: the cartesian product of the matrix's
//! dimensions, minus `exclude`, plus `include`; and the names GitHub gives the jobs.

use serde_json::{Map, Value};

/// GitHub's limit on the jobs one matrix may generate.
pub const MAX_COMBINATIONS: usize = 256;

/// Why a matrix could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MatrixError {
    /// A dimension other than `include`/`exclude` is not a list.
    NotAList { key: String },
    /// `include` or `exclude` is not a list of mappings.
    BadIncludeExclude { key: &'static str },
    /// The product is larger than GitHub allows.
    TooLarge { n_combinations: usize },
    /// The matrix is not a mapping (for example an expression that evaluated to a string).
    NotAMapping,
}

impl std::fmt::Display for MatrixError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MatrixError::NotAList { key } => {
                write!(f, "matrix dimension `{key}` must be a list of values, like `{key}: [a, b]`")
            }
            MatrixError::BadIncludeExclude { key } => write!(f, "matrix `{key}` must be a list of mappings"),
            MatrixError::TooLarge { n_combinations } => {
                write!(f, "the matrix generates {n_combinations} jobs; at most {MAX_COMBINATIONS} are allowed")
            }
            MatrixError::NotAMapping => f.write_str("the matrix must be a mapping of dimensions to lists"),
        }
    }
}

impl std::error::Error for MatrixError {}

/// Expands `matrix` into its combinations, in GitHub's order: the first dimension varies
/// slowest; combinations created by `include` come after the product.
///
/// An empty matrix (or one whose product is empty and has no `include`) yields no
/// combinations; callers run a job without a `strategy.matrix` once, with an empty matrix.
pub fn expand_matrix(matrix: &Value) -> Result<Vec<Map<String, Value>>, MatrixError> {
    let Value::Object(matrix) = matrix else { return Err(MatrixError::NotAMapping) };
    let mut dimensions = Vec::new();
    let mut include: &[Value] = &[];
    let mut exclude: &[Value] = &[];
    for (key, values) in matrix {
        match (key.as_str(), values) {
            ("include", Value::Array(list)) => include = list,
            ("exclude", Value::Array(list)) => exclude = list,
            ("include", _) => return Err(MatrixError::BadIncludeExclude { key: "include" }),
            ("exclude", _) => return Err(MatrixError::BadIncludeExclude { key: "exclude" }),
            (_, Value::Array(list)) => dimensions.push((key, list)),
            _ => return Err(MatrixError::NotAList { key: key.clone() }),
        }
    }
    if include.iter().chain(exclude).any(|entry| !entry.is_object()) {
        let key = if include.iter().any(|entry| !entry.is_object()) { "include" } else { "exclude" };
        return Err(MatrixError::BadIncludeExclude { key });
    }

    let n_product = dimensions.iter().try_fold(1usize, |n, (_, list)| n.checked_mul(list.len()));
    let n_product = n_product.unwrap_or(usize::MAX);
    if n_product > MAX_COMBINATIONS {
        return Err(MatrixError::TooLarge { n_combinations: n_product });
    }
    let mut combinations: Vec<Map<String, Value>> = if dimensions.is_empty() { Vec::new() } else { vec![Map::new()] };
    for (key, list) in &dimensions {
        combinations = combinations
            .into_iter()
            .flat_map(|combination| {
                list.iter().map(move |value| {
                    let mut next = combination.clone();
                    next.insert((*key).clone(), value.clone());
                    next
                })
            })
            .collect();
    }
    combinations.retain(|combination| !exclude.iter().any(|entry| matches_partially(combination, entry)));

    // Keys of the product may not be overwritten by `include`; keys an include added may.
    let n_original = combinations.len();
    let original_keys: Vec<&String> = dimensions.iter().map(|(key, _)| *key).collect();
    let mut extra = Vec::new();
    for entry in include {
        let Value::Object(entry) = entry else { continue };
        let mut added = false;
        for combination in combinations.iter_mut().take(n_original) {
            let overwrites_original = entry.iter().any(|(key, value)| {
                original_keys.contains(&key) && combination.get(key).is_some_and(|have| have != value)
            });
            if !overwrites_original {
                for (key, value) in entry {
                    combination.insert(key.clone(), value.clone());
                }
                added = true;
            }
        }
        if !added {
            extra.push(entry.clone());
        }
    }
    combinations.extend(extra);
    if combinations.len() > MAX_COMBINATIONS {
        return Err(MatrixError::TooLarge { n_combinations: combinations.len() });
    }
    Ok(combinations)
}

/// Whether every key of `entry` has the same value in `combination` (how `exclude` matches).
fn matches_partially(combination: &Map<String, Value>, entry: &Value) -> bool {
    let Value::Object(entry) = entry else { return false };
    entry.iter().all(|(key, value)| combination.get(key) == Some(value))
}

/// The name GitHub shows for one combination of a matrix job: `build (linux, 3)`.
/// Values that are not scalars are shown as compact JSON.
pub fn instance_name(base: &str, combination: &Map<String, Value>) -> String {
    if combination.is_empty() {
        return base.to_owned();
    }
    let values: Vec<String> = combination
        .values()
        .map(|value| match value {
            Value::String(text) => text.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        })
        .collect();
    format!("{base} ({})", values.join(", "))
}

#[cfg(test)]
mod tests;
