// Who holds the writer lease, precisely enough to tell a dead holder from a live one on the same host: the
// kernel's boot id and the process's start time (clock ticks after boot, field 22 of /proc/<pid>/stat)
// beside its PID. A container's worker is PID 1 again after every restart, and a host reuses PIDs; the start
// time tells them apart. Where /proc is missing (macOS) both are null and the PID alone decides.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

export interface ProcessIdentity {
  host: string;
  pid: number;
  bootId: string | null;
  startTicks: number | null;
}

/** What this machine can say about its processes (the real one reads /proc; tests may describe another). */
export interface ProcessTable {
  exists(pid: number): boolean;
  startTicks(pid: number): number | null;
}

function readOrNull(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/** Field 22 (starttime) of a /proc/<pid>/stat line. The command name (field 2) may hold spaces and parentheses. */
export function startTicksFromStat(stat: string): number | null {
  const nameEnd = stat.lastIndexOf(')');
  if (nameEnd < 0) return null;
  const fields = stat.slice(nameEnd + 2).trim().split(' '); // fields 3 onwards
  const text = fields[22 - 3];
  const value = text !== undefined && /^\d+$/.test(text) ? Number(text) : Number.NaN;
  return Number.isSafeInteger(value) ? value : null;
}

export const LOCAL_PROCESSES: ProcessTable = {
  exists(pid) {
    try {
      process.kill(pid, 0);
      return true;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'EPERM';
    }
  },
  startTicks(pid) {
    const stat = readOrNull(`/proc/${pid}/stat`);
    return stat === null ? null : startTicksFromStat(stat);
  },
};

export function thisProcess(): ProcessIdentity {
  return {
    host: hostname(),
    pid: process.pid,
    bootId: readOrNull('/proc/sys/kernel/random/boot_id')?.trim() || null,
    startTicks: LOCAL_PROCESSES.startTicks(process.pid),
  };
}

/**
 * Why a lease holder is certainly gone, or undefined while it may be alive. Only a holder on this host can
 * be judged (the host name identifies the machine or container); one elsewhere is judged by its heartbeat.
 */
export function holderGone(holder: ProcessIdentity, self: ProcessIdentity, processes: ProcessTable = LOCAL_PROCESSES): string | undefined {
  if (holder.host !== self.host) return undefined;
  if (holder.bootId !== null && self.bootId !== null && holder.bootId !== self.bootId) return 'this host has restarted since';
  if (!processes.exists(holder.pid)) return 'its process no longer exists';
  // Without both boot ids and the holder's start time (macOS, or a lease written by an older version), a live
  // PID counts as the holder, as before.
  if (holder.bootId === null || self.bootId === null || holder.startTicks === null) return undefined;
  const now = processes.startTicks(holder.pid);
  if (now === null || now === holder.startTicks) return undefined;
  return holder.pid === self.pid
    ? `its process ID ${holder.pid} is now this process (a restarted container)`
    : `its process ID ${holder.pid} now belongs to another process`;
}
