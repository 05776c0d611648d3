-- Incidents created per UTC day, per severity, with the day's start as epoch seconds: the time column
-- Grafana's SQLite data source reads (as alerts_per_day_series, migration 008). Merged incidents are left
-- out, as in incidents_per_day, so that one attack is counted once.
CREATE VIEW incidents_per_day_series AS
SELECT CAST(strftime('%s', day) AS INTEGER) AS day_epoch,
       day, incidents, high, medium, low, other
FROM incidents_per_day;
