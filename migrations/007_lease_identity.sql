-- The lease holder named precisely enough to tell a dead one from a live one on the same host: the kernel's
-- boot id and the process's start time (clock ticks after boot, /proc/<pid>/stat field 22). A restarted
-- container's worker is PID 1 again, and a host reuses PIDs; the start time tells them apart. NULL where
-- /proc is missing (macOS) and in leases written before this migration: there the PID alone decides.
ALTER TABLE worker_lease ADD COLUMN boot_id TEXT;
ALTER TABLE worker_lease ADD COLUMN start_ticks INTEGER;
