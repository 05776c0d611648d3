// Wall time, CPU time and peak RSS of a child process, read from /proc while it runs (Linux): Node gives no
// rusage for children. VmHWM is the kernel's own high-water mark, so sampling misses at most the last
// interval's growth.
import { readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';

export interface ProcessUsage {
  code: number | null;
  wallMs: number;
  cpuMs: number;
  peakRssBytes: number;
  stderr: string;
  stdout: string;
}

const CLOCK_TICKS_PER_SECOND = 100;

function sample(pid: number): { cpuMs: number; peakRssBytes: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After the command name: state is field 3, utime 14 and stime 15 (1-based in proc(5)).
    const cpuTicks = Number(fields[11]) + Number(fields[12]);
    const peakKb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
    return { cpuMs: (cpuTicks * 1000) / CLOCK_TICKS_PER_SECOND, peakRssBytes: peakKb * 1024 };
  } catch {
    return undefined; // the process has ended
  }
}

export function measureProcess(command: string, args: string[], env: Record<string, string>): Promise<ProcessUsage> {
  const started = performance.now();
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let last = { cpuMs: 0, peakRssBytes: 0 };
  const timer = setInterval(() => {
    // A process that has exited but is not yet reaped still shows its CPU time, but no memory lines.
    const now = sample(child.pid!);
    if (now) last = { cpuMs: Math.max(last.cpuMs, now.cpuMs), peakRssBytes: Math.max(last.peakRssBytes, now.peakRssBytes) };
  }, 20);
  return new Promise((resolve) => {
    child.on('exit', () => {
      clearInterval(timer);
    });
    child.on('close', (code) => resolve({ code, wallMs: performance.now() - started, ...last, stdout, stderr }));
  });
}
