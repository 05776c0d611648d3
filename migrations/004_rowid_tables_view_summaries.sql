-- 1. Alerts and their evidence become rowid tables. As WITHOUT ROWID tables keyed by the (random) alert id,
-- every insert landed at a random place in a B-tree of multi-kilobyte rows, and writing slowed down as the
-- store grew (docs/performance.md). Now rows are appended and only the small key indexes take random
-- inserts. This is SQLite's documented table rebuild: migrate() turns foreign keys off around it and checks
-- them (foreign_key_check) before the transaction commits. It copies the tables once, so it needs free disk
-- space about the size of the database and takes a while on a large one.
--
-- 2. The aggregate reporting views read small summary tables kept by triggers instead of every alert: at
-- 1,000,000 alerts they took 0.4 s to 0.9 s even from covering indexes. The views keep their names,
-- columns, order and NULL semantics.

DROP VIEW open_alerts_by_severity;
DROP VIEW alerts_per_day;
DROP VIEW time_to_resolve_by_severity;
DROP VIEW alert_time_to_resolve;

CREATE TABLE alerts_rebuilt (
  id                   TEXT NOT NULL PRIMARY KEY,  -- an index beside the rowid
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
);
INSERT INTO alerts_rebuilt (id, title, description, severity, status, classification, determination, investigation_state, category, detection_source, detector_id, threat_family_name, threat_name, assigned_to, incident_id, investigation_id, alert_creation_time, first_event_time, last_event_time, last_update_time, resolved_time, machine_id, computer_dns_name, rbac_group_name, aad_tenant_id, related_user_name, related_user_domain, raw_json, content_hash, versions_seen, first_stored_at, last_stored_at)
  SELECT id, title, description, severity, status, classification, determination, investigation_state, category, detection_source, detector_id, threat_family_name, threat_name, assigned_to, incident_id, investigation_id, alert_creation_time, first_event_time, last_event_time, last_update_time, resolved_time, machine_id, computer_dns_name, rbac_group_name, aad_tenant_id, related_user_name, related_user_domain, raw_json, content_hash, versions_seen, first_stored_at, last_stored_at FROM alerts ORDER BY last_update_time;

CREATE TABLE alert_evidence_rebuilt (
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
);
INSERT INTO alert_evidence_rebuilt (alert_id, ordinal, entity_type, evidence_creation_time, sha1, sha256, file_name, file_path, process_id, process_command_line, process_creation_time, parent_process_id, parent_process_file_name, ip_address, url, registry_key, registry_hive, registry_value, account_name, domain_name, user_sid, aad_user_id, user_principal_name, detection_status, raw_json)
  SELECT alert_id, ordinal, entity_type, evidence_creation_time, sha1, sha256, file_name, file_path, process_id, process_command_line, process_creation_time, parent_process_id, parent_process_file_name, ip_address, url, registry_key, registry_hive, registry_value, account_name, domain_name, user_sid, aad_user_id, user_principal_name, detection_status, raw_json FROM alert_evidence;

DROP TABLE alert_evidence;
DROP TABLE alerts;
ALTER TABLE alerts_rebuilt RENAME TO alerts;
ALTER TABLE alert_evidence_rebuilt RENAME TO alert_evidence;

CREATE INDEX alerts_last_update_time ON alerts (last_update_time);
CREATE INDEX alerts_machine ON alerts (machine_id);
CREATE INDEX alerts_incident ON alerts (incident_id);
CREATE INDEX alerts_creation_severity ON alerts (alert_creation_time, severity);
CREATE INDEX alerts_status_resolution ON alerts (status, severity, alert_creation_time, resolved_time, classification, id);
CREATE INDEX alert_evidence_sha256 ON alert_evidence (sha256);
CREATE INDEX alert_evidence_ip ON alert_evidence (ip_address);

CREATE VIEW alert_time_to_resolve AS
SELECT id,
       severity,
       classification,
       alert_creation_time,
       resolved_time,
       round((julianday(resolved_time) - julianday(alert_creation_time)) * 24.0, 3) AS hours_to_resolve
FROM alerts
WHERE status = 'Resolved' AND resolved_time IS NOT NULL AND alert_creation_time IS NOT NULL;

