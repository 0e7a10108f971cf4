import { VaultError, type KeyringStorage } from '@cynchro/vault';
import type { Db } from '../../db/open-database.js';
import { systemClock, type Clock } from '../../lib/clock.js';

/**
 * The vault's KeyringStorage on the single `vault_keyring` row (id = 1). Every save is a compare-and-swap done by
 * one SQL statement, so two writers (two first unseals, a rotation racing another process on the same file) can
 * never overwrite each other: the loser gets VaultError('conflict') and the vault keeps its in-memory keyring.
 */
export class VaultKeyringStorage implements KeyringStorage {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock = systemClock,
  ) {}

  async load(): Promise<string | null> {
    const row = await this.db.selectFrom('vault_keyring').select('wrapped').where('id', '=', 1).executeTakeFirst();
    return row?.wrapped ?? null;
  }

  async save(wrapped: string, expectedPrevious: string | null): Promise<void> {
    const updatedAt = this.clock.now().toISOString();
    let changed: bigint;
    if (expectedPrevious === null) {
      const r = await this.db
        .insertInto('vault_keyring')
        .values({ id: 1, wrapped, updated_at: updatedAt })
        .onConflict((oc) => oc.column('id').doNothing())
        .executeTakeFirst();
      changed = r.numInsertedOrUpdatedRows ?? 0n;
    } else {
      const r = await this.db
        .updateTable('vault_keyring')
        .set({ wrapped, updated_at: updatedAt })
        .where('id', '=', 1)
        .where('wrapped', '=', expectedPrevious)
        .executeTakeFirst();
      changed = r.numUpdatedRows;
    }
    if (changed !== 1n) throw new VaultError('conflict');
  }
}
