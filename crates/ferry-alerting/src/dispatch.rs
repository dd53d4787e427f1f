//! The dispatcher: Alertmanager's routing and notification pipeline as a state machine.
//! Alerts come in ([`Dispatcher::receive`]), each goes to the routes that match it and into
//! an aggregation group per route and group labels; a group flushes `group_wait` after it
//! was made and every `group_interval` after, and each flush asks, per integration of the
//! route's receiver, whether the notification log says something is new (new firing
//! alerts, resolved ones when `send_resolved`, or `repeat_interval` passed). Silences,
//! inhibition and mute/active time intervals hold alerts back. Time is always passed in.
//!
//! The host sends each [`Notification`] and then records its [`LogEntry`] with
//! [`Dispatcher::sent`]; the host keeps alerts, silences and log entries durable, and a
//! dispatcher restored from them ([`Dispatcher::restore`]) regroups the alerts and sends
//! only what the log does not already hold: a restart is no reason to notify again.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::alert::{Alert, Labels, StoredAlert, labels_string};
use crate::config::{Config, Integration, Route};
use crate::silence::{SILENCE_RETENTION_MS, Silence, SilenceError, SilenceState};
use crate::time_interval;

#[cfg(test)]
mod tests;

/// How long a notification log entry is kept after it was written (Alertmanager's default).
pub const LOG_RETENTION_MS: i64 = 120 * 3_600_000;

/// Why a notification is sent, in Alertmanager's words (`notification_reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NotifyReason {
    FirstNotification,
    NewAlertsInGroup,
    NewResolvedAlerts,
    AllAlertsResolved,
    RepeatIntervalElapsed,
}

impl NotifyReason {
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyReason::FirstNotification => "first notification",
            NotifyReason::NewAlertsInGroup => "new alerts added",
            NotifyReason::NewResolvedAlerts => "some alerts resolved",
            NotifyReason::AllAlertsResolved => "all alerts resolved",
            NotifyReason::RepeatIntervalElapsed => "repeat interval elapsed",
        }
    }
}

/// What was last sent for one group to one integration of one receiver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    pub group_key: String,
    pub receiver: String,
    /// `webhook`, `slack`, `email`.
    pub integration: String,
    /// The integration's index among the receiver's integrations.
    pub idx: usize,
    /// Fingerprints of the alerts firing and resolved in that notification.
    pub firing: BTreeSet<u64>,
    pub resolved: BTreeSet<u64>,
    pub sent_at: i64,
    pub expires_at: i64,
}

impl LogEntry {
    /// The entry's identity: one per group, receiver and integration.
    pub fn key(&self) -> LogKey {
        (self.group_key.clone(), self.receiver.clone(), self.integration.clone(), self.idx)
    }
}

/// `(group key, receiver, integration, index)`.
pub type LogKey = (String, String, String, usize);

/// An alert as a notification carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifiedAlert {
    pub labels: Labels,
    pub annotations: Labels,
    pub starts_at: i64,
    /// `None` while firing (Alertmanager sends the zero time).
    pub ends_at: Option<i64>,
    pub generator_url: String,
    pub fingerprint: u64,
}

impl NotifiedAlert {
    pub fn resolved(&self) -> bool {
        self.ends_at.is_some()
    }
}

/// One message to send: a group's alerts to one integration of its receiver.
#[derive(Debug, Clone)]
pub struct Notification {
    pub group_key: String,
    pub group_labels: Labels,
    pub receiver: String,
    pub integration: Integration,
    pub reason: NotifyReason,
    /// Sorted as Alertmanager sorts them (by `job`, `instance`, then labels).
    pub alerts: Vec<NotifiedAlert>,
    /// What to record with [`Dispatcher::sent`] once it is delivered.
    pub entry: LogEntry,
}

impl Notification {
    /// `firing` when any alert fires, else `resolved`.
    pub fn status(&self) -> &'static str {
        if self.alerts.iter().any(|alert| !alert.resolved()) { "firing" } else { "resolved" }
    }
}

