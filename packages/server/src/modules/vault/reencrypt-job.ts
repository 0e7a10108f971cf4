// Background re-encryption after a data-key rotation: rewrites every stored ciphertext that is not under the
// vault's active term, then retires the terms nothing references any more (issue 3: "a background re-encryption
// can retire them").
import { isVaultError } from '@cynchro/vault';
import { sql } from 'kysely';
import type { Deps } from '../../deps.js';
import { audit } from '../../lib/audit.js';
import type { AppSpec } from '../apps/app-spec.js';
import { AAD } from './aad.js';

export type ReencryptTable = 'secrets' | 'apps' | 'deployments';

/** One column of one row about to be rewritten. */
export interface RowTarget {
  table: ReencryptTable;
  id: string;
  column: 'data' | 'spec' | 'webhook_secret';
}

export interface ReencryptJobOptions {
  /** Rows read per query (default 50); the job yields to the event loop between batches. */
  batchSize?: number;
  /** Full passes per run before giving up on a clean one (default 4); a later run picks up what is left. */
  maxPasses?: number;
  /** Test hook: runs after a row was read and its new value computed, just before the conditional UPDATE. */
  beforeWrite?: (target: RowTarget) => void | Promise<void>;
}

export interface ReencryptReport {
  /**
   * `nothing_to_do`: one term only; `done`: a clean pass found every value on the active term (older terms were
   * retired); `incomplete`: values were left (conflicts, failures) so nothing was retired; `sealed`: the vault was
   * sealed mid-way; `stopped`: the server is closing; `failed`: an unexpected error (logged).
   */
  outcome: 'nothing_to_do' | 'done' | 'incomplete' | 'sealed' | 'stopped' | 'failed';
  passes: number;
  /** Values re-encrypted (in rows whose conditional update then succeeded or not). */
  reencrypted: number;
  /** Row columns written. */
  rowsUpdated: number;
  /** Conditional updates that found the row changed since it was read (left for the next pass). */
  conflicts: number;
  /** Values that could not be re-encrypted (undecryptable or unparseable); they block retirement. */
  failures: number;
  retiredTerms: number[];
}

interface PassStats {
  /** Values found not on the active term (rewritten or failed). */
  needed: number;
  reencrypted: number;
  rowsUpdated: number;
  conflicts: number;
  failures: number;
}

class Stop extends Error {
  constructor(readonly reason: 'sealed' | 'stopped') {
    super(reason);
  }
}

const DEFAULT_BATCH = 50;
const DEFAULT_PASSES = 4;

/**
 * At most one run at a time per job. A kick while a run is in progress queues exactly one more run after it (so a
 * rotation during a run is always followed by a full pass). Runs never start while sealed and stop at the next
 * row when the vault is sealed or the job is stopped. Every row is rewritten with a conditional UPDATE (the column
 * must still hold what was read), so a concurrent write always wins and is revisited by the next pass.
 *
 * A term is retired only after a pass that found nothing to rewrite, no failures and no conflicts, and only terms
 * older than the one that was active when that pass began (any term since may have been used by new writes).
 */
export class ReencryptJob {
  private readonly batchSize: number;
  private readonly maxPasses: number;
  private running: Promise<void> | null = null;
  private rerun = false;
  private stopped = false;
  private last: ReencryptReport | undefined;

  constructor(
    private readonly deps: Pick<Deps, 'db' | 'vault' | 'log' | 'clock'>,
    private readonly options: ReencryptJobOptions = {},
  ) {
    this.batchSize = options.batchSize ?? DEFAULT_BATCH;
    this.maxPasses = options.maxPasses ?? DEFAULT_PASSES;
  }

  get isRunning(): boolean {
    return this.running !== null;
  }

  /** The report of the last finished run. */
  get lastReport(): ReencryptReport | undefined {
    return this.last;
  }

  /**
   * Starts a run in the background. Answers true when a run started now; false when sealed, stopped, or a run is
   * already in progress (then one more run follows it).
   */
  kick(reason: string): boolean {
    if (this.stopped || this.deps.vault.sealed) return false;
    if (this.running) {
      this.rerun = true;
      return false;
    }
    this.running = this.loop(reason).finally(() => {
      this.running = null;
    });
    return true;
  }

  /** Resolves once no run is in progress, with the last report. */
  async idle(): Promise<ReencryptReport | undefined> {
    while (this.running) await this.running;
    return this.last;
  }

