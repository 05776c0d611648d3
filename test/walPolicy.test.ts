// closeWriter on a real SQLite file: the file is left readable without write access to its folder (rollback
// mode, or WAL with its -wal and -shm kept while another connection holds them), whatever made the switch fail.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { openDatabase } from '../src/store/database.js';
import { closeWriter, DEFAULT_WAL_POLICY } from '../src/store/walPolicy.js';
import { tempDir } from './support/harness.js';

/** File format bytes 18 and 19 of the header: 1 is rollback journal, 2 is WAL. */
const headerMode = (file: string) => (readFileSync(file)[18] === 2 ? 'wal' : 'delete');

function writer(): { db: Database.Database; file: string } {
  const file = path.join(tempDir('wal-policy-'), 'alerts.db');
  const db = openDatabase(file, { wal: DEFAULT_WAL_POLICY });
  db.exec('CREATE TABLE t (x); INSERT INTO t VALUES (1)');
  return { db, file };
}

describe('closeWriter', () => {
  it('leaves a file nobody else holds in rollback mode, with no -wal or -shm', () => {
    const { db, file } = writer();
    assert.equal(closeWriter(db, DEFAULT_WAL_POLICY), 'delete');
    assert.equal(headerMode(file), 'delete');
    assert.ok(!existsSync(`${file}-wal`) && !existsSync(`${file}-shm`));
  });

  it('keeps WAL mode and both files while another connection has the file open', () => {
    const { db, file } = writer();
    const reader = new Database(file, { readonly: true });
    reader.prepare('SELECT count(*) FROM t').get();
    try {
      assert.equal(closeWriter(db, DEFAULT_WAL_POLICY), 'wal');
      assert.equal(headerMode(file), 'wal');
      assert.ok(existsSync(`${file}-wal`) && existsSync(`${file}-shm`), 'the reader keeps -wal and -shm');
    } finally {
      reader.close();
    }
  });

  it('when the switch failed and the close still deleted -wal and -shm (here: closed inside a transaction), opens the file again and switches it', () => {
    const { db, file } = writer();
    db.exec('BEGIN; INSERT INTO t VALUES (2)');
    assert.equal(closeWriter(db, DEFAULT_WAL_POLICY), 'delete');
    assert.equal(headerMode(file), 'delete');
    assert.ok(!existsSync(`${file}-shm`));
    const check = new Database(file, { readonly: true });
    assert.equal((check.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n, 1, 'the open transaction was rolled back');
    check.close();
  });

  it('with walCheckpoints external keeps WAL mode, as Litestream needs', () => {
    const { db, file } = writer();
    assert.equal(closeWriter(db, { ...DEFAULT_WAL_POLICY, checkpoints: 'external' }), 'wal');
    assert.equal(headerMode(file), 'wal');
  });
});
