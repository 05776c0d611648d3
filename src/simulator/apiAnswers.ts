// What the simulated collection endpoints (alerts, alerts_v2, incidents) share: the injectable faults, the
// record of each request, Graph's opaque $skiptoken, and writing a page with the faults that alter an answer.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendJson } from './identityProvider.js';

export type ApiFault =
  | { kind: 'status'; status: number; retryAfter?: string; body?: string; contentType?: string }
  | { kind: 'reset' }
  | { kind: 'stall'; ms: number }
  | { kind: 'truncated' }
  | { kind: 'html'; status?: number }
  | { kind: 'empty'; status?: number }
  | { kind: 'wrongShape' }
  | { kind: 'noDate' }
  /** The answer's Date header is this far from the simulator's clock (a proxy or middlebox with a wrong clock). */
  | { kind: 'dateOffset'; ms: number }
  /** Items that are not valid alerts, appended to an otherwise correct answer. */
  | { kind: 'extraItems'; items: unknown[] }
  /** Items given as JSON text, appended the same way: for JSON that JSON.stringify cannot write (6,000 levels deep). */
  | { kind: 'extraRawItems'; texts: string[] }
  /**
   * The answer holds only its first `pageSize` alerts and an @odata.nextLink to the rest (the real API may add
   * one; the reference says follow it, never depend on it). `host` points the link elsewhere; `loop` makes
   * the link repeat this request's own URL.
   */
  | { kind: 'nextLink'; pageSize: number; host?: string; loop?: boolean };

/** The faults that change an answer rather than replace it: they wait for the next answer there is. */
export const ANSWER_FAULTS: readonly ApiFault['kind'][] = ['truncated', 'noDate', 'dateOffset', 'wrongShape', 'extraItems', 'extraRawItems', 'nextLink'];

/**
 * What the server does with $orderby, which neither API documents: sorts by the field it names (a server
 * that supports it), leaves the answer in its own order, or refuses the request with 400 as OData services
 * do for a query option they do not allow.
 */
export type OrderByHandling = 'honoured' | 'ignored' | 'refused';

/** The 400 an OData service answers for $orderby when it does not allow the option. */
export const ORDER_BY_REFUSED = "Query option 'OrderBy' is not allowed. To allow it, set the 'AllowedQueryOptions' property on EnableQueryAttribute or QueryValidationSettings.";

export interface ApiRequestRecord {
  atMs: number;
  path: string;
  filter: string | null;
  orderBy: string | null;
  top: number | null;
  skip: number;
  /** Graph: the request came from an @odata.nextLink (its opaque $skiptoken). */
  skipToken: boolean;
  expand: boolean;
  /** The request asked for @odata.count ($count=true). */
  count: boolean;
  status: number;
  returned: number;
  fault?: ApiFault['kind'];
  /** With the dateOffset fault: how far the answer's Date header was from the simulator's clock. */
  dateOffsetMs?: number;
  username: string | null;
}

/** The record of a request as it arrives; `expand` is whether it asks to expand `expandable`. */
export function requestRecord(url: URL, atMs: number, expandable: string): ApiRequestRecord {
  return {
    atMs,
    path: url.pathname,
    filter: url.searchParams.get('$filter'),
    orderBy: url.searchParams.get('$orderby'),
    top: url.searchParams.has('$top') ? Number(url.searchParams.get('$top')) : null,
    skip: Number(url.searchParams.get('$skip') ?? 0),
    skipToken: url.searchParams.has('$skiptoken'),
    expand: (url.searchParams.get('$expand') ?? '').split(',').includes(expandable),
    count: url.searchParams.get('$count')?.toLowerCase() === 'true',
    status: 0,
    returned: 0,
    username: null,
  };
}

/**
 * The opening of every list answer: the request recorded, the Date header set, and the next fault taken. A
 * fault that replaces the answer (a status, a reset, a stall...) is applied at once, and then nothing is
 * returned: the request is answered. A fault that alters an answer is returned with the record.
 */
export async function beginAnswer(url: URL, nowMs: number, expandable: string, requests: ApiRequestRecord[], faults: ApiFault[], response: ServerResponse): Promise<{ record: ApiRequestRecord; fault: ApiFault | undefined } | undefined> {
  const record = requestRecord(url, nowMs, expandable);
  requests.push(record);
  response.setHeader('date', new Date(nowMs).toUTCString());
  const fault = faults.shift();
  if (fault && !ANSWER_FAULTS.includes(fault.kind)) {
    record.fault = fault.kind;
    await applyFault(fault, response, record);
    return undefined;
  }
  return { record, fault };
}

/** Graph's link to the rest of an answer: the same query, the position in an opaque token (clients follow it, never build it). */
export function graphNextLink(url: URL, skip: number): string {
  const next = new URL(url);
  next.searchParams.delete('$skip');
  next.searchParams.set('$skiptoken', Buffer.from(JSON.stringify({ skip })).toString('base64url'));
  return next.toString();
}

