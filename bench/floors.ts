// The floors the backfill is compared with, in a process of their own: (1) fetching and parsing the very
// pages the backfill requested, nothing else; (2) writing the same alerts with one bare prepared INSERT per
// row, one transaction per page, into a fresh database with the same schema and pragmas.
// Usage: node --import tsx bench/floors.ts <job.json>; prints one JSON line.
import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import { openDatabase } from '../src/store/database.js';
import { migrate } from '../src/store/migrate.js';

export interface FloorJob {
  apiBaseUrl: string;
  caFile: string;
  token: string;
  dbPath: string;
  requests: { filter: string | null; top: number | null; skip: number; expand: boolean }[];
}

export interface FloorFigures {
  pages: number;
  alerts: number;
  bytes: number;
  fetchMs: number;
  fetchCpuMs: number;
  writeMs: number;
  writeCpuMs: number;
}

const job = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as FloorJob;
const agent = new Agent({ connect: { ca: readFileSync(job.caFile, 'utf8') } });

const pages: Record<string, unknown>[][] = [];
let bytes = 0;
let cpu = process.cpuUsage();
let started = performance.now();
for (const page of job.requests) {
  const params = new URLSearchParams();
  if (page.filter) params.set('$filter', page.filter);
  if (page.top !== null) params.set('$top', String(page.top));
  if (page.skip) params.set('$skip', String(page.skip));
  if (page.expand) params.set('$expand', 'evidence');
  const response = await request(`${job.apiBaseUrl}/api/alerts?${params.toString().replace(/\+/g, '%20')}`, { dispatcher: agent, headers: { authorization: `Bearer ${job.token}` } });
  const text = await response.body.text();
  if (response.statusCode !== 200) throw new Error(`floor request answered ${response.statusCode}: ${text.slice(0, 200)}`);
  bytes += Buffer.byteLength(text);
  pages.push((JSON.parse(text) as { value: Record<string, unknown>[] }).value);
}
const fetchMs = performance.now() - started;
const fetchCpu = process.cpuUsage(cpu);
await agent.close();

const db = openDatabase(job.dbPath);
migrate(db);
const insert = db.prepare('INSERT OR REPLACE INTO alerts (id, last_update_time, raw_json, content_hash, first_stored_at, last_stored_at) VALUES (?, ?, ?, ?, ?, ?)');
const writePage = db.transaction((alerts: Record<string, unknown>[]) => {
  const now = new Date().toISOString();
  for (const alert of alerts) insert.run(alert.id, alert.lastUpdateTime, JSON.stringify(alert), '', now, now);
});
cpu = process.cpuUsage();
started = performance.now();
for (const page of pages) writePage(page);
const writeMs = performance.now() - started;
const writeCpu = process.cpuUsage(cpu);
db.close();

const figures: FloorFigures = {
  pages: pages.length,
  alerts: pages.reduce((sum, page) => sum + page.length, 0),
  bytes,
  fetchMs,
  fetchCpuMs: (fetchCpu.user + fetchCpu.system) / 1000,
  writeMs,
  writeCpuMs: (writeCpu.user + writeCpu.system) / 1000,
};
process.stdout.write(`${JSON.stringify(figures)}\n`);
