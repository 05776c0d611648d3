-- Views for dashboards and alerting. Grafana's SQLite data source (frser-sqlite-datasource) reads a time
-- column only as epoch seconds or RFC 3339 text, so the time-series views carry `*_epoch` columns (integer
-- seconds, UTC) beside the stored 7-digit text. Only functions of SQLite 3.8 onwards are used
-- (strftime('%s'), not unixepoch()), since each reader evaluates the views with its own SQLite library.
-- The tenant is not a column here yet: every view reads the tables as they are (one tenant per database).

-- Alerts created per UTC day, per severity, with the day's start as epoch seconds (from the summary table).
CREATE VIEW alerts_per_day_series AS
SELECT CAST(strftime('%s', day) AS INTEGER) AS day_epoch,
       day, alerts, high, medium, low, other
FROM alerts_per_day;

-- Resolved alerts with their time to resolve, and when they were resolved as epoch seconds.
CREATE VIEW alert_time_to_resolve_series AS
SELECT id, severity, classification, alert_creation_time, resolved_time,
       CAST(strftime('%s', resolved_time) AS INTEGER) AS resolved_epoch,
       CAST(strftime('%s', substr(resolved_time, 1, 10)) AS INTEGER) AS resolved_day_epoch,
       hours_to_resolve
FROM alert_time_to_resolve;

-- The history with each alert's title and current state, newest first: a dashboard's "recent changes".
CREATE VIEW recent_alert_changes AS
SELECT c.id AS change_id,
       c.stored_at,
       CAST(strftime('%s', c.stored_at) AS INTEGER) AS stored_epoch,
       c.alert_id, a.title, a.severity, a.status, a.computer_dns_name,
       c.change, c.last_update_time, c.changed_fields
FROM alert_changes c
LEFT JOIN alerts a ON a.id = c.alert_id
ORDER BY c.id DESC;

-- Passes, newest first, with their times as epoch seconds and how long each took.
CREATE VIEW sync_run_history AS
SELECT id, stream, outcome, started_at, finished_at,
       CAST(strftime('%s', started_at) AS INTEGER) AS started_epoch,
       CAST(strftime('%s', finished_at) AS INTEGER) AS finished_epoch,
       round((julianday(finished_at) - julianday(started_at)) * 86400.0, 1) AS duration_seconds,
       alerts_received, alerts_inserted, alerts_updated, alerts_unchanged, alerts_stale, alerts_rejected,
       windows, requests, retries, throttled, clock_skew_ms, error, note
FROM sync_runs
ORDER BY id DESC;

-- How far behind now each stream's cursor is. It stays `settleLag` (10 minutes by default) plus up to one
-- schedule interval behind while syncing works; a growing age means nothing new is being read. The
-- stream written last is the one in use: a stream left by changed filters keeps its old cursor.
CREATE VIEW sync_cursor_age AS
SELECT stream, position, updated_at,
       CAST(strftime('%s', position) AS INTEGER) AS position_epoch,
       CAST(strftime('%s', updated_at) AS INTEGER) AS updated_epoch,
       CAST(strftime('%s', 'now') AS INTEGER) - CAST(strftime('%s', position) AS INTEGER) AS age_seconds,
       updated_at = (SELECT max(updated_at) FROM sync_cursor) AS in_use
FROM sync_cursor;

-- High-severity alerts nobody has started on (status New). A cron job or an alert rule asks for those whose
-- current version was stored since it last looked: by last_change_id (the alert_changes row that stored
-- it; ids only grow, whatever the clocks do), or by last_stored_at / last_stored_epoch (this machine's clock
-- at that write). Either way an alert the service indexed late, with an old creation time, or one raised to
-- High later, still turns up; one changed again while still New turns up again rather than never.
-- Answered from the (status, severity) index of migration 004 and alert_changes' (alert_id, id) index.
CREATE VIEW new_high_severity_alerts AS
SELECT a.id, a.title, a.severity, a.status, a.category, a.computer_dns_name, a.assigned_to, a.incident_id, a.source,
       a.alert_creation_time, a.first_stored_at, a.last_stored_at, a.last_update_time,
       CAST(strftime('%s', a.alert_creation_time) AS INTEGER) AS created_epoch,
       CAST(strftime('%s', a.last_stored_at) AS INTEGER) AS last_stored_epoch,
       (SELECT max(c.id) FROM alert_changes c WHERE c.alert_id = a.id) AS last_change_id
FROM alerts a
WHERE a.severity = 'High' AND a.status = 'New';
