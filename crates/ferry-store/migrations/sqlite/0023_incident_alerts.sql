-- Incidents from alerts (issue 17): a firing alert of page severity opens an incident of its
-- unit (or joins the open one), and the incident keeps who acknowledged and resolved it, the
-- receiver told of it (`owner`, from deploy.yml's `services.<name>.owner`), and whether it
-- resolves by itself once all its alerts have (`resolves_with_alerts`, 1 for one an alert
-- opened or reopened). Times are milliseconds.
ALTER TABLE incidents ADD COLUMN acked_at INTEGER;
ALTER TABLE incidents ADD COLUMN acked_by TEXT;
ALTER TABLE incidents ADD COLUMN resolved_by TEXT;
ALTER TABLE incidents ADD COLUMN owner TEXT;
ALTER TABLE incidents ADD COLUMN resolves_with_alerts INTEGER NOT NULL DEFAULT 0;

-- One firing episode of an alert in an incident: the alert by fingerprint (16 hex digits) and
-- the time it started; `ends_at` is the end it was last sent with (in the future while it
-- fires), so it has resolved once `ends_at` is past. `labels` is the JSON object of its labels.
CREATE TABLE incident_alerts (
    incident_id INTEGER NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    fingerprint TEXT    NOT NULL,
    starts_at   INTEGER NOT NULL,
    ends_at     INTEGER NOT NULL,
    labels      TEXT    NOT NULL,
    summary     TEXT    NOT NULL,
    PRIMARY KEY (incident_id, fingerprint, starts_at)
);
CREATE INDEX incident_alerts_fingerprint ON incident_alerts (fingerprint, ends_at);

-- What people and Ferry did to an incident, for its timeline and its owner's notifications:
-- `kind` opened, acked, resolved or reopened, `actor` a token's name or `alert`,
-- `notified_at` when the owner's receiver was told (NULL: not yet, or no owner).
CREATE TABLE incident_actions (
    id          INTEGER PRIMARY KEY,
    incident_id INTEGER NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    kind        TEXT    NOT NULL CHECK (kind IN ('opened', 'acked', 'resolved', 'reopened')),
    actor       TEXT    NOT NULL,
    acted_at    INTEGER NOT NULL,
    notified_at INTEGER
);
CREATE INDEX incident_actions_incident ON incident_actions (incident_id, id);
CREATE INDEX incident_actions_unsent ON incident_actions (notified_at);
