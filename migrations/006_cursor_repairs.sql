-- A wrong clock must never lose alerts. Each run records the stream it read, how far the API's clock (HTTP
-- Date) was from this machine's, and a note when it had to repair the cursor; and operators' cursor moves
-- (`resync --since`) are kept with who made them.
ALTER TABLE sync_runs ADD COLUMN stream TEXT;
-- The API's clock minus this machine's at the pass's first answer, in ms; NULL when it sent no Date header.
ALTER TABLE sync_runs ADD COLUMN clock_skew_ms INTEGER;
-- What the pass had to correct before reading, e.g. a cursor found ahead of the clock and moved back.
ALTER TABLE sync_runs ADD COLUMN note TEXT;
CREATE INDEX sync_runs_by_stream ON sync_runs (stream, id);
-- Runs from before this migration name only their source. Where that source has one stream (its filters never
-- changed), they were of that stream; else they stay unattributed (a repair then falls back to the look-back).
UPDATE sync_runs SET stream = (SELECT c.stream FROM sync_cursor c WHERE c.stream LIKE sync_runs.source || ':%')
WHERE (SELECT count(*) FROM sync_cursor c WHERE c.stream LIKE sync_runs.source || ':%') = 1;

-- One row per `resync`: the cursor of a stream moved back on an operator's request. The tenant is a column
-- (NULL: the one tenant of this database) so that one database could later hold several.
CREATE TABLE cursor_resets (
  id                 INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant_id          TEXT,
  stream             TEXT NOT NULL,
  previous_position  TEXT NOT NULL,
  new_position       TEXT NOT NULL,
  requested_since    TEXT NOT NULL,  -- the --since argument as given
  reset_at           TEXT NOT NULL,
  os_user            TEXT NOT NULL,
  sudo_user          TEXT,           -- SUDO_USER, when run through sudo
  host               TEXT NOT NULL
);
CREATE INDEX cursor_resets_by_stream ON cursor_resets (tenant_id, stream, id);