export function readSkipToken(token: string): number | undefined {
  try {
    const skip = (JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { skip?: unknown }).skip;
    return typeof skip === 'number' && Number.isInteger(skip) && skip >= 0 ? skip : undefined;
  } catch {
    return undefined;
  }
}

/** Answers with a fault that replaces the answer: a reset, a stall, an HTML page, an empty body, a status. */
export async function applyFault(fault: ApiFault, response: ServerResponse, record: ApiRequestRecord): Promise<void> {
  switch (fault.kind) {
    case 'reset':
      record.status = -1;
      response.socket?.destroy();
      return;
    case 'stall':
      record.status = -2;
      await new Promise((resolve) => setTimeout(resolve, fault.ms));
      if (!response.destroyed) response.socket?.destroy();
      return;
    case 'html': {
      record.status = fault.status ?? 502;
      const html = '<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1><p>The proxy server received an invalid response from an upstream server.</p></body></html>';
      response.writeHead(record.status, { 'content-type': 'text/html', 'content-length': Buffer.byteLength(html) });
      response.end(html);
      return;
    }
    case 'empty':
      record.status = fault.status ?? 500;
      response.writeHead(record.status, { 'content-length': 0 });
      response.end();
      return;
    case 'status': {
      record.status = fault.status;
      const body = fault.body ?? JSON.stringify({ error: { code: fault.status === 429 ? '429' : 'InternalServerError', message: fault.status === 429 ? 'API calls quota exceeded! maximum allowed 100 per 00:01:00' : 'An error occurred while processing the request.', target: crypto.randomUUID() } });
      response.writeHead(fault.status, { 'content-type': fault.contentType ?? 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), ...(fault.retryAfter !== undefined ? { 'retry-after': fault.retryAfter } : {}) });
      response.end(body);
      return;
    }
    default:
      return;
  }
}

/** One page of an answer, before the faults that alter it. */
export interface PageAnswer {
  context: string;
  page: unknown[];
  /** Graph's @odata.count, when the request asked for $count=true. */
  count?: number | undefined;
  nextLink?: string | undefined;
}

/** Writes a 200 page, altered by `fault` if it is one of ANSWER_FAULTS. */
export function sendPage(request: IncomingMessage, response: ServerResponse, url: URL, nowMs: number, record: ApiRequestRecord, answer: PageAnswer, fault: ApiFault | undefined): void {
  record.status = 200;
  record.returned = answer.page.length;
  if (fault?.kind === 'wrongShape') {
    record.fault = fault.kind;
    sendJson(response, 200, { value: { count: answer.page.length } });
    return;
  }
  let value: unknown[] = fault?.kind === 'extraItems' ? [...answer.page, ...fault.items] : answer.page;
  let nextLink = answer.nextLink;
  if (fault?.kind === 'nextLink') {
    value = answer.page.slice(0, fault.pageSize);
    record.returned = value.length;
    const next = new URL(url);
    next.host = fault.host ?? request.headers.host ?? url.host;
    if (!fault.loop) {
      next.searchParams.set('$skip', String(record.skip + value.length));
      if (record.top !== null) next.searchParams.set('$top', String(record.top - value.length));
    }
    if (fault.loop || value.length < answer.page.length) nextLink = next.toString();
  }
  const counted = answer.count === undefined ? {} : { '@odata.count': answer.count };
  let text = JSON.stringify({ '@odata.context': answer.context, ...counted, value, ...(nextLink ? { '@odata.nextLink': nextLink } : {}) });
  if (fault?.kind === 'extraRawItems') text = withRawItems(text, value.length, fault.texts);
  if (fault) record.fault = fault.kind;
  if (fault?.kind === 'noDate') {
    response.removeHeader('date');
    response.sendDate = false;
  }
  if (fault?.kind === 'dateOffset') {
    record.dateOffsetMs = fault.ms;
    response.setHeader('date', new Date(nowMs + fault.ms).toUTCString());
  }
  const body = fault?.kind === 'truncated' ? text.slice(0, Math.floor(text.length / 2)) : text;
  response.writeHead(200, {
    'content-type': 'application/json; odata.metadata=minimal; odata.streaming=true; charset=utf-8',
    'odata-version': '4.0',
    'content-length': Buffer.byteLength(body),
  });
  response.end(body);
}

/** The answer's text with `texts` appended to its "value" list (which holds `count` items, written last but one). */
function withRawItems(answer: string, count: number, texts: string[]): string {
  const marker = '"value":[';
  const start = answer.indexOf(marker) + marker.length;
  // The list ends where its items do: find it by parsing back what JSON.stringify wrote.
  const end = start + JSON.stringify((JSON.parse(answer) as { value: unknown[] }).value).length - 2;
  return `${answer.slice(0, end)}${count > 0 ? ',' : ''}${texts.join(',')}${answer.slice(end)}`;
}