/// One aggregation group.
#[derive(Debug, Clone)]
struct Group {
    route_id: String,
    key: String,
    labels: Labels,
    alerts: BTreeSet<u64>,
    next_flush: i64,
    flushed: bool,
}

/// What the host keeps durable, and restores a dispatcher from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub alerts: Vec<StoredAlert>,
    pub log: Vec<LogEntry>,
    pub silences: Vec<Silence>,
}

/// What [`Dispatcher::collect_garbage`] dropped, for the host to delete too.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Removed {
    pub alerts: Vec<u64>,
    pub log: Vec<LogKey>,
    pub silences: Vec<String>,
}

/// An alert's state for the API: active, or suppressed and by what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlertStatus {
    pub alert: StoredAlert,
    pub fingerprint: u64,
    /// `active`, `suppressed` or, once resolved, `resolved`.
    pub state: &'static str,
    pub silenced_by: Vec<String>,
    pub inhibited_by: Vec<u64>,
    pub receivers: Vec<String>,
}

/// The routing and notification state machine (see the module docs).
#[derive(Debug, Clone)]
pub struct Dispatcher {
    config: Config,
    alerts: BTreeMap<u64, StoredAlert>,
    groups: BTreeMap<(String, String), Group>,
    log: BTreeMap<LogKey, LogEntry>,
    /// Log entries written since the host last took them ([`Dispatcher::take_changed_log`]).
    changed_log: BTreeSet<LogKey>,
    silences: BTreeMap<String, Silence>,
}

impl Dispatcher {
    pub fn new(config: Config) -> Dispatcher {
        Dispatcher {
            config,
            alerts: BTreeMap::new(),
            groups: BTreeMap::new(),
            log: BTreeMap::new(),
            changed_log: BTreeSet::new(),
            silences: BTreeMap::new(),
        }
    }

    /// A dispatcher continuing from what the host kept: the alerts are grouped again as if
    /// they had just arrived (groups whose alerts are older than `group_wait` flush at once),
    /// and the log decides what still needs sending.
    pub fn restore(config: Config, state: State, now: i64) -> Dispatcher {
        let mut dispatcher = Dispatcher::new(config);
        dispatcher.log = state.log.into_iter().map(|entry| (entry.key(), entry)).collect();
        dispatcher.silences = state.silences.into_iter().map(|silence| (silence.id.clone(), silence)).collect();
        for alert in state.alerts {
            dispatcher.insert(alert, now);
        }
        dispatcher
    }

