//! Reading `deployments.csv` and `incidents.csv` (`ferry dora import`): a fixed header, one
//! event a row, RFC 3339 times. Every bad row is reported with its line, all at once.
//! Fields may be quoted (`"…"`, `""` for a quote), as spreadsheets write them.

use std::fmt;

use ferry_proto::dora::{DeploymentOutcome, ExternalDeployment, ExternalIncident};

/// The header `deployments.csv` must start with.
pub const DEPLOYMENTS_HEADER: &str = "service,environment,commit,finished_at,outcome";
/// The header `incidents.csv` must start with.
pub const INCIDENTS_HEADER: &str = "service,environment,started_at,resolved_at,caused_by_commit";
/// The most rows one file may hold.
const MAX_ROWS: usize = 1_000_000;

/// What is wrong with one line of a CSV file (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for CsvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Splits one line into fields; `None` when a quote is not closed.
fn fields(line: &str) -> Option<Vec<String>> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (false, '"') if at_start => quoted = true,
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (false, ',') => {
                fields.push(std::mem::take(&mut field));
                at_start = true;
                continue;
            }
            _ => field.push(c),
        }
        at_start = false;
    }
    if quoted {
        return None;
    }
    fields.push(field);
    Some(fields)
}

/// The rows of `text` under `header`: (line number, fields), or every error.
fn rows(text: &str, header: &str, errors: &mut Vec<CsvError>) -> Vec<(usize, Vec<String>)> {
    let mut lines = text.lines().enumerate().map(|(idx, line)| (idx + 1, line.trim_end_matches('\r')));
    let n_columns = header.split(',').count();
    match lines.next() {
        Some((_, first)) if first.trim_start_matches('\u{feff}').trim() == header => {}
        Some((_, first)) => {
            errors.push(CsvError { line: 1, message: format!("the header is {first:?}; it must be {header:?}") });
            return Vec::new();
        }
        None => {
            errors.push(CsvError { line: 1, message: format!("the file is empty; it must start with {header:?}") });
            return Vec::new();
        }
    }
    let mut rows = Vec::new();
    for (line, text) in lines {
        if text.trim().is_empty() {
            continue;
        }
        if rows.len() >= MAX_ROWS {
            errors.push(CsvError { line, message: format!("more than {MAX_ROWS} rows; split the file") });
            break;
        }
        match fields(text) {
            None => errors.push(CsvError { line, message: "a quoted field is not closed".to_owned() }),
            Some(fields) if fields.len() != n_columns => errors.push(CsvError {
                line,
                message: format!("{} fields where the header {header:?} has {n_columns}", fields.len()),
            }),
            Some(fields) => rows.push((line, fields.into_iter().map(|field| field.trim().to_owned()).collect())),
        }
    }
    rows
}

/// What is wrong with one field of a row.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum FieldError {
    #[error("{column} {text:?} is not an RFC 3339 time ({reason}); write e.g. 2026-01-31T14:05:00Z")]
    Time { column: String, text: String, reason: String },
    #[error("{0} is empty")]
    Empty(String),
    #[error("outcome {0:?} must be succeeded, failed or rolled_back")]
    Outcome(String),
    #[error("resolved_at is before started_at")]
    ResolvedBeforeStart,
}

fn time_ms(text: &str, column: &str) -> Result<i64, FieldError> {
    chrono::DateTime::parse_from_rfc3339(text).map(|time| time.timestamp_millis()).map_err(|error| FieldError::Time {
        column: column.to_owned(),
        text: text.to_owned(),
        reason: error.to_string(),
    })
}

fn required<'a>(text: &'a str, column: &str) -> Result<&'a str, FieldError> {
    if text.is_empty() { Err(FieldError::Empty(column.to_owned())) } else { Ok(text) }
}

/// Reads `deployments.csv` (header [`DEPLOYMENTS_HEADER`]).
///
/// # Errors
/// Every bad line: the header, a field count, an empty field, a time, an outcome.
pub fn parse_deployments(text: &str) -> Result<Vec<ExternalDeployment>, Vec<CsvError>> {
    let mut errors = Vec::new();
    let mut deployments = Vec::new();
    for (line, fields) in rows(text, DEPLOYMENTS_HEADER, &mut errors) {
        let [service, environment, commit, finished_at, outcome] = fields.as_slice() else { continue };
        let parsed = (|| {
            let outcome = match outcome.as_str() {
                "succeeded" => DeploymentOutcome::Succeeded,
                "failed" => DeploymentOutcome::Failed,
                "rolled_back" => DeploymentOutcome::RolledBack,
                other => return Err(FieldError::Outcome(other.to_owned())),
            };
            Ok(ExternalDeployment {
                service: required(service, "service")?.to_owned(),
                environment: required(environment, "environment")?.to_owned(),
                commit: required(commit, "commit")?.to_owned(),
                finished_at: time_ms(finished_at, "finished_at")?,
                outcome,
            })
        })();
        match parsed {
            Ok(deployment) => deployments.push(deployment),
            Err(error) => errors.push(CsvError { line, message: error.to_string() }),
        }
    }
    errors.sort_by_key(|error| error.line);
    if errors.is_empty() { Ok(deployments) } else { Err(errors) }
}

/// Reads `incidents.csv` (header [`INCIDENTS_HEADER`]); an empty `resolved_at` is an open
/// incident, an empty `caused_by_commit` one attributed by time.
///
/// # Errors
/// Every bad line: the header, a field count, an empty field, a time, a resolution before
/// the start.
pub fn parse_incidents(text: &str) -> Result<Vec<ExternalIncident>, Vec<CsvError>> {
    let mut errors = Vec::new();
    let mut incidents = Vec::new();
    for (line, fields) in rows(text, INCIDENTS_HEADER, &mut errors) {
        let [service, environment, started_at, resolved_at, caused_by_commit] = fields.as_slice() else { continue };
        let parsed = (|| {
            let started_at = time_ms(started_at, "started_at")?;
            let resolved_at = if resolved_at.is_empty() { None } else { Some(time_ms(resolved_at, "resolved_at")?) };
            if resolved_at.is_some_and(|resolved| resolved < started_at) {
                return Err(FieldError::ResolvedBeforeStart);
            }
            Ok(ExternalIncident {
                service: required(service, "service")?.to_owned(),
                environment: required(environment, "environment")?.to_owned(),
                started_at,
                resolved_at,
                caused_by_commit: (!caused_by_commit.is_empty()).then(|| caused_by_commit.clone()),
                title: None,
            })
        })();
        match parsed {
            Ok(incident) => incidents.push(incident),
            Err(error) => errors.push(CsvError { line, message: error.to_string() }),
        }
    }
    errors.sort_by_key(|error| error.line);
    if errors.is_empty() { Ok(incidents) } else { Err(errors) }
}
