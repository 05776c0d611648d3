-- Which API each alert's stored version came from: 'defender' (GET /api/alerts) or 'graph' (Microsoft
-- Graph security/alerts_v2). Both describe the same Defender for Endpoint alerts under the same id, so a
-- database can move from one source to the other and keep its rows and history.
ALTER TABLE alerts ADD COLUMN source TEXT NOT NULL DEFAULT 'defender';
