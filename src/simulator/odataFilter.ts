// The subset of OData $filter that the alerts API documents: comparisons on a fixed set of fields combined
// with and / or / parentheses; dates unquoted, strings in single quotes.
import { parseInstant } from '../instants.js';

/** The fields an API lets a filter use, which of them are dates or numbers, and the one the index is on. */
export interface FilterDialect {
  fields: readonly string[];
  dateFields: ReadonlySet<string>;
  numberFields: ReadonlySet<string>;
  updateField: string;
}

export const DEFENDER_FILTER: FilterDialect = {
  fields: ['alertCreationTime', 'lastUpdateTime', 'incidentId', 'investigationId', 'id', 'assignedTo', 'detectionSource', 'lastEventTime', 'status', 'severity', 'category'],
  dateFields: new Set(['alertCreationTime', 'lastUpdateTime', 'lastEventTime']),
  numberFields: new Set(['incidentId', 'investigationId']),
  updateField: 'lastUpdateTime',
};

/** Graph alerts_v2 documents $filter on these. */
export const GRAPH_FILTER: FilterDialect = {
  fields: ['assignedTo', 'classification', 'determination', 'createdDateTime', 'lastUpdateDateTime', 'severity', 'serviceSource', 'status'],
  dateFields: new Set(['createdDateTime', 'lastUpdateDateTime']),
  numberFields: new Set(),
  updateField: 'lastUpdateDateTime',
};
/** Graph incidents document $filter on these ("List incidents"). */
export const INCIDENT_FILTER: FilterDialect = {
  fields: ['assignedTo', 'classification', 'createdDateTime', 'determination', 'lastUpdateDateTime', 'severity', 'status'],
  dateFields: new Set(['createdDateTime', 'lastUpdateDateTime']),
  numberFields: new Set(),
  updateField: 'lastUpdateDateTime',
};
const OPERATORS = new Set(['eq', 'ne', 'gt', 'ge', 'lt', 'le']);

export class ODataFilterError extends Error {}

type Literal = { kind: 'string'; value: string } | { kind: 'date'; value: bigint } | { kind: 'number'; value: number } | { kind: 'null' };
type Node = { kind: 'and' | 'or'; left: Node; right: Node } | { kind: 'compare'; field: string; op: string; literal: Literal };
export type AlertPredicate = (alert: Record<string, unknown>) => boolean;

/** The range of the dialect's update field a filter requires (from comparisons joined by top-level `and`), for an index. */
export interface InstantRange {
  low?: { value: bigint; inclusive: boolean };
  high?: { value: bigint; inclusive: boolean };
}

export interface ParsedFilter {
  matches: AlertPredicate;
  lastUpdateTime: InstantRange;
}

function tokenize(text: string): string[] {
  const tokens: string[] = [];
  const pattern = /\s*(?:('(?:[^']|'')*')|([()])|([^\s()']+))/y;
  let index = 0;
  while (index < text.length) {
    pattern.lastIndex = index;
    const match = pattern.exec(text);
    if (!match || match[0].length === 0) {
      if (/^\s*$/.test(text.slice(index))) break;
      throw new ODataFilterError(`Invalid filter near "${text.slice(index, index + 20)}"`);
    }
    tokens.push(match[1] ?? match[2] ?? match[3]!);
    index = pattern.lastIndex;
  }
  return tokens;
}

