-- Microsoft Graph's security incidents (GET /v1.0/security/incidents), a second versioned record stream beside
-- the alerts: one row per incident at its newest version, an append-only history of its changes, and views
-- that never count one attack twice (a merged incident, status Redirected, keeps its row and names the
-- incident it went into, but is left out of every count). The tenant is part of the key, so that one database
-- could later hold several tenants' incidents; '' is an incident whose answer named no tenant.
CREATE TABLE incidents (
  tenant_id             TEXT NOT NULL DEFAULT '',
  id                    TEXT NOT NULL,
  display_name          TEXT,
  status                TEXT,    -- Active, InProgress, Resolved, Redirected, AwaitingAction (Graph's values, PascalCased)
  severity              TEXT,    -- UnSpecified, Informational, Low, Medium, High (as in alerts)
  classification        TEXT,
  determination         TEXT,
  assigned_to           TEXT,
  created_time          TEXT,    -- createdDateTime
  last_update_time      TEXT NOT NULL,  -- lastUpdateDateTime: the cursor of graph:incidents follows it
  resolved_time         TEXT,    -- Graph gives none: the update time of the first version stored as Resolved
  alert_count           INTEGER, -- the alerts the answer listed (only with $expand, which is not asked for), else NULL: see incident_alerts
  tags                  TEXT,    -- JSON list: customTags, then systemTags
  redirect_incident_id  TEXT,    -- the incident a Redirected one was merged into
  incident_web_url      TEXT,
  source                TEXT NOT NULL DEFAULT 'graph',
  raw_json              TEXT NOT NULL,  -- the incident exactly as received, unknown fields included
  content_hash          TEXT NOT NULL,  -- sha256 of raw_json: an unchanged incident writes nothing
  versions_seen         INTEGER NOT NULL DEFAULT 1,
  first_stored_at       TEXT NOT NULL,
  last_stored_at        TEXT NOT NULL,
  UNIQUE (tenant_id, id)
);
CREATE INDEX incidents_last_update_time ON incidents (last_update_time);
-- The views read these (partial, covering) indexes rather than every incident: tens of milliseconds at
-- 100,000 incidents (docs/performance.md). Their WHERE clauses are the views' own, word for word.
CREATE INDEX incidents_open ON incidents (severity, status, created_time) WHERE status IS NOT 'Resolved' AND status IS NOT 'Redirected';
CREATE INDEX incidents_open_assignee ON incidents (assigned_to, severity) WHERE status IS NOT 'Resolved' AND status IS NOT 'Redirected';
CREATE INDEX incidents_day ON incidents (substr(created_time, 1, 10), severity, status, created_time) WHERE created_time IS NOT NULL AND status IS NOT 'Redirected';
CREATE INDEX incidents_hours_to_resolve ON incidents (severity, round((julianday(resolved_time) - julianday(created_time)) * 24.0, 3))
  WHERE status = 'Resolved' AND resolved_time IS NOT NULL AND created_time IS NOT NULL;
CREATE INDEX incidents_redirect ON incidents (redirect_incident_id) WHERE redirect_incident_id IS NOT NULL;

-- Append-only, like alert_changes.
CREATE TABLE incident_changes (
  id                        INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant_id                 TEXT NOT NULL DEFAULT '',
  incident_id               TEXT NOT NULL,
  change                    TEXT NOT NULL CHECK (change IN ('created', 'updated')),
  previous_last_update_time TEXT,
  last_update_time          TEXT NOT NULL,
  changed_fields            TEXT NOT NULL,  -- JSON {"field": {"old": …, "new": …}}
  sync_run_id               INTEGER,
  stored_at                 TEXT NOT NULL
);
CREATE INDEX incident_changes_incident ON incident_changes (tenant_id, incident_id, id);
CREATE TRIGGER incident_changes_no_update BEFORE UPDATE ON incident_changes
BEGIN SELECT RAISE(ABORT, 'incident_changes is append-only'); END;
CREATE TRIGGER incident_changes_no_delete BEFORE DELETE ON incident_changes
BEGIN SELECT RAISE(ABORT, 'incident_changes is append-only'); END;

-- Answers that were not storable records: which kind of record they were meant to be.
ALTER TABLE rejected_alerts ADD COLUMN entity TEXT NOT NULL DEFAULT 'alerts';
-- Each run reads one stream (sync_runs.stream, migration 006); this says which kind of record its counts
-- (alerts_inserted, …) count: 'alerts' or 'incidents'.
ALTER TABLE sync_runs ADD COLUMN entity TEXT NOT NULL DEFAULT 'alerts';

-- Alerts and incidents, linked through the alert's own incidentId (stored in alerts.incident_id), and through
-- the alerts an incident's answer lists where it lists them (only with $expand=alerts, never asked for).
CREATE VIEW incident_alerts AS
SELECT i.tenant_id, i.id AS incident_id, a.id AS alert_id
FROM alerts a JOIN incidents i ON i.id = CAST(a.incident_id AS TEXT)
WHERE a.incident_id IS NOT NULL
UNION
SELECT i.tenant_id, i.id, json_extract(j.value, '$.id')
FROM incidents i, json_each(i.raw_json, '$.alerts') j
WHERE json_type(i.raw_json, '$.alerts') = 'array' AND json_extract(j.value, '$.id') IS NOT NULL;

-- Open: neither resolved nor merged into another incident.
CREATE VIEW open_incidents_by_severity AS
SELECT severity,
       count(*) AS open_incidents,
       sum(status = 'Active') AS active_incidents,
       sum(status = 'InProgress') AS in_progress_incidents,
       sum(status = 'AwaitingAction') AS awaiting_action_incidents,
       min(created_time) AS oldest_open_incident
FROM incidents
WHERE status IS NOT 'Resolved' AND status IS NOT 'Redirected'
GROUP BY severity
ORDER BY CASE severity WHEN 'High' THEN 1 WHEN 'Medium' THEN 2 WHEN 'Low' THEN 3 WHEN 'Informational' THEN 4 ELSE 5 END;

CREATE VIEW incidents_per_day AS
SELECT substr(created_time, 1, 10) AS day,
       count(*) AS incidents,
       sum(severity = 'High') AS high,
       sum(severity = 'Medium') AS medium,
       sum(severity = 'Low') AS low,
       sum(severity NOT IN ('High', 'Medium', 'Low')) AS other
FROM incidents
WHERE created_time IS NOT NULL AND status IS NOT 'Redirected'
GROUP BY day
ORDER BY day;

CREATE VIEW incident_time_to_resolve AS
SELECT tenant_id, id, severity, classification, created_time, resolved_time,
       round((julianday(resolved_time) - julianday(created_time)) * 24.0, 3) AS hours_to_resolve
FROM incidents
WHERE status = 'Resolved' AND resolved_time IS NOT NULL AND created_time IS NOT NULL;

CREATE VIEW incident_time_to_resolve_by_severity AS
SELECT severity,
       count(*) AS resolved_incidents,
       round(avg(hours_to_resolve), 2) AS avg_hours,
       round(min(hours_to_resolve), 2) AS min_hours,
       round(max(hours_to_resolve), 2) AS max_hours
FROM incident_time_to_resolve
GROUP BY severity;

CREATE VIEW open_incidents_by_assignee AS
SELECT assigned_to,
       count(*) AS open_incidents,
       sum(severity = 'High') AS high,
       sum(severity = 'Medium') AS medium,
       sum(severity = 'Low') AS low,
       sum(severity NOT IN ('High', 'Medium', 'Low')) AS other
FROM incidents
WHERE status IS NOT 'Resolved' AND status IS NOT 'Redirected'
GROUP BY assigned_to
ORDER BY open_incidents DESC, assigned_to;
