// The cursor_resets table: every operator's move of a stream's cursor back (`resync --since`), with who made it.
import type { Db } from './database.js';

export interface CursorReset {
  tenant_id: string | null;
  stream: string;
  previous_position: string;
  new_position: string;
  requested_since: string;
  reset_at: string;
  os_user: string;
  sudo_user: string | null;
  host: string;
}

export function cursorResets(db: Db) {
  const insert = db.prepare(
    `INSERT INTO cursor_resets (tenant_id, stream, previous_position, new_position, requested_since, reset_at, os_user, sudo_user, host)
     VALUES (@tenant_id, @stream, @previous_position, @new_position, @requested_since, @reset_at, @os_user, @sudo_user, @host)`,
  );
  const recent = db.prepare<[number], CursorReset>('SELECT * FROM cursor_resets ORDER BY id DESC LIMIT ?');
  return {
    record(reset: CursorReset): void {
      insert.run(reset);
    },
    recent(limit: number): CursorReset[] {
      return recent.all(limit);
    },
  };
}