export function parseFilter(text: string, dialect: FilterDialect = DEFENDER_FILTER): ParsedFilter {
  const tokens = tokenize(text);
  let position = 0;
  const peek = () => tokens[position];
  const next = () => {
    const token = tokens[position++];
    if (token === undefined) throw new ODataFilterError('Invalid filter: unexpected end');
    return token;
  };
  const parseOr = (): Node => {
    let node = parseAnd();
    while (peek()?.toLowerCase() === 'or') {
      next();
      node = { kind: 'or', left: node, right: parseAnd() };
    }
    return node;
  };
  const parseAnd = (): Node => {
    let node = parsePrimary();
    while (peek()?.toLowerCase() === 'and') {
      next();
      node = { kind: 'and', left: node, right: parsePrimary() };
    }
    return node;
  };
  const parsePrimary = (): Node => {
    if (peek() === '(') {
      next();
      const node = parseOr();
      if (next() !== ')') throw new ODataFilterError('Invalid filter: missing )');
      return node;
    }
    const field = next();
    if (!dialect.fields.includes(field)) throw new ODataFilterError(`Invalid filter: property '${field}' cannot be filtered on`);
    const op = next().toLowerCase();
    if (!OPERATORS.has(op)) throw new ODataFilterError(`Invalid filter: unknown operator '${op}'`);
    return { kind: 'compare', field, op, literal: parseLiteral(dialect, field, next()) };
  };
  const root = parseOr();
  if (position !== tokens.length) throw new ODataFilterError(`Invalid filter: unexpected '${tokens[position]}'`);
  return { matches: (alert) => evaluate(root, alert), lastUpdateTime: rangeOf(root, dialect.updateField) };
}

function rangeOf(node: Node, field: string, range: InstantRange = {}): InstantRange {
  if (node.kind === 'and') return rangeOf(node.right, field, rangeOf(node.left, field, range));
  if (node.kind !== 'compare' || node.field !== field || node.literal.kind !== 'date') return range;
  const bound = { value: node.literal.value, inclusive: node.op === 'ge' || node.op === 'le' || node.op === 'eq' };
  // Keep the tighter bound when a side is given twice.
  if (node.op === 'ge' || node.op === 'gt' || node.op === 'eq') {
    if (!range.low || bound.value > range.low.value || (bound.value === range.low.value && !bound.inclusive)) range.low = bound;
  }
  if (node.op === 'le' || node.op === 'lt' || node.op === 'eq') {
    if (!range.high || bound.value < range.high.value || (bound.value === range.high.value && !bound.inclusive)) range.high = bound;
  }
  return range;
}

function parseLiteral(dialect: FilterDialect, field: string, token: string): Literal {
  if (token === 'null') return { kind: 'null' };
  if (dialect.dateFields.has(field)) {
    const value = parseInstant(token);
    if (value === undefined) throw new ODataFilterError(`Invalid filter: '${token}' is not a DateTimeOffset literal for ${field}`);
    return { kind: 'date', value };
  }
  if (dialect.numberFields.has(field)) {
    if (!/^-?\d+$/.test(token)) throw new ODataFilterError(`Invalid filter: '${token}' is not a number for ${field}`);
    return { kind: 'number', value: Number(token) };
  }
  if (!token.startsWith("'")) throw new ODataFilterError(`Invalid filter: ${field} compares with a quoted string, not ${token}`);
  return { kind: 'string', value: token.slice(1, -1).replace(/''/g, "'") };
}

function compare<T>(a: T, b: T, op: string): boolean {
  switch (op) {
    case 'eq': return a === b;
    case 'ne': return a !== b;
    case 'gt': return a > b;
    case 'ge': return a >= b;
    case 'lt': return a < b;
    default: return a <= b;
  }
}

function evaluate(node: Node, alert: Record<string, unknown>): boolean {
  if (node.kind !== 'compare') {
    return node.kind === 'and' ? evaluate(node.left, alert) && evaluate(node.right, alert) : evaluate(node.left, alert) || evaluate(node.right, alert);
  }
  const raw = alert[node.field];
  const { literal, op } = node;
  if (literal.kind === 'null') return op === 'eq' ? raw === null || raw === undefined : op === 'ne' ? raw !== null && raw !== undefined : false;
  if (raw === null || raw === undefined) return op === 'ne';
  if (literal.kind === 'date') {
    const value = parseInstant(raw);
    return value !== undefined && compare(value, literal.value, op);
  }
  if (literal.kind === 'number') return compare(Number(raw), literal.value, op);
  return compare(String(raw), literal.value, op);
}
