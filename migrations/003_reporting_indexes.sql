-- Covering indexes for the reporting views: each view is answered from its index alone, without reading the
-- alert rows, which are large (raw_json). Measured by `npm run bench` (docs/performance.md).
DROP INDEX alerts_creation_time;
DROP INDEX alerts_status_severity;
CREATE INDEX alerts_creation_severity ON alerts (alert_creation_time, severity);
CREATE INDEX alerts_status_resolution ON alerts (status, severity, alert_creation_time, resolved_time, classification, id);