  /** Stops at the next row and waits; later kicks do nothing. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.idle();
  }

  private async loop(reason: string): Promise<void> {
    do {
      this.rerun = false;
      this.last = await this.run(reason);
      reason = 'rerun';
    } while (this.rerun && !this.stopped && !this.deps.vault.sealed);
  }

  private async run(reason: string): Promise<ReencryptReport> {
    const report: ReencryptReport = { outcome: 'failed', passes: 0, reencrypted: 0, rowsUpdated: 0, conflicts: 0, failures: 0, retiredTerms: [] };
    const { log, vault } = this.deps;
    try {
      const status = vault.status();
      if (status.sealed) throw new Stop('sealed');
      // With one term every stored value is under it (or under a term already gone, which nothing can fix).
      if (status.terms.length <= 1) {
        report.outcome = 'nothing_to_do';
        return report;
      }
      log.info({ reason, activeTerm: status.activeTerm, terms: status.terms.map((t) => t.term) }, 're-encryption started');
      report.outcome = 'incomplete';
      for (let pass = 1; pass <= this.maxPasses; pass++) {
        const before = vault.status();
        if (before.sealed) throw new Stop('sealed');
        const stats = await this.pass();
        report.passes = pass;
        report.reencrypted += stats.reencrypted;
        report.rowsUpdated += stats.rowsUpdated;
        report.conflicts += stats.conflicts;
        report.failures += stats.failures;
        if (stats.failures > 0) break; // the same values would fail again
        if (stats.needed === 0 && stats.conflicts === 0) {
          report.retiredTerms = await this.retireOlderThan(before.activeTerm);
          report.outcome = 'done';
          break;
        }
      }
      if (report.outcome === 'incomplete') log.warn({ report }, 're-encryption left values on old terms; nothing retired');
      else log.info({ report }, 're-encryption finished');
      return report;
    } catch (error) {
      if (error instanceof Stop || (isVaultError(error) && error.code === 'sealed')) {
        report.outcome = error instanceof Stop ? error.reason : 'sealed';
        log.info({ report }, 're-encryption stopped');
        return report;
      }
      report.outcome = 'failed';
      log.error({ err: isVaultError(error) ? { code: error.code } : error, report }, 're-encryption failed');
      return report;
    }
  }

  /** One walk over every table that holds ciphertext. */
  private async pass(): Promise<PassStats> {
    const stats: PassStats = { needed: 0, reencrypted: 0, rowsUpdated: 0, conflicts: 0, failures: 0 };
    const { db } = this.deps;

    for await (const rows of this.batches((after, limit) =>
      db.selectFrom('secrets').select(['id', 'org_id', 'app_id', 'name', 'data']).where('id', '>', after).orderBy('id').limit(limit).execute(),
    )) {
      for (const row of rows) {
        const where = { table: 'secrets', id: row.id } as const;
        const data = this.parse<Record<string, unknown>>(row.data, where, stats);
        if (!data) continue;
        let changed = false;
        for (const [key, ct] of Object.entries(data)) {
          if (typeof ct !== 'string') continue;
          const next = this.rewrite(ct, AAD.secret(row.org_id, row.app_id, row.name, key), stats, where);
          if (next !== ct) {
            data[key] = next;
            changed = true;
          }
        }
        if (changed) await this.update({ ...where, column: 'data' }, row.data, JSON.stringify(data), stats);
      }
    }

    // Deployments snapshot the app's spec text; an app spec rewritten here maps its deployments' identical
    // snapshots to the identical new text, so "deployment spec = app spec" comparisons keep holding.
    const specRewrites = new Map<string, { from: string; to: string }>();
    for await (const rows of this.batches((after, limit) =>
      db.selectFrom('apps').select(['id', 'org_id', 'spec', 'webhook_secret']).where('id', '>', after).orderBy('id').limit(limit).execute(),
    )) {
      for (const row of rows) {
        const spec = this.rewriteSpec(row.org_id, row.id, row.spec, stats, { table: 'apps', id: row.id });
        if (spec !== null && (await this.update({ table: 'apps', id: row.id, column: 'spec' }, row.spec, spec, stats))) {
          specRewrites.set(row.id, { from: row.spec, to: spec });
        }
        if (row.webhook_secret) {
          const where = { table: 'apps', id: row.id, column: 'webhook_secret' } as const;
          const next = this.rewrite(row.webhook_secret, AAD.webhookSecret(row.org_id, row.id), stats, where);
          if (next !== row.webhook_secret) await this.update(where, row.webhook_secret, next, stats);
        }
      }
    }

    for await (const rows of this.batches((after, limit) =>
      db.selectFrom('deployments').select(['id', 'org_id', 'app_id', 'spec']).where('id', '>', after).orderBy('id').limit(limit).execute(),
    )) {
      for (const row of rows) {
        const known = specRewrites.get(row.app_id);
        const spec = known && known.from === row.spec ? known.to : this.rewriteSpec(row.org_id, row.app_id, row.spec, stats, { table: 'deployments', id: row.id });
        if (spec !== null) await this.update({ table: 'deployments', id: row.id, column: 'spec' }, row.spec, spec, stats);
      }
    }
    return stats;
  }

