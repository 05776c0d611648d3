// One pino logger for the whole process. Secrets never reach it: the code does not log them, and the
// redaction below is the second line of defence for fields that could hold one.
import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

const REDACTED_PATHS = [
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'access_token',
  'refresh_token',
  'id_token',
  '*.access_token',
  '*.refresh_token',
  '*.id_token',
  'password',
  '*.password',
  'clientSecret',
  '*.clientSecret',
];

/** JSON lines (for log collectors), or readable lines when a person watches the terminal. */
export function createLogger(options: { level: string; destination?: 'stdout' | 'stderr' }): Logger {
  const fd = options.destination === 'stdout' ? 1 : 2;
  const terminal = (fd === 1 ? process.stdout : process.stderr).isTTY === true;
  return pino(
    {
      name: 'mde-alert-sync',
      level: options.level,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      base: { pid: process.pid },
    },
    terminal ? pretty({ destination: fd, sync: true, colorize: true, ignore: 'pid,hostname,name' }) : pino.destination({ fd, sync: true }),
  );
}
