import fs from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { Migrator, type MigrationProvider } from 'kysely/migration';
import { migrations } from './migrations.js';
import type { Database } from './schema.js';

export type Db = Kysely<Database>;

/** Opens (creating if needed) the SQLite database in dataDir, in WAL mode, and applies pending migrations. */
export async function openDatabase(dataDir: string, extra: Record<string, import('kysely/migration').Migration> = {}): Promise<Db> {
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const sqlite = new SQLite(path.join(dataDir, 'cynchro.db'));
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
