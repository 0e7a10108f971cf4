import { AppError } from '../../errors/app-error.js';
import type { SecretsTable } from '../../db/schema.js';
import type { Deps } from '../../deps.js';
import { newId } from '../../lib/ids.js';
import type { AuthContext } from '../auth/auth.service.js';
import type { VaultService } from '../vault/vault.service.js';
import { SecretsRepo } from './secrets.repo.js';
import type { SecretDto } from './secrets.schema.js';
import { AAD } from '../vault/aad.js';

/** Whether an app id names an app of an org. Unknown and foreign ids are both "no". */
export interface AppLookup {
  belongsToOrg(orgId: string, appId: string): Promise<boolean>;
}

/** Key name → plaintext value, for one secret. */
export type SecretValues = Record<string, string>;

/** A validated create/replace (see PutSecretInput in secrets.schema.ts); no appId = org-wide. */
export interface PutSecret {
  name: string;
  data: SecretValues;
  appId?: string | undefined;
}


type SecretRow = Omit<SecretsTable, 'id'>;

function toDto(row: Omit<SecretRow, 'org_id' | 'data'>): SecretDto {
  return {
    name: row.name,
    scope: row.app_id === null ? 'org' : 'app',
    appId: row.app_id,
    keys: JSON.parse(row.keys) as string[],
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function unknownSecret(names: readonly string[]): AppError {
  const list = names.map((n) => `"${n}"`).join(', ');
  return new AppError('unknown_secret', names.length === 1 ? `Unknown secret ${list}` : `Unknown secrets ${list}`, { details: { names: [...names] } });
}

/**
 * Named bundles of values, org-wide or scoped to one app. Values are vault ciphertext at rest and never leave this
 * service except through resolveForApp (for the deploy pipeline). Listing, reading metadata and deleting need no
 * decryption, so they keep working while the vault is sealed. Another org's secrets are invisible: every query is
 * filtered by the caller's org, so they answer exactly like missing ones.
 */
export class SecretsService {
  private readonly repo: SecretsRepo;

  constructor(
    private readonly deps: Pick<Deps, 'db' | 'clock' | 'log'>,
    private readonly vault: VaultService,
    private readonly apps: AppLookup,
  ) {
    this.repo = new SecretsRepo(deps.db);
  }

  /** Create or replace. `appId` must be an app of the caller's org (else 404 app_not_found); 503 while sealed. */
  async put(auth: AuthContext, input: PutSecret): Promise<SecretDto> {
    const appId = input.appId ?? null;
    if (appId !== null && !(await this.apps.belongsToOrg(auth.orgId, appId))) {
      throw new AppError('app_not_found', 'No such app in your org');
    }
    this.vault.assertUnsealed();
    const keys = Object.keys(input.data).sort();
    const data = Object.fromEntries(keys.map((k) => [k, this.vault.encrypt(AAD.secret(auth.orgId, appId, input.name, k), input.data[k]!)]));
    const now = this.deps.clock.now();
    const row = await this.repo.upsert({
      id: newId('sec'),
      org_id: auth.orgId,
      app_id: appId,
      name: input.name,
      keys: JSON.stringify(keys),
      data: JSON.stringify(data),
      created_at: now.toISOString(),
      updated_at: now.toISOString(),
    });
    return toDto(row);
  }

  /** The org's secrets (an app-scoped API token sees its app's own). */
  async list(auth: AuthContext): Promise<{ secrets: SecretDto[] }> {
    const rows = await this.repo.listByOrg(auth.orgId);
    return { secrets: rows.filter((r) => auth.appId === null || r.app_id === auth.appId).map(toDto) };
  }

  /** Metadata and key names of the secret in exactly this scope (no fall-back from an app to the org-wide one). */
  async get(auth: AuthContext, name: string, appId?: string): Promise<SecretDto> {
    const row = await this.repo.find(auth.orgId, appId ?? null, name);
    if (!row) throw unknownSecret([name]);
    return toDto(row);
  }

  /** Deletes the secret in exactly this scope: omit appId for the org-wide one. */
  async delete(auth: AuthContext, name: string, appId?: string): Promise<void> {
    if (!(await this.repo.delete(auth.orgId, appId ?? null, name))) throw unknownSecret([name]);
  }

  /**
   * For the deploy pipeline (`envFrom`, `secretFiles`): the decrypted values of each named secret as app `appId`
   * of `orgId` sees them. An app-scoped secret shadows the org-wide one of the same name. Unknown names answer
   * 404 `unknown_secret` naming them (checked before the seal, so a typo is reported even while sealed); any
   * other name list needs the vault: 503 `sealed`.
   */
  async resolveForApp(orgId: string, appId: string, names: readonly string[]): Promise<Record<string, SecretValues>> {
    const chosen = await this.pick(orgId, appId, names);
    if (chosen.size === 0) return {};
    this.vault.assertUnsealed();
    const out: Record<string, SecretValues> = {};
    for (const [name, row] of chosen) {
      const data = JSON.parse(row.data) as Record<string, string>;
      out[name] = Object.fromEntries(
        Object.entries(data).map(([key, ct]) => [key, this.vault.decrypt(AAD.secret(orgId, row.app_id, name, key), ct)]),
      );
    }
    return out;
  }

  /**
   * For /deploy validation, no decryption (works while sealed): every name must be visible to the app, i.e. an
   * org-wide secret or one scoped to `appId`. Pass `appId` null for an app that does not exist yet (org-wide only).
   */
  async assertVisible(orgId: string, appId: string | null, names: readonly string[]): Promise<void> {
    await this.pick(orgId, appId, names);
  }

  /** Removes every secret scoped to the app (when the app is deleted). Returns how many were removed. */
  async deleteAppSecrets(orgId: string, appId: string): Promise<number> {
    return this.repo.deleteApp(orgId, appId);
  }

  /** name → the row the app sees (app-scoped wins); throws unknown_secret listing every missing name. */
  private async pick(orgId: string, appId: string | null, names: readonly string[]): Promise<Map<string, SecretRow>> {
    const wanted = [...new Set(names)];
    const rows = await this.repo.visibleTo(orgId, appId, wanted);
    const chosen = new Map<string, SecretRow>();
    for (const row of rows) {
      const current = chosen.get(row.name);
      if (!current || (current.app_id === null && row.app_id !== null)) chosen.set(row.name, row);
    }
    const missing = wanted.filter((n) => !chosen.has(n));
    if (missing.length) throw unknownSecret(missing);
    return chosen;
  }
}

