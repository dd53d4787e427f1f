//! Alert routing in the server: one [`Alertmanager`] holds `ferry_alerting::Dispatcher`
//! (configured from the Alertmanager file `ServerConfig::alertmanager_config` names), takes
//! alerts from the API (`POST /alertmanager/api/v2/alerts`) and from the rules evaluator in
//! this process ([`Alertmanager::push`]), flushes groups when they are due and sends their
//! notifications (`alerting/send.rs`: webhook, Slack, email).
//!
//! Durability: every alert received, every silence made or expired and every notification
//! log entry (written once a notification is delivered) goes to the store
//! (`store.alertmanager()`), and a starting server restores its dispatcher from there. The
//! restored dispatcher regroups the alerts and asks the log before it sends: a `kill -9`
//! and a restart do not notify again what was sent (only a notification delivered in the
//! instant between its delivery and its log write can go out twice, as in Alertmanager).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ferry_alerting::alert::StoredAlert;
use ferry_alerting::alert::fingerprint_hex;
use ferry_alerting::dispatch::{LogEntry, Notification, NotifiedAlert, NotifyReason, Removed, State};
use ferry_alerting::silence::SilenceError;
use ferry_alerting::{Alert, Dispatcher, Silence};
use ferry_model::Clock;
use ferry_store::{AlertStateKind, Store, StoreError};
use tracing::{info, warn};

mod send;

/// The configuration when the server is given none: every alert goes to a receiver without
/// integrations, so alerts and silences work and nothing is sent.
const NO_ROUTING: &str = "route:\n  receiver: none\nreceivers:\n  - name: none\n";

/// Why alert routing could not start.
#[derive(Debug, thiserror::Error)]
pub enum AlertingError {
    #[error("reading the Alertmanager configuration {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
    #[error("restoring alert routing from the database: {0}")]
    Store(#[from] StoreError),
}

/// Alert routing as the server runs it; shared by the API and the rules evaluator.
pub struct Alertmanager {
    dispatcher: tokio::sync::Mutex<Dispatcher>,
    store: Store,
    clock: Arc<dyn Clock>,
    /// Wakes the flush loop when an alert arrived (a new group may be due sooner).
    wake: tokio::sync::Notify,
    /// Where notifications link to (`externalURL`).
    external_url: String,
    sender: send::Sender,
}

impl std::fmt::Debug for Alertmanager {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("Alertmanager").field("external_url", &self.external_url).finish_non_exhaustive()
    }
}

