//! `receivers:`: each a name and its integrations. Webhook, Slack and email are read into
//! what the server sends; every other Alertmanager integration is read, reported as
//! unsupported at its line:column, and kept as [`Integration::Unsupported`] so that nothing
//! disappears without a word.

use std::collections::BTreeMap;

use ferry_workflow::Span;
use ferry_workflow::yaml::{Node, Reader as _};

use super::{Cx, Global};

/// One receiver and its integrations, in the order written.
#[derive(Debug, Clone)]
pub struct Receiver {
    pub name: String,
    pub integrations: Vec<Integration>,
    pub span: Span,
}

/// One integration of a receiver.
#[derive(Debug, Clone)]
pub enum Integration {
    Webhook(Webhook),
    Slack(Slack),
    Email(Email),
    /// An Alertmanager integration Ferry does not send (`pagerduty_configs`, …).
    Unsupported {
        kind: String,
    },
}

impl Integration {
    /// The integration's name as Alertmanager's notification log names it.
    pub fn kind(&self) -> &str {
        match self {
            Integration::Webhook(_) => "webhook",
            Integration::Slack(_) => "slack",
            Integration::Email(_) => "email",
            Integration::Unsupported { kind } => kind,
        }
    }

    pub fn send_resolved(&self) -> bool {
        match self {
            Integration::Webhook(webhook) => webhook.send_resolved,
            Integration::Slack(slack) => slack.send_resolved,
            Integration::Email(email) => email.send_resolved,
            Integration::Unsupported { .. } => false,
        }
    }
}

/// `webhook_configs` item.
#[derive(Debug, Clone)]
pub struct Webhook {
    pub url: String,
    /// Default true.
    pub send_resolved: bool,
    /// At most this many alerts in a message (0: all); the rest are counted in `truncatedAlerts`.
    pub max_alerts: u64,
    pub timeout_ms: Option<i64>,
}

/// `slack_configs` item (an incoming webhook).
#[derive(Debug, Clone)]
pub struct Slack {
    pub api_url: String,
    pub channel: Option<String>,
    pub username: Option<String>,
    pub title: Option<String>,
    pub title_link: Option<String>,
    pub text: Option<String>,
    pub pretext: Option<String>,
    pub color: Option<String>,
    pub icon_emoji: Option<String>,
    pub icon_url: Option<String>,
    pub image_url: Option<String>,
    pub footer: Option<String>,
    /// Default false.
    pub send_resolved: bool,
}

/// `email_configs` item, global SMTP settings filled in.
#[derive(Debug, Clone)]
pub struct Email {
    pub to: String,
    pub from: String,
    /// `host:port`.
    pub smarthost: String,
    pub hello: String,
    pub auth_username: Option<String>,
    pub auth_password: Option<String>,
    pub auth_identity: Option<String>,
    pub require_tls: bool,
    pub headers: BTreeMap<String, String>,
    pub html: Option<String>,
    pub text: Option<String>,
    /// Default false.
    pub send_resolved: bool,
}

/// Alertmanager's integrations that Ferry reads but does not send.
const UNSUPPORTED_KINDS: &[&str] = &[
    "pagerduty_configs",
    "opsgenie_configs",
    "victorops_configs",
    "pushover_configs",
    "wechat_configs",
    "sns_configs",
    "telegram_configs",
    "discord_configs",
    "msteams_configs",
    "msteamsv2_configs",
    "webex_configs",
    "jira_configs",
    "rocketchat_configs",
    "incidentio_configs",
    "mattermost_configs",
];

pub(super) fn read(cx: &mut Cx, node: &Node, global: &Global) -> Option<Receiver> {
    if node.as_map().is_none() {
        cx.wrong_type(node, "receivers item", "a mapping");
        return None;
    }
    let mut name = None;
    let mut integrations = Vec::new();
    for entry in cx.map(node, "receiver") {
        let Some(key) = cx.key(entry) else { continue };
        let value = &entry.value;
        match key {
            "name" => name = cx.text(value, "name"),
            "webhook_configs" => {
                for item in cx.seq(value, key) {
                    integrations.extend(read_webhook(cx, item).map(Integration::Webhook));
                }
            }
            "slack_configs" => {
                for item in cx.seq(value, key) {
                    integrations.extend(read_slack(cx, item, global).map(Integration::Slack));
                }
            }
            "email_configs" => {
                for item in cx.seq(value, key) {
                    integrations.extend(read_email(cx, item, global).map(Integration::Email));
                }
            }
            _ if UNSUPPORTED_KINDS.contains(&key) => {
                let kind = key.trim_end_matches("_configs").to_owned();
                cx.warning(
                    "unsupported-integration",
                    entry.key.span,
                    format!("`{key}` is not supported: alerts routed to this receiver are not sent to {kind}"),
                    "Ferry sends to webhook_configs, slack_configs and email_configs; a webhook bridge can reach the others",
                );
                for _ in cx.seq(value, key) {
                    integrations.push(Integration::Unsupported { kind: kind.clone() });
                }
            }
            _ => {
                let mut known = vec!["name", "webhook_configs", "slack_configs", "email_configs"];
                known.extend(UNSUPPORTED_KINDS);
                cx.unknown_key(entry, key, &known, "a receiver");
            }
        }
    }
    let Some(name) = name.filter(|name| !name.is_empty()) else {
        cx.error(
            "missing-key",
            node.span,
            "a receiver needs a `name`",
            "add `name:`; routes refer to receivers by name",
        );
        return None;
    };
    Some(Receiver { name, integrations, span: node.span })
}

