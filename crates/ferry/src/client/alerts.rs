//! The alert routing commands: `ferry alerts` (what the server routes and why an alert is
//! held back) and `ferry silence add|list|expire`.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use ferry_alerting::alert::rfc3339;
use ferry_alerting::duration::parse_duration;
use ferry_alerting::matcher::parse_matchers;
use ferry_proto::alerts::{GettableAlert, GettableSilence, PostableSilence, SilenceMatcher};

use super::runners::now_ms;
use super::{block_on, connect};
use crate::cli::{AlertsArgs, SilenceArgs, SilenceCommand};
use crate::render::{BOLD, DIM, GREEN, RED, YELLOW};

pub fn alerts(args: AlertsArgs) -> anyhow::Result<ExitCode> {
    let client = connect(&args.connect)?;
    let alerts = block_on(async { Ok(client.list_alerts().await?) })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&alerts).context("serializing the alerts")?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut stdout = anstream::stdout();
    if alerts.is_empty() {
        writeln!(stdout, "{DIM}no alerts{DIM:#}").context("writing to stdout")?;
    }
    for alert in &alerts {
        writeln!(stdout, "{}", alert_line(alert)).context("writing to stdout")?;
    }
    Ok(ExitCode::SUCCESS)
}

fn alert_line(alert: &GettableAlert) -> String {
    let state = match alert.status.state.as_str() {
        "active" => format!("{RED}firing{RED:#}    "),
        "suppressed" => format!("{YELLOW}suppressed{YELLOW:#}"),
        other => format!("{GREEN}{other:<10}{GREEN:#}"),
    };
    let name = alert.labels.get("alertname").map_or("", String::as_str);
    let labels: Vec<String> = alert
        .labels
        .iter()
        .filter(|(key, _)| key.as_str() != "alertname")
        .map(|(key, value)| format!("{key}={value}"))
        .collect();
    let mut why = Vec::new();
    if !alert.status.silenced_by.is_empty() {
        why.push(format!("silenced by {}", alert.status.silenced_by.join(", ")));
    }
    if !alert.status.inhibited_by.is_empty() {
        why.push(format!("inhibited by {}", alert.status.inhibited_by.join(", ")));
    }
    let why = if why.is_empty() { String::new() } else { format!(" {DIM}({}){DIM:#}", why.join("; ")) };
    format!("{state} {BOLD}{name}{BOLD:#} {} {DIM}since {}{DIM:#}{why}", labels.join(" "), alert.starts_at)
}

pub fn silence(args: SilenceArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        SilenceCommand::Add(add) => {
            let mut matchers = Vec::new();
            for text in &add.matchers {
                for matcher in parse_matchers(text).context("reading a matcher")? {
                    matchers.push(SilenceMatcher {
                        name: matcher.name.clone(),
                        value: matcher.value.clone(),
                        is_regex: matcher.kind.is_regex(),
                        is_equal: matcher.kind.is_equal(),
                    });
                }
            }
            if matchers.is_empty() {
                bail!("give at least one matcher, e.g. `ferry silence add alertname=DiskFull --comment …`");
            }
            let duration = parse_duration(&add.duration).context("reading --duration")?;
            if duration <= 0 {
                bail!("--duration must be longer than 0s");
            }
            let now = now_ms();
            let silence = PostableSilence {
                id: None,
                matchers,
                starts_at: rfc3339(Some(now)),
                ends_at: rfc3339(Some(now.saturating_add(duration))),
                created_by: add.author.clone().unwrap_or_default(),
                comment: add.comment.clone(),
            };
            let client = connect(&add.connect)?;
            let created = block_on(async { Ok(client.create_silence(&silence).await?) })?;
            if add.json {
                println!("{}", serde_json::to_string_pretty(&created).context("serializing the answer")?);
            } else {
                writeln!(
                    anstream::stdout(),
                    "{GREEN}silenced{GREEN:#} until {}: {}",
                    silence.ends_at,
                    created.silence_id
                )
                .context("writing to stdout")?;
            }
        }
        SilenceCommand::List(list) => {
            let client = connect(&list.connect)?;
            let silences = block_on(async { Ok(client.list_silences().await?) })?;
            if list.json {
                println!("{}", serde_json::to_string_pretty(&silences).context("serializing the silences")?);
                return Ok(ExitCode::SUCCESS);
            }
            let mut stdout = anstream::stdout();
            if silences.is_empty() {
                writeln!(stdout, "{DIM}no silences{DIM:#}").context("writing to stdout")?;
            }
            for silence in &silences {
                writeln!(stdout, "{}", silence_line(silence)).context("writing to stdout")?;
            }
        }
        SilenceCommand::Expire(expire) => {
            let client = connect(&expire.connect)?;
            block_on(async { Ok(client.expire_silence(&expire.id).await?) })?;
            if expire.json {
                println!("{}", serde_json::json!({ "expired": expire.id }));
            } else {
                writeln!(anstream::stdout(), "expired {}", expire.id).context("writing to stdout")?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn silence_line(silence: &GettableSilence) -> String {
    let matchers: Vec<String> = silence
        .matchers
        .iter()
        .map(|matcher| {
            let op = match (matcher.is_regex, matcher.is_equal) {
                (false, true) => "=",
                (false, false) => "!=",
                (true, true) => "=~",
                (true, false) => "!~",
            };
            format!("{}{op}{:?}", matcher.name, matcher.value)
        })
        .collect();
    let state = match silence.status.state.as_str() {
        "active" => format!("{YELLOW}active {YELLOW:#}"),
        "pending" => format!("{DIM}pending{DIM:#}"),
        _ => format!("{DIM}expired{DIM:#}"),
    };
    format!(
        "{} {state} {BOLD}{}{BOLD:#} until {} {DIM}by {}: {}{DIM:#}",
        silence.id,
        matchers.join(" "),
        silence.ends_at,
        silence.created_by,
        silence.comment
    )
}
