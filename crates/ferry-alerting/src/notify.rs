//! What a notification says, per integration: Alertmanager's webhook message (version 4,
//! field for field), Slack's incoming-webhook payload and an email's subject and text, with
//! Alertmanager's default titles. Templates are rendered simply: `{{ .Status }}`,
//! `{{ .Receiver }}`, `{{ .ExternalURL }}`, `{{ .GroupLabels.x }}`, `{{ .CommonLabels.x }}`,
//! `{{ .CommonAnnotations.x }}` and the default `{{ template "…" . }}` names; anything else
//! is left as written so that it shows.

use serde_json::{Map, Value, json};

use crate::alert::{Labels, fingerprint_hex, rfc3339};
use crate::config::{Email, Slack};
use crate::dispatch::{Notification, NotifiedAlert};

/// What templates see of a notification (Alertmanager's `template.Data`).
#[derive(Debug, Clone)]
pub struct Data<'n> {
    pub receiver: String,
    pub status: &'static str,
    pub alerts: &'n [NotifiedAlert],
    pub group_labels: &'n Labels,
    pub common_labels: Labels,
    pub common_annotations: Labels,
    pub external_url: &'n str,
    pub reason: &'static str,
}

impl<'n> Data<'n> {
    pub fn new(notification: &'n Notification, alerts: &'n [NotifiedAlert], external_url: &'n str) -> Data<'n> {
        let common = |pick: fn(&NotifiedAlert) -> &Labels| -> Labels {
            let Some(first) = alerts.first() else { return Labels::new() };
            pick(first)
                .iter()
                .filter(|(name, value)| alerts[1..].iter().all(|alert| pick(alert).get(*name) == Some(value)))
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect()
        };
        Data {
            receiver: regex::escape(&notification.receiver),
            status: if alerts.iter().any(|alert| !alert.resolved()) { "firing" } else { "resolved" },
            alerts,
            group_labels: &notification.group_labels,
            common_labels: common(|alert| &alert.labels),
            common_annotations: common(|alert| &alert.annotations),
            external_url,
            reason: notification.reason.as_str(),
        }
    }

    fn n_firing(&self) -> usize {
        self.alerts.iter().filter(|alert| !alert.resolved()).count()
    }
}

fn kv(labels: &Labels) -> Value {
    Value::Object(labels.iter().map(|(name, value)| (name.clone(), Value::String(value.clone()))).collect())
}

/// Alertmanager's webhook message, version 4: the same fields in the same order.
pub fn webhook_body(notification: &Notification, max_alerts: u64, external_url: &str) -> Value {
    let (alerts, truncated) = match usize::try_from(max_alerts) {
        Ok(max) if max > 0 && notification.alerts.len() > max => {
            (&notification.alerts[..max], (notification.alerts.len() - max) as u64)
        }
        _ => (&notification.alerts[..], 0),
    };
    let data = Data::new(notification, alerts, external_url);
    let alerts: Vec<Value> = alerts
        .iter()
        .map(|alert| {
            json!({
                "status": if alert.resolved() { "resolved" } else { "firing" },
                "labels": kv(&alert.labels),
                "annotations": kv(&alert.annotations),
                "startsAt": rfc3339(Some(alert.starts_at)),
                "endsAt": rfc3339(alert.ends_at),
                "generatorURL": alert.generator_url,
                "fingerprint": fingerprint_hex(alert.fingerprint),
            })
        })
        .collect();
    json!({
        "receiver": data.receiver,
        "status": data.status,
        "alerts": alerts,
        "notification_reason": data.reason,
        "groupLabels": kv(data.group_labels),
        "commonLabels": kv(&data.common_labels),
        "commonAnnotations": kv(&data.common_annotations),
        "routeLabels": {},
        "externalURL": data.external_url,
        "version": "4",
        "groupKey": notification.group_key,
        "truncatedAlerts": truncated,
    })
}

/// Alertmanager's default title (`__subject`): `[FIRING:2] HighLatency api (prod)`.
pub fn default_title(data: &Data<'_>) -> String {
    let mut title = match data.status {
        "firing" => format!("[FIRING:{}]", data.n_firing()),
        _ => "[RESOLVED]".to_owned(),
    };
    let group_values: Vec<&str> = data.group_labels.values().map(String::as_str).collect();
    title.push(' ');
    title.push_str(&group_values.join(" "));
    if data.common_labels.len() > data.group_labels.len() {
        let rest: Vec<&str> = data
            .common_labels
            .iter()
            .filter(|(name, _)| !data.group_labels.contains_key(*name))
            .map(|(_, value)| value.as_str())
            .collect();
        title.push_str(&format!(" ({})", rest.join(" ")));
    }
    title
}

/// Alertmanager's link to the alerts of this receiver.
pub fn default_title_link(data: &Data<'_>) -> String {
    let receiver: String = data
        .receiver
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("{}/#/alerts?receiver={receiver}", data.external_url)
}

/// A plain-text list of the alerts: what the default texts leave to the reader's tool.
pub fn alert_list(data: &Data<'_>) -> String {
    let mut out = String::new();
    for alert in data.alerts {
        let state = if alert.resolved() { "resolved" } else { "firing" };
        let labels: Vec<String> = alert.labels.iter().map(|(name, value)| format!("{name}={value}")).collect();
        out.push_str(&format!("[{state}] {}\n", labels.join(" ")));
        for (name, value) in &alert.annotations {
            out.push_str(&format!("  {name}: {value}\n"));
        }
        if !alert.generator_url.is_empty() {
            out.push_str(&format!("  source: {}\n", alert.generator_url));
        }
    }
    out
}

/// Renders a template's simple references (see the module docs).
pub fn render(template: &str, data: &Data<'_>) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let Some(len) = rest[start..].find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let action = &rest[start + 2..start + len];
        let inner = action.trim_matches('-').trim();
        match reference(inner, data) {
            Some(text) => out.push_str(&text),
            None => out.push_str(&rest[start..start + len + 2]),
        }
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    out
}

fn reference(action: &str, data: &Data<'_>) -> Option<String> {
    let lookup = |labels: &Labels, name: &str| labels.get(name).cloned().unwrap_or_default();
    if let Some(name) = action.strip_prefix(".CommonLabels.") {
        return Some(lookup(&data.common_labels, name));
    }
    if let Some(name) = action.strip_prefix(".CommonAnnotations.") {
        return Some(lookup(&data.common_annotations, name));
    }
    if let Some(name) = action.strip_prefix(".GroupLabels.") {
        return Some(lookup(data.group_labels, name));
    }
    match action {
        ".Status" => Some(data.status.to_owned()),
        ".Receiver" => Some(data.receiver.clone()),
        ".ExternalURL" => Some(data.external_url.to_owned()),
        _ => {
            let name = action.strip_prefix("template \"")?.split('"').next()?;
            match name {
                "slack.default.title" | "email.default.subject" | "__subject" | "slack.default.fallback" => {
                    Some(default_title(data))
                }
                "slack.default.titlelink" | "__alertmanagerURL" => Some(default_title_link(data)),
                "slack.default.username" | "__alertmanager" => Some("Alertmanager".to_owned()),
                "slack.default.text" | "email.default.html" | "__text_alert_list" => Some(alert_list(data)),
                "slack.default.pretext"
                | "slack.default.footer"
                | "slack.default.iconemoji"
                | "slack.default.iconurl" => Some(String::new()),
                _ => None,
            }
        }
    }
}

/// Slack's incoming-webhook payload with Alertmanager's defaults.
pub fn slack_body(notification: &Notification, slack: &Slack, external_url: &str) -> Value {
    let data = Data::new(notification, &notification.alerts, external_url);
    let text = |template: &Option<String>, default: String| -> String {
        template.as_ref().map_or(default, |template| render(template, &data))
    };
    let title = text(&slack.title, default_title(&data));
    let title_link = text(&slack.title_link, default_title_link(&data));
    let color = text(&slack.color, if data.status == "firing" { "danger" } else { "good" }.to_owned());
    let mut attachment = Map::new();
    attachment.insert("title".to_owned(), Value::String(title.clone()));
    attachment.insert("title_link".to_owned(), Value::String(title_link.clone()));
    for (key, value) in [("pretext", &slack.pretext), ("text", &slack.text), ("footer", &slack.footer)] {
        let rendered = text(value, String::new());
        if !rendered.is_empty() {
            attachment.insert(key.to_owned(), Value::String(rendered));
        }
    }
    attachment.insert("fallback".to_owned(), Value::String(format!("{title} | {title_link}")));
    attachment.insert("color".to_owned(), Value::String(color));
    if let Some(image_url) = &slack.image_url {
        attachment.insert("image_url".to_owned(), Value::String(image_url.clone()));
    }
    attachment.insert("mrkdwn_in".to_owned(), json!(["fallback", "pretext", "text"]));
    let mut body = Map::new();
    if let Some(channel) = &slack.channel {
        body.insert("channel".to_owned(), Value::String(render(channel, &data)));
    }
    body.insert("username".to_owned(), Value::String(text(&slack.username, "Alertmanager".to_owned())));
    for (key, value) in [("icon_emoji", &slack.icon_emoji), ("icon_url", &slack.icon_url)] {
        let rendered = text(value, String::new());
        if !rendered.is_empty() {
            body.insert(key.to_owned(), Value::String(rendered));
        }
    }
    body.insert("attachments".to_owned(), Value::Array(vec![Value::Object(attachment)]));
    Value::Object(body)
}

/// An email's subject and plain-text body.
pub fn email_content(notification: &Notification, email: &Email, external_url: &str) -> (String, String) {
    let data = Data::new(notification, &notification.alerts, external_url);
    let subject = match email.headers.get("Subject") {
        Some(template) => render(template, &data),
        None => default_title(&data),
    };
    let body = match &email.text {
        Some(template) => render(template, &data),
        None => format!(
            "{}\n\n{}\nView in Alertmanager: {}\n",
            default_title(&data),
            alert_list(&data),
            default_title_link(&data)
        ),
    };
    (subject, body)
}
