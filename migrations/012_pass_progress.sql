-- Progress of a pass while it runs, written with each window it commits, so that `status` (a reader of the
-- file) shows how far a long backfill has come: the span it reads (from where it started reading to its
-- horizon, what both clocks agreed was now), the end of the last window committed, when that was, and when
-- the pass is expected to end at the pace of its last windows.
ALTER TABLE sync_runs ADD COLUMN span_from TEXT;
ALTER TABLE sync_runs ADD COLUMN span_to TEXT;
ALTER TABLE sync_runs ADD COLUMN read_through TEXT;
ALTER TABLE sync_runs ADD COLUMN last_window_at TEXT;
ALTER TABLE sync_runs ADD COLUMN expected_end_at TEXT;