const WEBHOOK_KEYS: &[&str] = &["url", "send_resolved", "max_alerts", "timeout"];
const WEBHOOK_UNSUPPORTED: &[&str] = &["url_file", "http_config", "payload"];

fn read_webhook(cx: &mut Cx, node: &Node) -> Option<Webhook> {
    let mut webhook = Webhook { url: String::new(), send_resolved: true, max_alerts: 0, timeout_ms: None };
    for entry in cx.map(node, "webhook_configs item") {
        let Some(key) = cx.key(entry) else { continue };
        let value = &entry.value;
        match key {
            "url" => webhook.url = cx.text(value, key).unwrap_or_default(),
            "send_resolved" => webhook.send_resolved = cx.bool(value, key).unwrap_or(true),
            "max_alerts" => webhook.max_alerts = cx.count(value, key).unwrap_or(0),
            "timeout" => webhook.timeout_ms = cx.duration(value, key),
            _ if WEBHOOK_UNSUPPORTED.contains(&key) => cx.unsupported(entry, key, "a webhook config"),
            _ => cx.unknown_key(entry, key, &[WEBHOOK_KEYS, WEBHOOK_UNSUPPORTED].concat(), "a webhook config"),
        }
    }
    if !is_http_url(&webhook.url) {
        cx.error(
            "bad-url",
            node.span,
            "a webhook config needs `url:` with an http:// or https:// address",
            "write e.g. `url: http://127.0.0.1:5001/`",
        );
        return None;
    }
    Some(webhook)
}

fn is_http_url(url: &str) -> bool {
    url.strip_prefix("http://").or_else(|| url.strip_prefix("https://")).is_some_and(|rest| !rest.is_empty())
}

const SLACK_KEYS: &[&str] = &[
    "api_url",
    "channel",
    "username",
    "title",
    "title_link",
    "text",
    "pretext",
    "color",
    "icon_emoji",
    "icon_url",
    "image_url",
    "footer",
    "send_resolved",
];
const SLACK_UNSUPPORTED: &[&str] = &[
    "api_url_file",
    "http_config",
    "fields",
    "short_fields",
    "fallback",
    "callback_id",
    "thumb_url",
    "link_names",
    "mrkdwn_in",
    "actions",
    "update_message",
    "app_token",
    "app_token_file",
    "app_url",
    "timeout",
    "message_text",
];

fn read_slack(cx: &mut Cx, node: &Node, global: &Global) -> Option<Slack> {
    let mut slack = Slack {
        api_url: String::new(),
        channel: None,
        username: None,
        title: None,
        title_link: None,
        text: None,
        pretext: None,
        color: None,
        icon_emoji: None,
        icon_url: None,
        image_url: None,
        footer: None,
        send_resolved: false,
    };
    let mut api_url = None;
    for entry in cx.map(node, "slack_configs item") {
        let Some(key) = cx.key(entry) else { continue };
        let value = &entry.value;
        let slot = match key {
            "api_url" => &mut api_url,
            "channel" => &mut slack.channel,
            "username" => &mut slack.username,
            "title" => &mut slack.title,
            "title_link" => &mut slack.title_link,
            "text" => &mut slack.text,
            "pretext" => &mut slack.pretext,
            "color" => &mut slack.color,
            "icon_emoji" => &mut slack.icon_emoji,
            "icon_url" => &mut slack.icon_url,
            "image_url" => &mut slack.image_url,
            "footer" => &mut slack.footer,
            "send_resolved" => {
                slack.send_resolved = cx.bool(value, key).unwrap_or(false);
                continue;
            }
            _ if SLACK_UNSUPPORTED.contains(&key) => {
                cx.unsupported(entry, key, "a Slack config");
                continue;
            }
            _ => {
                cx.unknown_key(entry, key, &[SLACK_KEYS, SLACK_UNSUPPORTED].concat(), "a Slack config");
                continue;
            }
        };
        *slot = cx.text(value, key);
    }
    match api_url.or_else(|| global.slack_api_url.clone()) {
        Some(url) if is_http_url(&url) => slack.api_url = url,
        _ => {
            cx.error(
                "bad-url",
                node.span,
                "a Slack config needs `api_url:` (or `global.slack_api_url`) with an incoming-webhook address",
                "write e.g. `api_url: https://hooks.slack.com/services/…`",
            );
            return None;
        }
    }
    Some(slack)
}

