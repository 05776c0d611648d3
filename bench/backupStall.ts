// How long a writer waits while another process copies its database: `node --import tsx bench/backupStall.ts
// <copy of a database>`. This process commits a small transaction every 20 ms in WAL mode (as the worker, with
// its 200 ms busy timeout) and records its longest commit, first alone, then while a child process copies the
// file with SQLite's online backup in one step (what `backup` does) and with VACUUM INTO; last it times a
// TRUNCATE checkpoint of a 20 MB WAL (what `run` does after a pass). It adds a table to the file given: use a copy.
import { spawn } from 'node:child_process';
import { rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import Database from 'better-sqlite3';

const file = process.argv[2];
if (!file) throw new Error('usage: node --import tsx bench/backupStall.ts <copy of a database>');
const writer = new Database(file);
writer.pragma('journal_mode = WAL');
writer.pragma('busy_timeout = 200');
writer.pragma('synchronous = NORMAL');
writer.exec('CREATE TABLE IF NOT EXISTS bench_stall (x)');
const insert = writer.prepare('INSERT INTO bench_stall VALUES (?)');

/** Commits every 20 ms until `work` ends (or for 3 s); the longest commit and the timer's longest lateness. */
function measure(label: string, child?: string): Promise<void> {
  return new Promise((resolve) => {
    let longest = 0;
    let lateness = 0;
    let last = Date.now();
    const timer = setInterval(() => {
      lateness = Math.max(lateness, Date.now() - last - 20);
      last = Date.now();
      const start = process.hrtime.bigint();
      writer.transaction(() => insert.run(Date.now()))();
      longest = Math.max(longest, Number(process.hrtime.bigint() - start) / 1e6);
    }, 20);
    const startedAt = Date.now();
    const done = () => {
      clearInterval(timer);
      console.log(label, { ms: Date.now() - startedAt, longestCommitMs: Number(longest.toFixed(1)), timerLatenessMs: lateness });
      resolve();
    };
    if (child) spawn(process.execPath, ['-e', child], { stdio: 'inherit' }).on('close', done);
    else setTimeout(done, 3000);
  });
}

const copy = (target: string, how: string) =>
  `const D = require(${JSON.stringify(createRequire(import.meta.url).resolve('better-sqlite3'))}); const s = new D(${JSON.stringify(file)}, { readonly: true }); ${how.replaceAll('TARGET', JSON.stringify(target))}`;

console.log('database bytes', statSync(file).size);
await measure('alone');
rmSync(`${file}.backup`, { force: true });
await measure('online backup, one step', copy(`${file}.backup`, 's.backup(TARGET, { progress: () => 0x7fffffff })'));
rmSync(`${file}.vacuum`, { force: true });
await measure('VACUUM INTO', copy(`${file}.vacuum`, "s.exec('VACUUM INTO ' + \"'\" + TARGET + \"'\")"));
writer.pragma('wal_autocheckpoint = 0');
const big = writer.prepare('INSERT INTO bench_stall VALUES (randomblob(4000))');
writer.transaction(() => {
  for (let i = 0; i < 5000; i += 1) big.run();
})();
const walBefore = statSync(`${file}-wal`).size;
const start = process.hrtime.bigint();
writer.pragma('wal_checkpoint(TRUNCATE)');
console.log('TRUNCATE checkpoint', { walBytes: walBefore, ms: Number((Number(process.hrtime.bigint() - start) / 1e6).toFixed(1)), walBytesAfter: statSync(`${file}-wal`).size });
writer.exec('DROP TABLE bench_stall');
writer.close();
rmSync(`${file}.backup`, { force: true });
rmSync(`${file}.vacuum`, { force: true });
