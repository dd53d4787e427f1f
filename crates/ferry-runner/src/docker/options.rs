//! `options:` of a job container or a service: the `docker create` flags GitHub passes on,
//! parsed into what Ferry gives the engine. A flag Ferry does not know is a clear error naming
//! the ones it does, rather than one silently dropped.

use std::collections::HashMap;
use std::time::Duration;

/// The flags of one `options:` string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerOptions {
    pub health_cmd: Option<String>,
    pub health_interval: Option<Duration>,
    pub health_timeout: Option<Duration>,
    pub health_retries: Option<i64>,
    pub health_start_period: Option<Duration>,
    /// `-e NAME=value` (and `-e NAME`, which takes nothing here: the runner's environment is
    /// not the container's).
    pub env: Vec<String>,
    pub entrypoint: Option<String>,
    pub user: Option<String>,
    pub workdir: Option<String>,
    pub hostname: Option<String>,
    pub privileged: bool,
    pub cap_add: Vec<String>,
    pub shm_size: Option<i64>,
    pub volumes: Vec<String>,
    pub ports: Vec<String>,
    pub tmpfs: HashMap<String, String>,
    pub labels: Vec<(String, String)>,
}

/// Why an `options:` string cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionsError {
    #[error("`{0}` has an unclosed quote")]
    UnclosedQuote(String),
    #[error("option `{0}` needs a value")]
    MissingValue(String),
    #[error("option `{flag}`: `{value}` is not {what}")]
    BadValue { flag: String, value: String, what: &'static str },
    #[error(
        "option `{0}` is not supported here; Ferry passes on --health-cmd, --health-interval, --health-timeout, \
         --health-retries, --health-start-period, -e/--env, --entrypoint (services), -u/--user, -w/--workdir, \
         -h/--hostname, --privileged, --cap-add, --shm-size, -v/--volume, -p/--publish, --tmpfs and --label"
    )]
    Unsupported(String),
}

/// Parses `docker create` options as GitHub's `options:` takes them (`--flag value` or
/// `--flag=value`, quotes group words).
///
/// # Errors
/// [`OptionsError`] for a flag not passed on, a missing or malformed value.
pub fn parse_options(text: &str) -> Result<ContainerOptions, OptionsError> {
    let words = crate::shell::split_words(text).ok_or_else(|| OptionsError::UnclosedQuote(text.to_owned()))?;
    let mut options = ContainerOptions::default();
    let mut words = words.into_iter();
    while let Some(word) = words.next() {
        let (flag, inline) = match word.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag.to_owned(), Some(value.to_owned())),
            _ => (word.clone(), None),
        };
        if flag == "--privileged" {
            options.privileged = inline.is_none_or(|value| value != "false");
            continue;
        }
        let mut value =
            || inline.clone().or_else(|| words.next()).ok_or_else(|| OptionsError::MissingValue(flag.clone()));
        match flag.as_str() {
            "--health-cmd" => options.health_cmd = Some(value()?),
            "--health-interval" => options.health_interval = Some(duration(&flag, &value()?)?),
            "--health-timeout" => options.health_timeout = Some(duration(&flag, &value()?)?),
            "--health-start-period" => options.health_start_period = Some(duration(&flag, &value()?)?),
            "--health-retries" => {
                let text = value()?;
                let retries = text.parse().map_err(|_| OptionsError::BadValue {
                    flag: flag.clone(),
                    value: text.clone(),
                    what: "a number",
                })?;
                options.health_retries = Some(retries);
            }
            "-e" | "--env" => {
                let entry = value()?;
                if entry.contains('=') {
                    options.env.push(entry);
                }
            }
            "--entrypoint" => options.entrypoint = Some(value()?),
            "-u" | "--user" => options.user = Some(value()?),
            "-w" | "--workdir" => options.workdir = Some(value()?),
            "-h" | "--hostname" => options.hostname = Some(value()?),
            "--cap-add" => options.cap_add.push(value()?),
            "--shm-size" => {
                let text = value()?;
                let size = bytes(&text).ok_or_else(|| OptionsError::BadValue {
                    flag: flag.clone(),
                    value: text.clone(),
                    what: "a size (like 64m or 2g)",
                })?;
                options.shm_size = Some(size);
            }
            "-v" | "--volume" => options.volumes.push(value()?),
            "-p" | "--publish" => options.ports.push(value()?),
            "--tmpfs" => {
                let text = value()?;
                let (path, mount_options) = text.split_once(':').unwrap_or((&text, ""));
                options.tmpfs.insert(path.to_owned(), mount_options.to_owned());
            }
            "-l" | "--label" => {
                let text = value()?;
                let (name, label) = text.split_once('=').unwrap_or((&text, ""));
                options.labels.push((name.to_owned(), label.to_owned()));
            }
            _ => return Err(OptionsError::Unsupported(flag)),
        }
    }
    Ok(options)
}

/// A Go duration as Docker takes it: `30s`, `1m30s`, `500ms`, `1h`, `1.5s`.
fn duration(flag: &str, text: &str) -> Result<Duration, OptionsError> {
    let bad =
        || OptionsError::BadValue { flag: flag.to_owned(), value: text.to_owned(), what: "a duration (like 10s)" };
    let mut rest = text.trim();
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total = 0.0_f64;
    while !rest.is_empty() {
        let number_len = rest.find(|c: char| !c.is_ascii_digit() && c != '.').ok_or_else(bad)?;
        let number: f64 = rest[..number_len].parse().map_err(|_| bad())?;
        rest = &rest[number_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += number * seconds;
        rest = &rest[unit_len..];
    }
    Duration::try_from_secs_f64(total).map_err(|_| bad())
}

/// A size as Docker takes it: bytes, or with a `b`, `k`, `m` or `g` suffix.
fn bytes(text: &str) -> Option<i64> {
    let text = text.trim().to_ascii_lowercase();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(split) => text.split_at(split),
        None => (text.as_str(), ""),
    };
    let number: i64 = number.parse().ok()?;
    let unit = match unit.trim_end_matches('b') {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        _ => return None,
    };
    number.checked_mul(unit)
}

#[cfg(test)]
mod tests;