-- The summaries.
CREATE TABLE alert_daily_counts (
  day       TEXT NOT NULL,   -- substr(alert_creation_time, 1, 10)
  severity  TEXT,
  alerts    INTEGER NOT NULL
);
CREATE INDEX alert_daily_counts_key ON alert_daily_counts (day, severity);

CREATE TABLE open_alert_counts (  -- alerts whose status IS NOT 'Resolved'
  severity  TEXT,
  status    TEXT,
  alerts    INTEGER NOT NULL
);
CREATE INDEX open_alert_counts_key ON open_alert_counts (severity, status);

CREATE TABLE resolved_alert_totals (  -- the rows of alert_time_to_resolve, by severity
  severity     TEXT,
  alerts       INTEGER NOT NULL,
  timed_alerts INTEGER NOT NULL,    -- those whose hours_to_resolve is not NULL
  hours_sum    REAL NOT NULL
);
CREATE INDEX resolved_alert_totals_key ON resolved_alert_totals (severity);

-- min/max of hours_to_resolve per severity are read from this index, not kept: a minimum cannot be
-- maintained by counting when an alert leaves it.
CREATE INDEX alerts_hours_to_resolve ON alerts (severity, round((julianday(resolved_time) - julianday(alert_creation_time)) * 24.0, 3))
  WHERE status = 'Resolved' AND resolved_time IS NOT NULL AND alert_creation_time IS NOT NULL;

-- One alert entering (sign 1) or leaving (sign -1) the summaries. Inserting into this view only runs the
-- trigger below, so the counting rules are written once for inserts, updates and deletes.
CREATE VIEW alert_summary_change AS
SELECT 0 AS sign, NULL AS day, NULL AS severity, NULL AS status, 0 AS resolved, NULL AS hours WHERE 0;

CREATE TRIGGER alert_summary_apply INSTEAD OF INSERT ON alert_summary_change
BEGIN
  INSERT INTO alert_daily_counts (day, severity, alerts)
    SELECT NEW.day, NEW.severity, 0 WHERE NEW.day IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM alert_daily_counts WHERE day = NEW.day AND severity IS NEW.severity);
  UPDATE alert_daily_counts SET alerts = alerts + NEW.sign
    WHERE NEW.day IS NOT NULL AND day = NEW.day AND severity IS NEW.severity;

  INSERT INTO open_alert_counts (severity, status, alerts)
    SELECT NEW.severity, NEW.status, 0 WHERE NEW.status IS NOT 'Resolved'
      AND NOT EXISTS (SELECT 1 FROM open_alert_counts WHERE severity IS NEW.severity AND status IS NEW.status);
  UPDATE open_alert_counts SET alerts = alerts + NEW.sign
    WHERE NEW.status IS NOT 'Resolved' AND severity IS NEW.severity AND status IS NEW.status;

  INSERT INTO resolved_alert_totals (severity, alerts, timed_alerts, hours_sum)
    SELECT NEW.severity, 0, 0, 0.0 WHERE NEW.resolved
      AND NOT EXISTS (SELECT 1 FROM resolved_alert_totals WHERE severity IS NEW.severity);
  UPDATE resolved_alert_totals
    SET alerts = alerts + NEW.sign,
        timed_alerts = timed_alerts + (NEW.hours IS NOT NULL) * NEW.sign,
        hours_sum = hours_sum + ifnull(NEW.hours, 0.0) * NEW.sign
    WHERE NEW.resolved AND severity IS NEW.severity;
END;

CREATE TRIGGER alerts_summary_insert AFTER INSERT ON alerts
BEGIN
  INSERT INTO alert_summary_change VALUES (
    1, substr(NEW.alert_creation_time, 1, 10), NEW.severity, NEW.status,
    NEW.status = 'Resolved' AND NEW.resolved_time IS NOT NULL AND NEW.alert_creation_time IS NOT NULL,
    round((julianday(NEW.resolved_time) - julianday(NEW.alert_creation_time)) * 24.0, 3));
END;

CREATE TRIGGER alerts_summary_delete AFTER DELETE ON alerts
BEGIN
  INSERT INTO alert_summary_change VALUES (
    -1, substr(OLD.alert_creation_time, 1, 10), OLD.severity, OLD.status,
    OLD.status = 'Resolved' AND OLD.resolved_time IS NOT NULL AND OLD.alert_creation_time IS NOT NULL,
    round((julianday(OLD.resolved_time) - julianday(OLD.alert_creation_time)) * 24.0, 3));
