import fs from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { Migrator, type MigrationProvider } from 'kysely/migration';
import { migrations } from './migrations.js';
import type { Database } from './schema.js';

export type Db = Kysely<Database>;

export const DB_FILE = 'cynchro.db';

/**
 * DATA_DIR holds the database and the server's own keys: only the server's user may enter it (0700) or read them
 * (0600). Set at every start, so a directory or files left wider (a restore, a umask, a copy) are narrowed.
 * SQLite creates its -wal and -shm files with the database file's mode.
 */
export function restrictDataDir(dataDir: string): void {
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dataDir, 0o700);
  const db = path.join(dataDir, DB_FILE);
  fs.closeSync(fs.openSync(db, 'a', 0o600)); // created 0600 before SQLite opens it
  for (const f of [db, `${db}-wal`, `${db}-shm`, `${db}-journal`, path.join(dataDir, 'jwt-hs256.key'), path.join(dataDir, 'operator-token')]) {
    try {
      if ((fs.statSync(f).mode & 0o777) !== 0o600) fs.chmodSync(f, 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
}

/** Opens (creating if needed) the SQLite database in dataDir, in WAL mode, and applies pending migrations. */
export async function openDatabase(dataDir: string, extra: Record<string, import('kysely/migration').Migration> = {}): Promise<Db> {
  restrictDataDir(dataDir);
  const sqlite = new SQLite(path.join(dataDir, DB_FILE));
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
  const provider: MigrationProvider = { getMigrations: async () => ({ ...migrations, ...extra }) };
  const { error, results } = await new Migrator({ db, provider }).migrateToLatest();
  if (error) {
    await db.destroy();
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(`Database migration ${failed} failed: ${String(error)}`);
  }
  return db;
}

/**
 * Kysely prepares every query anew; compiling SQL is a large share of a cheap query's cost on better-sqlite3.
 * Statements are reusable, so identical SQL shares one (bounded, oldest evicted first).
 */
function withStatementCache(sqlite: SQLite.Database, max = 500): SqliteDatabaseLike {
  const cache = new Map<string, SQLite.Statement>();
  return {
    close: () => sqlite.close(),
    prepare(sql: string) {
      let st = cache.get(sql);
      if (!st) {
        st = sqlite.prepare(sql);
        if (cache.size >= max) cache.delete(cache.keys().next().value as string);
        cache.set(sql, st);
      }
      return st;
    },
  };
}

type SqliteDatabaseLike = import('kysely').SqliteDatabase;