const EMAIL_KEYS: &[&str] = &[
    "to",
    "from",
    "smarthost",
    "hello",
    "auth_username",
    "auth_password",
    "auth_identity",
    "require_tls",
    "headers",
    "html",
    "text",
    "send_resolved",
];
const EMAIL_UNSUPPORTED: &[&str] =
    &["auth_password_file", "auth_secret", "auth_secret_file", "tls_config", "threading", "force_implicit_tls"];

fn read_email(cx: &mut Cx, node: &Node, global: &Global) -> Option<Email> {
    let mut email = Email {
        to: String::new(),
        from: String::new(),
        smarthost: String::new(),
        hello: global.smtp_hello.clone(),
        auth_username: global.smtp_auth_username.clone(),
        auth_password: global.smtp_auth_password.clone(),
        auth_identity: global.smtp_auth_identity.clone(),
        require_tls: global.smtp_require_tls,
        headers: BTreeMap::new(),
        html: None,
        text: None,
        send_resolved: false,
    };
    let (mut from, mut smarthost) = (None, None);
    for entry in cx.map(node, "email_configs item") {
        let Some(key) = cx.key(entry) else { continue };
        let value = &entry.value;
        match key {
            "to" => email.to = cx.text(value, key).unwrap_or_default(),
            "from" => from = cx.text(value, key),
            "smarthost" => smarthost = cx.text(value, key),
            "hello" => email.hello = cx.text(value, key).unwrap_or_else(|| global.smtp_hello.clone()),
            "auth_username" => email.auth_username = cx.text(value, key),
            "auth_password" => email.auth_password = cx.text(value, key),
            "auth_identity" => email.auth_identity = cx.text(value, key),
            "require_tls" => email.require_tls = cx.bool(value, key).unwrap_or(true),
            "html" => email.html = cx.text(value, key),
            "text" => email.text = cx.text(value, key),
            "send_resolved" => email.send_resolved = cx.bool(value, key).unwrap_or(false),
            "headers" => {
                for header in cx.map(value, key) {
                    let Some(name) = cx.key(header) else { continue };
                    if let Some(text) = cx.text(&header.value, name) {
                        // Header names are case-insensitive; Alertmanager keeps one spelling.
                        email.headers.insert(title_case(name), text);
                    }
                }
            }
            _ if EMAIL_UNSUPPORTED.contains(&key) => cx.unsupported(entry, key, "an email config"),
            _ => cx.unknown_key(entry, key, &[EMAIL_KEYS, EMAIL_UNSUPPORTED].concat(), "an email config"),
        }
    }
    let mut ok = true;
    if email.to.is_empty() {
        cx.error("missing-key", node.span, "an email config needs `to:`", "write the address(es) to send to");
        ok = false;
    }
    match from.or_else(|| global.smtp_from.clone()) {
        Some(from) => email.from = from,
        None => {
            cx.error(
                "missing-key",
                node.span,
                "an email config needs `from:` (or `global.smtp_from`)",
                "add `smtp_from:` under `global:`",
            );
            ok = false;
        }
    }
    match smarthost.or_else(|| global.smtp_smarthost.clone()) {
        Some(host)
            if host.rsplit_once(':').is_some_and(|(name, port)| !name.is_empty() && port.parse::<u16>().is_ok()) =>
        {
            email.smarthost = host;
        }
        Some(host) => {
            cx.error(
                "bad-smarthost",
                node.span,
                format!("smarthost `{host}` must be `host:port`"),
                "write e.g. `smtp.example.org:587`",
            );
            ok = false;
        }
        None => {
            cx.error(
                "missing-key",
                node.span,
                "an email config needs `smarthost:` (or `global.smtp_smarthost`)",
                "add `smtp_smarthost: host:port` under `global:`",
            );
            ok = false;
        }
    }
    ok.then_some(email)
}

fn title_case(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + &chars.as_str().to_ascii_lowercase(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}
