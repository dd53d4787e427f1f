-- Alert routing (issue 17): what the dispatcher must find again after a restart, so that a
-- restarted server notifies nothing it already sent. One row per thing, its JSON body as
-- `ferry-alerting` serialises it:
--   kind 'alert'   key = the alert's fingerprint (16 hex digits)
--   kind 'silence' key = the silence's id
--   kind 'nflog'   key = group key, receiver, integration and index (the notification log)
-- Times are milliseconds.
CREATE TABLE alertmanager_state (
    kind       TEXT   NOT NULL CHECK (kind IN ('alert', 'silence', 'nflog')),
    key        TEXT   NOT NULL,
    body       TEXT   NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (kind, key)
);
