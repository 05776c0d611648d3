// Reads an alerts page ({"@odata.context": …, "value": [ … ], "@odata.nextLink": …}) from its bytes without
// building it whole: each alert is parsed once here (which checks it is complete JSON) for its id and
// lastUpdateTime, and kept as its bytes. JSON.parse of the whole page held the body string and every alert
// object at once: about 2.5 times the page in V8 heap, which V8 then grew by up to 4 times more.
import { CREATED_FIELD, UPDATE_FIELD } from '../alertSource.js';
import { ReceivedAlert } from '../receivedAlert.js';

export class PageJsonError extends Error {}

export interface AlertsPageJson {
  /** The page's other members (@odata.context, @odata.nextLink, …), parsed. */
  members: Record<string, unknown>;
  /** The "value" list, when the page has one. */
  alerts: ReceivedAlert[] | undefined;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

const isSpace = (byte: number | undefined) => byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;

function skipSpace(bytes: Buffer, at: number): number {
  while (isSpace(bytes[at])) at += 1;
  return at;
}

function expect(bytes: Buffer, at: number, byte: number): void {
  if (at >= bytes.length) throw new PageJsonError('the body ends early');
  if (bytes[at] !== byte) throw new PageJsonError(`expected "${String.fromCharCode(byte)}" at byte ${at}`);
}

/** The end (exclusive) of the string whose opening quote is at `start`. Strings are skipped natively. */
function stringEnd(bytes: Buffer, start: number): number {
  let at = start + 1;
  for (;;) {
    const quote = bytes.indexOf(QUOTE, at);
    if (quote < 0) throw new PageJsonError('the body ends inside a string');
    let backslashes = 0;
    while (bytes[quote - 1 - backslashes] === BACKSLASH) backslashes += 1;
    if (backslashes % 2 === 0) return quote + 1;
    at = quote + 1;
  }
}

/**
 * The end (exclusive) of the value starting at `start`; the value's own syntax is checked when it is parsed.
 * `nesting`, when given, receives the value's deepest nesting of objects and lists.
 */
function valueEnd(bytes: Buffer, start: number, nesting?: { depth: number }): number {
  if (start >= bytes.length) throw new PageJsonError('the body ends early');
  const first = bytes[start];
  if (first === QUOTE) return stringEnd(bytes, start);
  let at = start;
  if (first !== OPEN_BRACE && first !== OPEN_BRACKET) {
    // a number, true, false or null
    while (at < bytes.length && !isSpace(bytes[at]) && bytes[at] !== COMMA && bytes[at] !== CLOSE_BRACE && bytes[at] !== CLOSE_BRACKET) at += 1;
    return at;
  }
  let depth = 0;
  while (at < bytes.length) {
    const byte = bytes[at];
    if (byte === QUOTE) {
      at = stringEnd(bytes, at);
      continue;
    }
    if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
      depth += 1;
      if (nesting && depth > nesting.depth) nesting.depth = depth;
    } else if ((byte === CLOSE_BRACE || byte === CLOSE_BRACKET) && --depth === 0) return at + 1;
    at += 1;
  }
  throw new PageJsonError('the body ends inside a value');
}

function parseSlice(bytes: Buffer, start: number, end: number): unknown {
  try {
    return JSON.parse(bytes.toString('utf8', start, end));
  } catch (error) {
    throw new PageJsonError(`a value at byte ${start} is not valid JSON (${(error as Error).message})`);
  }
}

function readAlerts(bytes: Buffer, open: number, names: AlertFieldNames): { alerts: ReceivedAlert[]; end: number } {
  const alerts: ReceivedAlert[] = [];
  let at = skipSpace(bytes, open + 1);
  if (bytes[at] === CLOSE_BRACKET) return { alerts, end: at + 1 };
  for (;;) {
    const nesting = { depth: 0 };
    const end = valueEnd(bytes, at, nesting);
    const value = parseSlice(bytes, at, end) as Record<string, unknown> | null;
    const fields = typeof value === 'object' && value !== null ? value : {};
    alerts.push(new ReceivedAlert(bytes.subarray(at, end), fields.id, fields[names.update], nesting.depth, fields[names.created]));
    at = skipSpace(bytes, end);
    if (bytes[at] === COMMA) {
      at = skipSpace(bytes, at + 1);
      continue;
    }
    expect(bytes, at, CLOSE_BRACKET);
    return { alerts, end: at + 1 };
  }
}

/** The fields each alert is read for: the update field is kept as lastUpdateTime, the creation field as createdTime. */
export interface AlertFieldNames {
  update: string;
  created: string;
}

/** Throws PageJsonError when the body is not one complete JSON object. */
export function readAlertsPage(bytes: Buffer, fields: AlertFieldNames = { update: UPDATE_FIELD.defender, created: CREATED_FIELD.defender }): AlertsPageJson {
  const members: Record<string, unknown> = {};
  let alerts: ReceivedAlert[] | undefined;
  let at = skipSpace(bytes, 0);
  expect(bytes, at, OPEN_BRACE);
  at = skipSpace(bytes, at + 1);
  if (bytes[at] !== CLOSE_BRACE) {
    for (;;) {
      expect(bytes, at, QUOTE);
      const keyEnd = stringEnd(bytes, at);
      const key = parseSlice(bytes, at, keyEnd) as string;
      at = skipSpace(bytes, keyEnd);
      expect(bytes, at, COLON);
      at = skipSpace(bytes, at + 1);
      if (key === 'value' && bytes[at] === OPEN_BRACKET) {
        ({ alerts, end: at } = readAlerts(bytes, at, fields));
      } else {
        const end = valueEnd(bytes, at);
        members[key] = parseSlice(bytes, at, end);
        if (key === 'value') alerts = undefined;
        at = end;
      }
      at = skipSpace(bytes, at);
      if (bytes[at] === COMMA) {
        at = skipSpace(bytes, at + 1);
        continue;
      }
      expect(bytes, at, CLOSE_BRACE);
      break;
    }
  }
  if (skipSpace(bytes, at + 1) !== bytes.length) throw new PageJsonError('there is more after the JSON object');
  return { members, alerts };
}