  /** Keyset-paginated batches; checks for seal/stop before each one and yields to the event loop between them. */
  private async *batches<T extends { id: string }>(fetch: (after: string, limit: number) => Promise<T[]>): AsyncGenerator<T[]> {
    let after = '';
    for (;;) {
      this.checkpoint();
      const rows = await fetch(after, this.batchSize);
      if (rows.length === 0) return;
      yield rows;
      if (rows.length < this.batchSize) return;
      after = rows[rows.length - 1]!.id;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  private checkpoint(): void {
    if (this.stopped) throw new Stop('stopped');
    if (this.deps.vault.sealed) throw new Stop('sealed');
  }

  /** Env values, service env values and the repo token of an AppSpec JSON; the new JSON, or null if unchanged. */
  private rewriteSpec(orgId: string, appId: string, text: string, stats: PassStats, where: Omit<RowTarget, 'column'>): string | null {
    const spec = this.parse<AppSpec>(text, where, stats);
    if (!spec) return null;
    let changed = false;
    const env = (values: Record<string, string> | undefined, service: string) => {
      for (const [key, ct] of Object.entries(values ?? {})) {
        if (typeof ct !== 'string') continue;
        const next = this.rewrite(ct, AAD.env(orgId, appId, service, key), stats, where);
        if (next !== ct) {
          values![key] = next;
          changed = true;
        }
      }
    };
    env(spec.env, '');
    for (const service of spec.services ?? []) env(service.env, service.name);
    if (typeof spec.repo?.token === 'string') {
      const next = this.rewrite(spec.repo.token, AAD.repoToken(orgId, appId), stats, where);
      if (next !== spec.repo.token) {
        spec.repo.token = next;
        changed = true;
      }
    }
    return changed ? JSON.stringify(spec) : null;
  }

  /** The value under the active term, or the value itself (already current, or failed: counted and logged). */
  private rewrite(ciphertext: string, aad: readonly string[], stats: PassStats, where: Omit<RowTarget, 'column'>): string {
    const { vault, log } = this.deps;
    let needed: boolean;
    try {
      needed = vault.needsReencrypt(ciphertext);
    } catch (error) {
      if (isVaultError(error) && error.code === 'decrypt_failed') {
        // Not a vault ciphertext at all: no term to rewrite from, so it cannot hold a term back either.
        log.warn({ ...where }, 're-encryption: stored value is not a vault ciphertext; skipped');
        return ciphertext;
      }
      throw error;
    }
    if (!needed) return ciphertext;
    stats.needed += 1;
    try {
      const next = vault.reencrypt(ciphertext, aad);
      stats.reencrypted += 1;
      return next;
    } catch (error) {
      if (isVaultError(error) && error.code === 'decrypt_failed') {
        stats.failures += 1;
        // AAD holds kinds, ids, names and key names only, never values.
        log.error({ ...where, aad }, 're-encryption: value does not decrypt; its term is kept');
        return ciphertext;
      }
      throw error; // sealed, key_exhausted: stop this run
    }
  }

  private parse<T>(text: string, where: Omit<RowTarget, 'column'>, stats: PassStats): T | null {
    try {
      const value: unknown = JSON.parse(text);
      if (value && typeof value === 'object') return value as T;
    } catch {
      // fall through
    }
    stats.failures += 1;
    this.deps.log.error({ ...where }, 're-encryption: stored JSON is unreadable; its terms are kept');
    return null;
  }

  /** UPDATE … SET column = to WHERE id = ? AND column = from: a row changed since it was read is left alone. */
  private async update(target: RowTarget, from: string, to: string, stats: PassStats): Promise<boolean> {
    await this.options.beforeWrite?.(target);
    const result = await sql`update ${sql.table(target.table)} set ${sql.ref(target.column)} = ${to} where id = ${target.id} and ${sql.ref(target.column)} = ${from}`.execute(
      this.deps.db,
    );
    const ok = (result.numAffectedRows ?? 0n) > 0n;
    if (ok) stats.rowsUpdated += 1;
    else stats.conflicts += 1;
    return ok;
  }

  private async retireOlderThan(activeAtPassStart: number): Promise<number[]> {
    const status = this.deps.vault.status();
    if (status.sealed) throw new Stop('sealed');
    const retired: number[] = [];
    for (const t of status.terms) {
      if (t.active || t.term >= activeAtPassStart) continue;
      this.checkpoint();
      try {
        await this.deps.vault.retireTerm(t.term);
        retired.push(t.term);
        await this.audit('ok', `term ${t.term}`);
      } catch (error) {
        await this.audit('failed', `term ${t.term}: ${isVaultError(error) ? error.code : 'error'}`);
        throw error;
      }
    }
    return retired;
  }

  private async audit(outcome: 'ok' | 'failed', detail: string): Promise<void> {
    try {
      await audit(this.deps.db, this.deps.clock.now(), { action: 'vault.retire_term', outcome, detail });
    } catch (error) {
      this.deps.log.error({ err: error }, 'audit write failed');
    }
  }
}