/// The store's key of a log entry.
fn log_key(entry: &LogEntry) -> String {
    serde_json::to_string(&entry.key()).unwrap_or_default()
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

impl Alertmanager {
    /// Reads the configuration (none: nothing is sent), restores what the store kept.
    ///
    /// # Errors
    /// The file cannot be read or has errors (each at its line:column), or the store fails.
    pub(crate) async fn start(
        store: Store,
        clock: Arc<dyn Clock>,
        config_path: Option<&Path>,
        external_url: String,
    ) -> Result<Alertmanager, AlertingError> {
        let (src, path) = match config_path {
            Some(path) => (
                std::fs::read_to_string(path)
                    .map_err(|source| AlertingError::Read { path: path.to_owned(), source })?,
                path.to_owned(),
            ),
            None => (NO_ROUTING.to_owned(), PathBuf::from("(built-in)")),
        };
        let (config, warnings) = ferry_alerting::compile_valid(&src)
            .map_err(|invalid| AlertingError::Invalid { path: path.clone(), message: invalid.to_string() })?;
        for warning in &warnings {
            warn!(
                file = %path.display(),
                "{}:{}: {} [{}]",
                path.display(),
                warning.span.start,
                warning.message,
                warning.code
            );
        }
        let kept = store.alertmanager().load().await?;
        let state = State {
            alerts: kept.alerts.iter().filter_map(|(_, body)| serde_json::from_str(body).ok()).collect(),
            log: kept.log.iter().filter_map(|(_, body)| serde_json::from_str(body).ok()).collect(),
            silences: kept.silences.iter().filter_map(|(_, body)| serde_json::from_str(body).ok()).collect(),
        };
        let now = clock.now_ms();
        info!(
            alerts = state.alerts.len(),
            silences = state.silences.len(),
            log = state.log.len(),
            "alert routing restored {} alerts, {} silences and {} notification log entries",
            state.alerts.len(),
            state.silences.len(),
            state.log.len()
        );
        let dispatcher = Dispatcher::restore(config, state, now);
        Ok(Alertmanager {
            dispatcher: tokio::sync::Mutex::new(dispatcher),
            store,
            clock,
            wake: tokio::sync::Notify::new(),
            external_url,
            sender: send::Sender::new(),
        })
    }

    /// Takes alerts in, as a client's `POST /alertmanager/api/v2/alerts` does; the rules
    /// evaluator calls it with the alerts it fires and resolves. The alerts as held (both
    /// times known, merged with what was held), in the order given, for `crate::incidents`.
    ///
    /// # Errors
    /// The store failed to keep them (they are routed all the same).
    pub async fn push(&self, alerts: Vec<Alert>) -> Result<Vec<StoredAlert>, StoreError> {
        let now = self.clock.now_ms();
        let stored = self.dispatcher.lock().await.receive(alerts, now);
        let rows: Vec<(String, String)> =
            stored.iter().map(|alert| (fingerprint_hex(alert.fingerprint()), json(alert))).collect();
        self.wake.notify_one();
        self.store.alertmanager().put(AlertStateKind::Alert, &rows, now).await?;
        Ok(stored)
    }

    /// Sends `alert` once to every integration of `receiver`, outside the dispatcher's
    /// groups and log (an incident's owner: `crate::incidents` keeps what was sent).
    ///
    /// # Errors
    /// No such receiver in the configuration, or the first integration that failed.
    pub(crate) async fn notify_receiver(&self, receiver: &str, alert: NotifiedAlert) -> Result<(), NotifyError> {
        let integrations = {
            let dispatcher = self.dispatcher.lock().await;
            let found = dispatcher.config().receiver(receiver).map(|receiver| receiver.integrations.clone());
            found.ok_or_else(|| NotifyError::NoReceiver(receiver.to_owned()))?
        };
        let group_key = format!("{{}}:{{incident=\"{}\"}}", alert.labels.get("incident").map_or("", String::as_str));
        for (idx, integration) in integrations.into_iter().enumerate() {
            let firing: std::collections::BTreeSet<u64> = [alert.fingerprint].into();
            let entry = LogEntry {
                group_key: group_key.clone(),
                receiver: receiver.to_owned(),
                integration: integration.kind().to_owned(),
                idx,
                firing: if alert.resolved() { Default::default() } else { firing.clone() },
                resolved: if alert.resolved() { firing } else { Default::default() },
                sent_at: self.clock.now_ms(),
                expires_at: self.clock.now_ms(),
            };
            let notification = Notification {
                group_key: group_key.clone(),
                group_labels: alert.labels.clone(),
                receiver: receiver.to_owned(),
                integration,
                reason: if alert.resolved() {
                    NotifyReason::AllAlertsResolved
                } else {
                    NotifyReason::FirstNotification
                },
                alerts: vec![alert.clone()],
                entry,
            };
            self.sender.send(&notification, &self.external_url).await.map_err(NotifyError::Send)?;
        }
        Ok(())
    }

    /// Every alert with its state, at `now`.
    pub(crate) async fn alerts(&self) -> (Vec<ferry_alerting::dispatch::AlertStatus>, i64) {
        let now = self.clock.now_ms();
        (self.dispatcher.lock().await.alerts(now), now)
    }

    /// Every silence, and the time their state is judged at.
    pub(crate) async fn silences(&self) -> (Vec<Silence>, i64) {
        let now = self.clock.now_ms();
        (self.dispatcher.lock().await.silences().cloned().collect(), now)
    }

    pub(crate) async fn silence(&self, id: &str) -> (Option<Silence>, i64) {
        let now = self.clock.now_ms();
        (self.dispatcher.lock().await.silence(id).cloned(), now)
    }

    /// Adds or replaces a silence and keeps it.
    ///
    /// # Errors
    /// [`SilenceError`] when it fails Alertmanager's checks; the store's error as a `Store`.
    pub(crate) async fn add_silence(&self, mut silence: Silence) -> Result<Silence, SilenceOutcome> {
        let now = self.clock.now_ms();
        silence.updated_at = now;
        {
            let mut dispatcher = self.dispatcher.lock().await;
            if dispatcher
                .silence(&silence.id)
                .is_some_and(|old| old.state(now) == ferry_alerting::silence::SilenceState::Expired)
            {
                return Err(SilenceOutcome::Refused(SilenceError::AlreadyExpired(silence.id)));
            }
            dispatcher.add_silence(silence.clone(), now).map_err(SilenceOutcome::Refused)?;
        }
        self.store
            .alertmanager()
            .put(AlertStateKind::Silence, &[(silence.id.clone(), json(&silence))], now)
            .await
            .map_err(SilenceOutcome::Store)?;
        Ok(silence)
    }

    /// Ends a silence now and keeps it so.
    ///
    /// # Errors
    /// No such silence or it had expired; the store's error as a `Store`.
    pub(crate) async fn expire_silence(&self, id: &str) -> Result<Silence, SilenceOutcome> {
        let now = self.clock.now_ms();
        let silence = self.dispatcher.lock().await.expire_silence(id, now).map_err(SilenceOutcome::Refused)?;
        self.store
            .alertmanager()
            .put(AlertStateKind::Silence, &[(silence.id.clone(), json(&silence))], now)
            .await
            .map_err(SilenceOutcome::Store)?;
        // Alerts it held back may be due at the next flush.
        self.wake.notify_one();
        Ok(silence)
    }

    /// Flushes due groups and sends their notifications until `shutting_down` turns true.
    pub(crate) async fn run(self: Arc<Self>, mut shutting_down: tokio::sync::watch::Receiver<bool>) {
        loop {
            let now = self.clock.now_ms();
            let (notifications, changed, removed, next) = {
                let mut dispatcher = self.dispatcher.lock().await;
                let notifications = dispatcher.flush_due(now);
                let removed = dispatcher.collect_garbage(now);
                (notifications, dispatcher.take_changed_log(), removed, dispatcher.next_flush())
            };
            self.keep(changed, removed, now).await;
            for notification in notifications {
                let this = self.clone();
                tokio::spawn(async move { this.deliver(notification).await });
            }
            // Wake at the next flush, when an alert arrives, or at least every minute for
            // the garbage collection and the wall clock's jumps.
            let wait = next.map_or(60_000, |at| (at - now).clamp(0, 60_000));
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(u64::try_from(wait).unwrap_or(0))) => {}
                () = self.wake.notified() => {}
                _ = shutting_down.wait_for(|stopping| *stopping) => return,
            }
        }
    }

    /// Sends one notification (with retries until its group's next flush is near) and, once
    /// it is delivered, records and keeps its log entry.
    async fn deliver(&self, notification: Notification) {
        let group_interval = {
            let dispatcher = self.dispatcher.lock().await;
            dispatcher
                .config()
                .route
                .walk()
                .into_iter()
                .filter(|route| notification.group_key.starts_with(&format!("{}:", route.key)))
                .map(|route| route.group_interval_ms)
                .min()
                .unwrap_or(300_000)
        };
        let deadline =
            tokio::time::Instant::now() + Duration::from_millis(u64::try_from(group_interval).unwrap_or(300_000));
        let mut delay = Duration::from_millis(500);
        loop {
            match self.sender.send(&notification, &self.external_url).await {
                Ok(()) => break,
                Err(error) => {
                    let retry_at = tokio::time::Instant::now() + delay;
                    if retry_at >= deadline {
                        warn!(
                            receiver = %notification.receiver,
                            integration = notification.integration.kind(),
                            group = %notification.group_key,
                            %error,
                            "giving up on a notification to {} ({}): {error}",
                            notification.receiver,
                            notification.integration.kind()
                        );
                        return;
                    }
                    warn!(receiver = %notification.receiver, %error, "notification to {} failed, retrying: {error}", notification.receiver);
                    tokio::time::sleep_until(retry_at).await;
                    delay = (delay * 2).min(Duration::from_secs(30));
                }
            }
        }
        let now = self.clock.now_ms();
        let changed = {
            let mut dispatcher = self.dispatcher.lock().await;
            dispatcher.sent(notification.entry.clone());
            dispatcher.take_changed_log()
        };
        self.keep(changed, Removed::default(), now).await;
        // Logged once the log entry is kept (the crash test waits for this line).
        info!(
            receiver = %notification.receiver,
            integration = notification.integration.kind(),
            n_alerts = notification.alerts.len(),
            "notified {} ({}): {} of {}",
            notification.receiver,
            notification.integration.kind(),
            notification.reason.as_str(),
            notification.group_key
        );
    }

    async fn keep(&self, changed: Vec<LogEntry>, removed: Removed, now: i64) {
        let alertmanager = self.store.alertmanager();
        let rows: Vec<(String, String)> = changed.iter().map(|entry| (log_key(entry), json(entry))).collect();
        let log_gone: Vec<String> =
            removed.log.iter().map(|key| serde_json::to_string(key).unwrap_or_default()).collect();
        let alerts_gone: Vec<String> = removed.alerts.iter().map(|fingerprint| fingerprint_hex(*fingerprint)).collect();
        let res = async {
            alertmanager.put(AlertStateKind::Nflog, &rows, now).await?;
            alertmanager.delete(AlertStateKind::Nflog, &log_gone).await?;
            alertmanager.delete(AlertStateKind::Alert, &alerts_gone).await?;
            alertmanager.delete(AlertStateKind::Silence, &removed.silences).await
        }
        .await;
        if let Err(error) = res {
            warn!(%error, "keeping alert routing's state failed: {error}");
        }
    }
}

/// Why [`Alertmanager::notify_receiver`] did not deliver.
#[derive(Debug, thiserror::Error)]
pub(crate) enum NotifyError {
    #[error(
        "the Alertmanager configuration has no receiver `{0}`; add it under `receivers:` or fix the service's `owner:`"
    )]
    NoReceiver(String),
    #[error(transparent)]
    Send(send::SendError),
}

/// Why a silence was not made or expired.
#[derive(Debug)]
pub(crate) enum SilenceOutcome {
    Refused(SilenceError),
    Store(StoreError),
}