    /// The configuration replaced (a reload): alerts are grouped again under the new routes;
    /// the log and silences stay.
    pub fn reconfigure(&mut self, config: Config, now: i64) {
        self.config = config;
        self.groups.clear();
        let alerts: Vec<StoredAlert> = self.alerts.values().cloned().collect();
        for alert in alerts {
            self.insert(alert, now);
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Alerts received at `now`; returns each as stored (merged with what was there), for
    /// the host to keep.
    pub fn receive(&mut self, alerts: Vec<Alert>, now: i64) -> Vec<StoredAlert> {
        let resolve_timeout = self.config.global.resolve_timeout_ms;
        alerts
            .into_iter()
            .map(|alert| {
                let received = StoredAlert::received(alert, now, resolve_timeout);
                let stored = match self.alerts.get(&received.fingerprint()) {
                    Some(existing) => existing.merge(received),
                    None => received,
                };
                self.insert(stored.clone(), now);
                stored
            })
            .collect()
    }

    fn insert(&mut self, alert: StoredAlert, now: i64) {
        let fingerprint = alert.fingerprint();
        let routes: Vec<(String, String, Labels, i64)> = self
            .config
            .route
            .matching(&alert.labels)
            .into_iter()
            .map(|route| {
                let labels = route.group_labels(&alert.labels);
                let key = format!("{}:{}", route.key, labels_string(&labels));
                (route.id.clone(), key, labels, route.group_wait_ms)
            })
            .collect();
        for (route_id, key, labels, group_wait) in routes {
            let group = self.groups.entry((route_id.clone(), key.clone())).or_insert_with(|| Group {
                route_id,
                key,
                labels,
                alerts: BTreeSet::new(),
                next_flush: now.saturating_add(group_wait),
                flushed: false,
            });
            if !group.flushed && alert.starts_at.saturating_add(group_wait) < now {
                group.next_flush = group.next_flush.min(now);
            }
            group.alerts.insert(fingerprint);
        }
        self.alerts.insert(fingerprint, alert);
    }

    /// When the next group is due to flush, for the host's timer.
    pub fn next_flush(&self) -> Option<i64> {
        self.groups.values().map(|group| group.next_flush).min()
    }

    /// Flushes every group due at `now` and returns what to send.
    pub fn flush_due(&mut self, now: i64) -> Vec<Notification> {
        let due: Vec<(String, String)> =
            self.groups.iter().filter(|(_, group)| group.next_flush <= now).map(|(id, _)| id.clone()).collect();
        let mut notifications = Vec::new();
        for id in due {
            notifications.extend(self.flush(&id, now));
        }
        notifications
    }

    fn route(&self, id: &str) -> Option<&Route> {
        self.config.route.walk().into_iter().find(|route| route.id == id)
    }

    fn flush(&mut self, id: &(String, String), now: i64) -> Vec<Notification> {
        let Some(group) = self.groups.get(id).cloned() else { return Vec::new() };
        let Some(route) = self.route(&group.route_id).cloned() else {
            self.groups.remove(id);
            return Vec::new();
        };
        let mut snapshot: Vec<NotifiedAlert> = group
            .alerts
            .iter()
            .filter_map(|fingerprint| self.alerts.get(fingerprint))
            .map(|alert| NotifiedAlert {
                labels: alert.labels.clone(),
                annotations: alert.annotations.clone(),
                starts_at: alert.starts_at,
                ends_at: alert.resolved_at(now).then_some(alert.ends_at),
                generator_url: alert.generator_url.clone(),
                fingerprint: alert.fingerprint(),
            })
            .collect();
        snapshot.sort_by(|a, b| alert_order(&a.labels).cmp(&alert_order(&b.labels)));
        let resolved_now: Vec<u64> =
            snapshot.iter().filter(|alert| alert.resolved()).map(|alert| alert.fingerprint).collect();

        let mut notifications = Vec::new();
        if !self.muted_by_time(&route, now) {
            let unmuted: Vec<NotifiedAlert> = snapshot
                .into_iter()
                .filter(|alert| {
                    let Some(stored) = self.alerts.get(&alert.fingerprint) else { return false };
                    self.silenced_by(&stored.labels, now).is_empty() && self.inhibited_by(stored, now).is_none()
                })
                .collect();
            if !unmuted.is_empty() {
                notifications = self.notifications(&group, &route, unmuted, now);
            }
        }

        // The group's resolved alerts were notified (or had nothing to say): they leave it.
        if let Some(group) = self.groups.get_mut(id) {
            group.flushed = true;
            group.next_flush = now.saturating_add(route.group_interval_ms);
            for fingerprint in &resolved_now {
                group.alerts.remove(fingerprint);
            }
            if group.alerts.is_empty() {
                self.groups.remove(id);
            }
        }
        notifications
    }

    fn muted_by_time(&self, route: &Route, now: i64) -> bool {
        let inside = |names: &[String]| {
            names.iter().any(|name| {
                self.config
                    .time_intervals
                    .get(name)
                    .is_some_and(|intervals| time_interval::any_contains(intervals, now))
            })
        };
        if inside(&route.mute_time_intervals) {
            return true;
        }
        !route.active_time_intervals.is_empty() && !inside(&route.active_time_intervals)
    }

    /// Per integration of the route's receiver: the notification its log entry calls for.
    fn notifications(
        &mut self,
        group: &Group,
        route: &Route,
        alerts: Vec<NotifiedAlert>,
        now: i64,
    ) -> Vec<Notification> {
        let Some(receiver) = self.config.receiver(&route.receiver).cloned() else { return Vec::new() };
        let firing: BTreeSet<u64> = alerts.iter().filter(|a| !a.resolved()).map(|a| a.fingerprint).collect();
        let resolved: BTreeSet<u64> = alerts.iter().filter(|a| a.resolved()).map(|a| a.fingerprint).collect();
        let mut out = Vec::new();
        for (idx, integration) in receiver.integrations.iter().enumerate() {
            if matches!(integration, Integration::Unsupported { .. }) {
                continue;
            }
            let entry = LogEntry {
                group_key: group.key.clone(),
                receiver: receiver.name.clone(),
                integration: integration.kind().to_owned(),
                idx,
                firing: firing.clone(),
                resolved: resolved.clone(),
                sent_at: now,
                expires_at: now.saturating_add(LOG_RETENTION_MS),
            };
            let previous = self.log.get(&entry.key());
            let Some(reason) =
                needs_update(previous, &firing, &resolved, integration.send_resolved(), route.repeat_interval_ms, now)
            else {
                continue;
            };
            let to_send: Vec<NotifiedAlert> = if integration.send_resolved() {
                alerts.clone()
            } else {
                alerts.iter().filter(|alert| !alert.resolved()).cloned().collect()
            };
            if to_send.is_empty() {
                // Nothing the receiver wants to hear, but the log must forget the firing ones.
                self.sent(entry);
                continue;
            }
            out.push(Notification {
                group_key: group.key.clone(),
                group_labels: group.labels.clone(),
                receiver: receiver.name.clone(),
                integration: integration.clone(),
                reason,
                alerts: to_send,
                entry,
            });
        }
        out
    }

    /// Records a delivered notification in the log.
    pub fn sent(&mut self, entry: LogEntry) {
        self.changed_log.insert(entry.key());
        self.log.insert(entry.key(), entry);
    }

    /// The log entries written since the last call (by [`Dispatcher::sent`], or by a flush
    /// that had nothing to send but something to forget), for the host to keep.
    pub fn take_changed_log(&mut self) -> Vec<LogEntry> {
        std::mem::take(&mut self.changed_log).into_iter().filter_map(|key| self.log.get(&key).cloned()).collect()
    }

    /// The ids of the active silences that mute `labels`.
    pub fn silenced_by(&self, labels: &Labels, now: i64) -> Vec<String> {
        self.silences.values().filter(|silence| silence.mutes(labels, now)).map(|silence| silence.id.clone()).collect()
    }

    fn inhibited_by(&self, alert: &StoredAlert, now: i64) -> Option<u64> {
        crate::inhibit::inhibited_by(&self.config.inhibit_rules, self.alerts.values(), alert, now)
    }

    /// Adds (or, with an existing id, replaces) a silence.
    ///
    /// # Errors
    /// The silence fails Alertmanager's checks ([`Silence::validate`]).
    pub fn add_silence(&mut self, silence: Silence, now: i64) -> Result<(), SilenceError> {
        silence.validate(now)?;
        self.silences.insert(silence.id.clone(), silence);
        Ok(())
    }

    /// Ends a silence now; returns it as it is then, for the host to keep.
    ///
    /// # Errors
    /// No silence with this id, or it has already expired.
    pub fn expire_silence(&mut self, id: &str, now: i64) -> Result<Silence, SilenceError> {
        let silence = self.silences.get_mut(id).ok_or_else(|| SilenceError::NotFound(id.to_owned()))?;
        if silence.state(now) == SilenceState::Expired {
            return Err(SilenceError::AlreadyExpired(id.to_owned()));
        }
        if silence.starts_at > now {
            silence.starts_at = now;
        }
        silence.ends_at = now;
        silence.updated_at = now;
        Ok(silence.clone())
    }

    pub fn silences(&self) -> impl Iterator<Item = &Silence> {
        self.silences.values()
    }

    pub fn silence(&self, id: &str) -> Option<&Silence> {
        self.silences.get(id)
    }

    /// Every alert known, with whether and why it is suppressed at `now`.
    pub fn alerts(&self, now: i64) -> Vec<AlertStatus> {
        self.alerts
            .values()
            .map(|alert| {
                let silenced_by = self.silenced_by(&alert.labels, now);
                let inhibited_by: Vec<u64> = self.inhibited_by(alert, now).into_iter().collect();
                let state = if alert.resolved_at(now) {
                    "resolved"
                } else if silenced_by.is_empty() && inhibited_by.is_empty() {
                    "active"
                } else {
                    "suppressed"
                };
                let mut receivers: Vec<String> =
                    self.config.route.matching(&alert.labels).into_iter().map(|route| route.receiver.clone()).collect();
                receivers.dedup();
                AlertStatus {
                    fingerprint: alert.fingerprint(),
                    alert: alert.clone(),
                    state,
                    silenced_by,
                    inhibited_by,
                    receivers,
                }
            })
            .collect()
    }

    pub fn log(&self) -> impl Iterator<Item = &LogEntry> {
        self.log.values()
    }

    /// Drops resolved alerts no group holds any more, log entries past their retention and
    /// silences expired longer than their retention; returns what went.
    pub fn collect_garbage(&mut self, now: i64) -> Removed {
        let held: BTreeSet<u64> = self.groups.values().flat_map(|group| group.alerts.iter().copied()).collect();
        let alerts: Vec<u64> = self
            .alerts
            .iter()
            .filter(|(fingerprint, alert)| alert.resolved_at(now) && !held.contains(fingerprint))
            .map(|(fingerprint, _)| *fingerprint)
            .collect();
        for fingerprint in &alerts {
            self.alerts.remove(fingerprint);
        }
        let log: Vec<LogKey> =
            self.log.iter().filter(|(_, entry)| entry.expires_at <= now).map(|(key, _)| key.clone()).collect();
        for key in &log {
            self.log.remove(key);
            self.changed_log.remove(key);
        }
        let silences: Vec<String> = self
            .silences
            .values()
            .filter(|silence| silence.ends_at.saturating_add(SILENCE_RETENTION_MS) <= now)
            .map(|silence| silence.id.clone())
            .collect();
        for id in &silences {
            self.silences.remove(id);
        }
        Removed { alerts, log, silences }
    }
}

/// Alertmanager's `DedupStage.needsUpdate`: whether (and why) to notify given the last entry.
fn needs_update(
    previous: Option<&LogEntry>,
    firing: &BTreeSet<u64>,
    resolved: &BTreeSet<u64>,
    send_resolved: bool,
    repeat_ms: i64,
    now: i64,
) -> Option<NotifyReason> {
    let Some(previous) = previous else {
        return (!firing.is_empty()).then_some(NotifyReason::FirstNotification);
    };
    if !firing.is_subset(&previous.firing) {
        return Some(if previous.firing.is_empty() {
            NotifyReason::FirstNotification
        } else {
            NotifyReason::NewAlertsInGroup
        });
    }
    if firing.is_empty() {
        // Alerts that fired and resolved between two flushes were never told; say nothing.
        return (!previous.firing.is_empty()).then_some(NotifyReason::AllAlertsResolved);
    }
    if send_resolved && !resolved.is_subset(&previous.resolved) {
        return Some(NotifyReason::NewResolvedAlerts);
    }
    (previous.sent_at < now.saturating_sub(repeat_ms)).then_some(NotifyReason::RepeatIntervalElapsed)
}

/// The sort key of [`alert_order`]: `job` missing, `job`, `instance` missing, `instance`, labels.
type AlertOrder<'l> = (bool, Option<&'l String>, bool, Option<&'l String>, Vec<(&'l String, &'l String)>);

/// Alertmanager's order of alerts in a notification: by `job`, then `instance` (alerts that
/// have the label first), then the labels themselves.
fn alert_order(labels: &Labels) -> AlertOrder<'_> {
    let (job, instance) = (labels.get("job"), labels.get("instance"));
    (job.is_none(), job, instance.is_none(), instance, labels.iter().collect())
}
