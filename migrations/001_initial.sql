-- The reporting contract. Timestamps are ISO-8601 UTC text with exactly 7 fraction digits
-- (2024-05-01T10:00:00.1234567Z): text order is time order, and SQLite's date functions read them.

CREATE TABLE alerts (
  id                   TEXT PRIMARY KEY,
  title                TEXT,
  description          TEXT,
  severity             TEXT,    -- UnSpecified, Informational, Low, Medium, High
  status               TEXT,    -- Unknown, New, InProgress, Resolved
  classification       TEXT,    -- TruePositive, InformationalExpectedActivity, FalsePositive, Unknown, or NULL
  determination        TEXT,    -- free text: Microsoft's documented value sets disagree
  investigation_state  TEXT,
  category             TEXT,
  detection_source     TEXT,
  detector_id          TEXT,
  threat_family_name   TEXT,
  threat_name          TEXT,
  assigned_to          TEXT,
  incident_id          INTEGER,
  investigation_id     INTEGER,
  alert_creation_time  TEXT,
  first_event_time     TEXT,
  last_event_time      TEXT,
  last_update_time     TEXT NOT NULL,
  resolved_time        TEXT,
  machine_id           TEXT,
  computer_dns_name    TEXT,
  rbac_group_name      TEXT,
  aad_tenant_id        TEXT,
  related_user_name    TEXT,
  related_user_domain  TEXT,
  raw_json             TEXT NOT NULL,   -- the alert exactly as received, unknown fields included
  content_hash         TEXT NOT NULL,   -- sha256 of raw_json: an unchanged alert writes nothing
  versions_seen        INTEGER NOT NULL DEFAULT 1,
  first_stored_at      TEXT NOT NULL,
  last_stored_at       TEXT NOT NULL
) WITHOUT ROWID;

CREATE INDEX alerts_last_update_time ON alerts (last_update_time);
CREATE INDEX alerts_creation_time ON alerts (alert_creation_time);
CREATE INDEX alerts_status_severity ON alerts (status, severity);
CREATE INDEX alerts_machine ON alerts (machine_id);
CREATE INDEX alerts_incident ON alerts (incident_id);

CREATE TABLE alert_evidence (
  alert_id                TEXT NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
  ordinal                 INTEGER NOT NULL,
  entity_type             TEXT,
  evidence_creation_time  TEXT,
  sha1                    TEXT,
  sha256                  TEXT,
  file_name               TEXT,
  file_path               TEXT,
  process_id              INTEGER,
  process_command_line    TEXT,
  process_creation_time   TEXT,
  parent_process_id       INTEGER,
  parent_process_file_name TEXT,
  ip_address              TEXT,
  url                     TEXT,
  registry_key            TEXT,
  registry_hive           TEXT,
  registry_value          TEXT,
  account_name            TEXT,
  domain_name             TEXT,
  user_sid                TEXT,
  aad_user_id             TEXT,
  user_principal_name     TEXT,
  detection_status        TEXT,
  raw_json                TEXT NOT NULL,
  PRIMARY KEY (alert_id, ordinal)
) WITHOUT ROWID;

CREATE INDEX alert_evidence_sha256 ON alert_evidence (sha256);
CREATE INDEX alert_evidence_ip ON alert_evidence (ip_address);

CREATE TABLE alert_comments (
  alert_id      TEXT NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
  ordinal       INTEGER NOT NULL,
  comment       TEXT,
  created_by    TEXT,
  created_time  TEXT,
  PRIMARY KEY (alert_id, ordinal)
) WITHOUT ROWID;

CREATE TABLE alert_mitre_techniques (
  alert_id   TEXT NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
  technique  TEXT NOT NULL,
  PRIMARY KEY (alert_id, technique)
) WITHOUT ROWID;

-- One row per version of an alert that this store saw: append-only (the triggers refuse edits).
CREATE TABLE alert_changes (
  id                         INTEGER PRIMARY KEY AUTOINCREMENT,
  alert_id                   TEXT NOT NULL,
  change                     TEXT NOT NULL CHECK (change IN ('created', 'updated')),
  previous_last_update_time  TEXT,
  last_update_time           TEXT NOT NULL,
  changed_fields             TEXT NOT NULL,  -- JSON: {"field": {"old": ..., "new": ...}}; {} for 'created'
  sync_run_id                INTEGER,
  stored_at                  TEXT NOT NULL
);

