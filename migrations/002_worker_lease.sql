-- One writer per database: the worker that holds this lease syncs; another refuses to start. A lease whose
-- heartbeat is older than its timeout, or whose process is gone from this host, can be taken over.
CREATE TABLE worker_lease (
  id            INTEGER PRIMARY KEY CHECK (id = 1),
  owner         TEXT NOT NULL,
  host          TEXT NOT NULL,
  pid           INTEGER NOT NULL,
  command       TEXT NOT NULL,
  acquired_at   TEXT NOT NULL,
  heartbeat_at  TEXT NOT NULL
);