END;

CREATE TRIGGER alerts_summary_update AFTER UPDATE OF severity, status, alert_creation_time, resolved_time ON alerts
WHEN OLD.severity IS NOT NEW.severity OR OLD.status IS NOT NEW.status
  OR OLD.alert_creation_time IS NOT NEW.alert_creation_time OR OLD.resolved_time IS NOT NEW.resolved_time
BEGIN
  INSERT INTO alert_summary_change VALUES (
    -1, substr(OLD.alert_creation_time, 1, 10), OLD.severity, OLD.status,
    OLD.status = 'Resolved' AND OLD.resolved_time IS NOT NULL AND OLD.alert_creation_time IS NOT NULL,
    round((julianday(OLD.resolved_time) - julianday(OLD.alert_creation_time)) * 24.0, 3));
  INSERT INTO alert_summary_change VALUES (
    1, substr(NEW.alert_creation_time, 1, 10), NEW.severity, NEW.status,
    NEW.status = 'Resolved' AND NEW.resolved_time IS NOT NULL AND NEW.alert_creation_time IS NOT NULL,
    round((julianday(NEW.resolved_time) - julianday(NEW.alert_creation_time)) * 24.0, 3));
END;

-- What is already stored.
INSERT INTO alert_daily_counts (day, severity, alerts)
  SELECT substr(alert_creation_time, 1, 10), severity, count(*) FROM alerts
  WHERE alert_creation_time IS NOT NULL GROUP BY 1, 2;
INSERT INTO open_alert_counts (severity, status, alerts)
  SELECT severity, status, count(*) FROM alerts WHERE status IS NOT 'Resolved' GROUP BY 1, 2;
INSERT INTO resolved_alert_totals (severity, alerts, timed_alerts, hours_sum)
  SELECT severity, count(*), count(hours_to_resolve), total(hours_to_resolve) FROM alert_time_to_resolve GROUP BY 1;

CREATE VIEW open_alerts_by_severity AS
SELECT severity,
       sum(alerts) AS open_alerts,
       sum((status = 'New') * alerts) AS new_alerts,
       sum((status = 'InProgress') * alerts) AS in_progress_alerts,
       min((SELECT min(a.alert_creation_time) FROM alerts a WHERE a.status IS o.status AND a.severity IS o.severity)) AS oldest_open_alert
FROM open_alert_counts o
WHERE alerts > 0
GROUP BY severity
ORDER BY CASE severity WHEN 'High' THEN 1 WHEN 'Medium' THEN 2 WHEN 'Low' THEN 3 WHEN 'Informational' THEN 4 ELSE 5 END;

CREATE VIEW alerts_per_day AS
SELECT day,
       sum(alerts) AS alerts,
       sum((severity = 'High') * alerts) AS high,
       sum((severity = 'Medium') * alerts) AS medium,
       sum((severity = 'Low') * alerts) AS low,
       sum((severity NOT IN ('High', 'Medium', 'Low')) * alerts) AS other
FROM alert_daily_counts
WHERE alerts > 0
GROUP BY day
ORDER BY day;

CREATE VIEW time_to_resolve_by_severity AS
SELECT severity,
       alerts AS resolved_alerts,
       round(hours_sum / nullif(timed_alerts, 0), 2) AS avg_hours,
       round((SELECT min(round((julianday(a.resolved_time) - julianday(a.alert_creation_time)) * 24.0, 3)) FROM alerts a
              WHERE a.severity IS r.severity AND a.status = 'Resolved' AND a.resolved_time IS NOT NULL AND a.alert_creation_time IS NOT NULL), 2) AS min_hours,
       round((SELECT max(round((julianday(a.resolved_time) - julianday(a.alert_creation_time)) * 24.0, 3)) FROM alerts a
              WHERE a.severity IS r.severity AND a.status = 'Resolved' AND a.resolved_time IS NOT NULL AND a.alert_creation_time IS NOT NULL), 2) AS max_hours
FROM resolved_alert_totals r
WHERE alerts > 0
ORDER BY severity;
