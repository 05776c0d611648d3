import type { Settings } from '../config/settings.js';
import { openDatabase, storeError } from '../store/database.js';
import { closeWriter, walPolicy } from '../store/walPolicy.js';
import { migrate, schemaVersion } from '../store/migrate.js';

export function migrateCommand(settings: Settings, print: (line: string) => void): void {
  const wal = walPolicy(settings);
  const db = openDatabase(settings.databasePath, { wal });
  try {
    const applied = migrate(db);
    print(applied.length > 0 ? `Applied ${applied.join(', ')} to ${settings.databasePath}.` : `${settings.databasePath} is up to date (schema version ${schemaVersion(db)}).`);
  } catch (error) {
    throw storeError(error, settings.databasePath);
  } finally {
    closeWriter(db, wal);
  }
}
