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

/** A line drawn at the bottom of the terminal (the progress bar of `sync`): cleared before each log line, drawn again after. */
export interface TerminalLine {
  clear(): void;
  redraw(): void;
}
let terminalLine: TerminalLine | undefined;
export function setTerminalLine(line: TerminalLine | undefined): void {
  terminalLine = line;
}

/** The terminal's destination, writing each log line around the terminal line. */
function aroundTerminalLine(fd: number) {
  const destination = pino.destination({ fd, sync: true });
  const write = destination.write.bind(destination);
  destination.write = (chunk: string) => {
    terminalLine?.clear();
    const written = write(chunk);
    terminalLine?.redraw();
    return written;
  };
  return destination;
}

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
    terminal ? pretty({ destination: aroundTerminalLine(fd), colorize: true, ignore: 'pid,hostname,name' }) : pino.destination({ fd, sync: true }),
  );
}
