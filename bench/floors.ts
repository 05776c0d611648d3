// The floors the backfill is compared with, in a process of their own: (1) fetching and parsing the very
// pages the backfill requested, nothing else; (2) writing the same rows (each alert, its evidence, MITRE
// techniques and comments, and its 'created' change) with bare prepared INSERTs, one transaction per page,
// into a fresh database with the same schema, indexes and pragmas.
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
const insertEvidence = db.prepare('INSERT INTO alert_evidence (alert_id, ordinal, sha1, sha256, raw_json) VALUES (?, ?, ?, ?, ?)');
const insertTechnique = db.prepare('INSERT OR IGNORE INTO alert_mitre_techniques (alert_id, technique) VALUES (?, ?)');
const insertComment = db.prepare('INSERT INTO alert_comments (alert_id, ordinal) VALUES (?, ?)');
const insertChange = db.prepare("INSERT INTO alert_changes (alert_id, change, last_update_time, changed_fields, stored_at) VALUES (?, 'created', ?, '{}', ?)");
const list = (value: unknown): Record<string, unknown>[] => (Array.isArray(value) ? value : []);
const writePage = db.transaction((alerts: Record<string, unknown>[]) => {
  const now = new Date().toISOString();
  for (const alert of alerts) {
    insert.run(alert.id, alert.lastUpdateTime, JSON.stringify(alert), '', now, now);
    list(alert.evidence).forEach((item, ordinal) => insertEvidence.run(alert.id, ordinal, item.sha1 ?? null, item.sha256 ?? null, JSON.stringify(item)));
    for (const technique of list(alert.mitreTechniques)) insertTechnique.run(alert.id, String(technique));
    list(alert.comments).forEach((_, ordinal) => insertComment.run(alert.id, ordinal));
    insertChange.run(alert.id, alert.lastUpdateTime, now);
  }
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