CREATE INDEX alert_changes_alert ON alert_changes (alert_id, id);

CREATE TRIGGER alert_changes_no_update BEFORE UPDATE ON alert_changes
BEGIN SELECT RAISE(ABORT, 'alert_changes is append-only'); END;
CREATE TRIGGER alert_changes_no_delete BEFORE DELETE ON alert_changes
BEGIN SELECT RAISE(ABORT, 'alert_changes is append-only'); END;

-- Answers that could not be stored as an alert (no id, no lastUpdateTime): kept, never dropped silently.
CREATE TABLE rejected_alerts (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  reason       TEXT NOT NULL,
  raw_json     TEXT NOT NULL,
  sync_run_id  INTEGER,
  stored_at    TEXT NOT NULL
);

CREATE TABLE sync_runs (
  id                 INTEGER PRIMARY KEY AUTOINCREMENT,
  source             TEXT NOT NULL,
  started_at         TEXT NOT NULL,
  finished_at        TEXT,
  outcome            TEXT NOT NULL CHECK (outcome IN ('running', 'success', 'failed', 'interrupted')),
  alerts_received    INTEGER NOT NULL DEFAULT 0,
  alerts_inserted    INTEGER NOT NULL DEFAULT 0,
  alerts_updated     INTEGER NOT NULL DEFAULT 0,
  alerts_unchanged   INTEGER NOT NULL DEFAULT 0,
  alerts_stale       INTEGER NOT NULL DEFAULT 0,  -- older than the stored version: ignored
  alerts_rejected    INTEGER NOT NULL DEFAULT 0,
  windows            INTEGER NOT NULL DEFAULT 0,
  requests           INTEGER NOT NULL DEFAULT 0,
  retries            INTEGER NOT NULL DEFAULT 0,
  throttled          INTEGER NOT NULL DEFAULT 0,
  error              TEXT,
  cursor_before      TEXT,
  cursor_after       TEXT,
  signed_in_user     TEXT
);

CREATE INDEX sync_runs_started ON sync_runs (started_at);

-- Everything with last_update_time before `position` has been read for this stream (source + filters).
CREATE TABLE sync_cursor (
  stream       TEXT PRIMARY KEY,
  position     TEXT NOT NULL,
  updated_at   TEXT NOT NULL,
  sync_run_id  INTEGER
);

-- Reporting views.
CREATE VIEW open_alerts_by_severity AS
SELECT severity,
       count(*) AS open_alerts,
       sum(status = 'New') AS new_alerts,
       sum(status = 'InProgress') AS in_progress_alerts,
       min(alert_creation_time) AS oldest_open_alert
FROM alerts
WHERE status IS NOT 'Resolved'
GROUP BY severity
ORDER BY CASE severity WHEN 'High' THEN 1 WHEN 'Medium' THEN 2 WHEN 'Low' THEN 3 WHEN 'Informational' THEN 4 ELSE 5 END;

CREATE VIEW alerts_per_day AS
SELECT substr(alert_creation_time, 1, 10) AS day,
       count(*) AS alerts,
       sum(severity = 'High') AS high,
       sum(severity = 'Medium') AS medium,
       sum(severity = 'Low') AS low,
       sum(severity NOT IN ('High', 'Medium', 'Low')) AS other
FROM alerts
WHERE alert_creation_time IS NOT NULL
GROUP BY day
ORDER BY day;

CREATE VIEW alert_time_to_resolve AS
SELECT id,
       severity,
       classification,
       alert_creation_time,
       resolved_time,
       round((julianday(resolved_time) - julianday(alert_creation_time)) * 24.0, 3) AS hours_to_resolve
FROM alerts
WHERE status = 'Resolved' AND resolved_time IS NOT NULL AND alert_creation_time IS NOT NULL;

CREATE VIEW time_to_resolve_by_severity AS
SELECT severity,
       count(*) AS resolved_alerts,
       round(avg(hours_to_resolve), 2) AS avg_hours,
       round(min(hours_to_resolve), 2) AS min_hours,
       round(max(hours_to_resolve), 2) AS max_hours
FROM alert_time_to_resolve
GROUP BY severity;
