//! Alert routing on the wire, in Alertmanager's API v2 shapes so that Prometheus and amtool
//! talk to Ferry as to an Alertmanager (`/alertmanager/api/v2/…`): alerts posted
//! (`postableAlert`) and listed (`gettableAlert`), silences made (`postableSilence`) and
//! listed (`gettableSilence`). Times are RFC 3339; labels are name → value maps.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An alert as a client sends it (`POST /alertmanager/api/v2/alerts` takes a list).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PostableAlert {
    /// The alert's identity; at least one label.
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// When it started firing; default: when it is received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<String>,
    /// When it resolves (or resolved); default: `resolve_timeout` after it is received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<String>,
    /// A link to what produced it.
    #[serde(default, rename = "generatorURL", skip_serializing_if = "String::is_empty")]
    pub generator_url: String,
}

/// Whether an alert sends notifications, and what holds it back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertStatus {
    /// `active`, `suppressed` (silenced or inhibited) or `unprocessed`.
    pub state: String,
    /// Ids of the silences that mute it.
    pub silenced_by: Vec<String>,
    /// Fingerprints of the alerts that inhibit it.
    pub inhibited_by: Vec<String>,
    /// Names of the time intervals that mute it (always empty: intervals mute routes, not alerts).
    #[serde(default)]
    pub muted_by: Vec<String>,
}

/// A receiver's name, as Alertmanager lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReceiverName {
    pub name: String,
}

/// An alert as the server holds it (`GET /alertmanager/api/v2/alerts`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GettableAlert {
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub starts_at: String,
    pub ends_at: String,
    pub updated_at: String,
    #[serde(rename = "generatorURL")]
    pub generator_url: String,
    /// 16 hex digits, Alertmanager's fingerprint of the labels.
    pub fingerprint: String,
    pub receivers: Vec<ReceiverName>,
    pub status: AlertStatus,
}

/// One matcher of a silence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SilenceMatcher {
    pub name: String,
    pub value: String,
    pub is_regex: bool,
    /// `false` for `!=` and `!~`; default `true`.
    #[serde(default = "yes")]
    pub is_equal: bool,
}

fn yes() -> bool {
    true
}

/// A silence to make (`POST /alertmanager/api/v2/silences`); with the `id` of an existing
/// one, it replaces that one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PostableSilence {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub matchers: Vec<SilenceMatcher>,
    pub starts_at: String,
    pub ends_at: String,
    pub created_by: String,
    pub comment: String,
}

/// What `POST /alertmanager/api/v2/silences` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SilenceCreated {
    #[serde(rename = "silenceID")]
    pub silence_id: String,
}

/// A silence's state: `pending`, `active` or `expired`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SilenceStatus {
    pub state: String,
}

/// A silence as the server holds it (`GET /alertmanager/api/v2/silences`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GettableSilence {
    pub id: String,
    pub status: SilenceStatus,
    pub updated_at: String,
    pub matchers: Vec<SilenceMatcher>,
    pub starts_at: String,
    pub ends_at: String,
    pub created_by: String,
    pub comment: String,
}
