//! Inhibition: a firing alert that matches a rule's source matchers mutes the alerts that
//! match its target matchers and carry the same values of its `equal` labels (a label
//! missing on both counts as equal, as in Alertmanager). An alert never inhibits itself.

use crate::alert::StoredAlert;
use crate::config::InhibitRule;
use crate::matcher;

/// The fingerprint of a firing alert that inhibits `target` at `now`, if there is one.
pub fn inhibited_by<'a>(
    rules: &[InhibitRule],
    alerts: impl Iterator<Item = &'a StoredAlert> + Clone,
    target: &StoredAlert,
    now: i64,
) -> Option<u64> {
    let target_fingerprint = target.fingerprint();
    for rule in rules {
        if !matcher::matches_all(&rule.target_matchers, &target.labels) {
            continue;
        }
        let source = alerts.clone().find(|source| {
            !source.resolved_at(now)
                && source.fingerprint() != target_fingerprint
                && matcher::matches_all(&rule.source_matchers, &source.labels)
                && rule.equal.iter().all(|name| source.labels.get(name) == target.labels.get(name))
        });
        if let Some(source) = source {
            return Some(source.fingerprint());
        }
    }
    None
}
