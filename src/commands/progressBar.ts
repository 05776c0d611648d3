// The live progress bar of `sync` on a terminal: one line at the bottom of stderr, redrawn at each window
// and every half second (the ETA moves), kept below the log lines and cleared when the pass ends. A few
// lines of our own rather than a dependency: it draws the counts the pass already keeps (PassProgress).
import { setTerminalLine } from '../logger.js';
import { roughDuration, type PassProgress, type ProgressSnapshot } from '../sync/passProgress.js';
import type { PassObserver } from '../sync/syncPass.js';

const WIDTH = 20;
const REDRAW_MS = 500;
const CLEAR = '\r\x1b[2K';

export function barText(snapshot: ProgressSnapshot): string {
  const filled = Math.round(snapshot.covered * WIDTH);
  const percent = `${Math.floor(snapshot.covered * 100)}%`.padStart(4);
  const readTo = snapshot.readThrough?.slice(0, 10) ?? '…';
  const eta = snapshot.etaMs === null ? '…' : roughDuration(snapshot.etaMs);
  // Most telling first: a narrow terminal cuts the line from its end.
  return `syncing [${'#'.repeat(filled)}${'-'.repeat(WIDTH - filled)}] ${percent} read to ${readTo}, ${snapshot.alerts} alerts, ETA ${eta}, ${snapshot.windows} windows, ${snapshot.requests} requests`;
}

/** Whether `sync` draws the bar: stderr is a terminal that can move its cursor. */
export function wantsBar(stream: NodeJS.WriteStream = process.stderr): boolean {
  return stream.isTTY === true && process.env.TERM !== 'dumb';
}

export function progressBar(stream: NodeJS.WriteStream = process.stderr): PassObserver {
  let progress: PassProgress | undefined;
  let timer: NodeJS.Timeout | undefined;
  // Never wider than the terminal: a wrapped line could not be cleared with one carriage return.
  const fit = (text: string) => text.slice(0, Math.max(10, (stream.columns || 80) - 1));
  const draw = () => progress && stream.write(CLEAR + fit(barText(progress.snapshot())));
  const clear = () => stream.write(CLEAR);
  return {
    passStarted(started) {
      progress = started;
      setTerminalLine({ clear, redraw: draw });
      draw();
      timer = setInterval(draw, REDRAW_MS);
      timer.unref();
    },
    windowCommitted: () => draw(),
    passEnded() {
      clearInterval(timer);
      setTerminalLine(undefined);
      progress = undefined;
      clear();
    },
  };
}
