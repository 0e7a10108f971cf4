import { isVaultError, type TermInfo, type UnsealOutcome } from '@cynchro/vault';
import { AppError } from '../../errors/app-error.js';
import type { Deps } from '../../deps.js';
import { audit, type AuditEntry } from '../../lib/audit.js';
import type { AuthContext } from '../auth/auth.service.js';

export interface UnsealResult {
  sealed: boolean;
  outcome: UnsealOutcome;
}

/** The data-key terms of an open vault (no key material): which one encrypts, and how much each has encrypted. */
export interface DataKeyStatus {
  activeTerm: number;
  terms: TermInfo[];
}

/**
 * The server's only door to the vault. It turns VaultErrors into AppErrors (so routers and other services never
 * see the vault's own error type) and audits every unseal, rotation and seal with who asked and what happened.
 * The master key passes through as an argument only: it is never stored, logged, audited or put in an error.
 */
export class VaultService {
  constructor(private readonly deps: Pick<Deps, 'vault' | 'db' | 'clock' | 'log' | 'events'>) {
  }

  get sealed(): boolean {
    return this.deps.vault.sealed;
  }

  sealStatus(): { sealed: boolean } {
    return { sealed: this.deps.vault.sealed };
  }

  /** Throws 503 `sealed` when the vault is sealed; for callers that want to fail before doing other work. */
  assertUnsealed(): void {
    if (this.deps.vault.sealed) throw new AppError('sealed');
  }

  /**
   * Loads the master key (the first unseal on a fresh server initialises the keyring). With `previous`, rotates:
   * `previous` must be the current key, `key` becomes the new one. A wrong key answers 400 `invalid_key` and
   * changes nothing.
   */
  async unseal(auth: AuthContext, key: string, previous?: string): Promise<UnsealResult> {
    const action = previous === undefined ? 'vault.unseal' : 'vault.rotate';
    try {
      const outcome = await this.deps.vault.unseal(key, previous);
      await this.audit({ userId: auth.userId, orgId: auth.orgId, action, outcome: 'ok', detail: outcome });
      // A seal() racing this unseal wins, so report the state the vault is actually in.
      const sealed = this.deps.vault.sealed;
      // Work that waited for the keys (queued jobs, secret files, re-encryption) subscribes to this.
      if (!sealed && outcome !== 'already_unsealed') this.deps.events.emit('vault-unsealed');
      return { sealed, outcome };
    } catch (error) {
      const appError = this.toAppError(error);
      const detail = isVaultError(error) ? error.code : appError.code;
      const outcome = appError.code === 'invalid_key' || appError.code === 'validation' ? 'denied' : 'failed';
      await this.audit({ userId: auth.userId, orgId: auth.orgId, action, outcome, detail });
      throw appError;
    }
  }

  /** Drops the master key and data keys from memory. Sealing a sealed vault is a no-op that still succeeds. */
  async seal(auth: AuthContext): Promise<{ sealed: true }> {
    const wasSealed = this.deps.vault.sealed;
    await this.deps.vault.seal();
    await this.audit({ userId: auth.userId, orgId: auth.orgId, action: 'vault.seal', outcome: 'ok', detail: wasSealed ? 'already_sealed' : 'sealed' });
    return { sealed: true };
  }

  /** The data-key terms; 503 `sealed` while sealed. */
  dataKeyStatus(): DataKeyStatus {
    const status = this.deps.vault.status();
    if (status.sealed) throw new AppError('sealed');
    return { activeTerm: status.activeTerm, terms: status.terms };
  }

  /**
   * Adds a data-key term and makes it the one new writes use; older terms still decrypt until the re-encryption
   * job has rewritten everything under them and retires them. Audited as `vault.rotate_data_key`.
   */
  async rotateDataKey(auth: AuthContext): Promise<DataKeyStatus> {
    const action = 'vault.rotate_data_key';
    try {
      const term = await this.deps.vault.rotateDataKey();
      await this.audit({ userId: auth.userId, orgId: auth.orgId, action, outcome: 'ok', detail: `term ${term}` });
      return this.dataKeyStatus();
    } catch (error) {
      const appError = this.toAppError(error);
      await this.audit({ userId: auth.userId, orgId: auth.orgId, action, outcome: 'failed', detail: isVaultError(error) ? error.code : appError.code });
      throw appError;
    }
  }

  /** Audits an unseal, rotation or seal attempt the admin gate refused (403) before it reached the vault. */
  async recordRefused(auth: AuthContext, attempt: 'unseal' | 'rotate' | 'seal' | 'rotate_data_key'): Promise<void> {
    await this.audit({ userId: auth.userId, orgId: auth.orgId, action: `vault.${attempt}`, outcome: 'denied', detail: 'forbidden' });
  }

  /** AAD names what the value is (e.g. ['secret', orgId, appId, name, key]); the same AAD is needed to decrypt. */
  encrypt(aad: readonly string[], value: string): string {
    try {
      return this.deps.vault.encrypt(value, aad);
    } catch (error) {
      throw this.toAppError(error, aad);
    }
  }

  decrypt(aad: readonly string[], ciphertext: string): string {
    try {
      return this.deps.vault.decryptString(ciphertext, aad);
    } catch (error) {
      throw this.toAppError(error, aad);
    }
  }

  /**
   * sealed → 503 sealed; invalid_key → 400 invalid_key; invalid_key_format → 400 validation; a keyring changed
   * concurrently → 409 conflict (retry); an exhausted data key whose rotation has not landed → 503 unavailable;
   * anything else (decrypt_failed: tampered or misplaced data, corrupt_keyring) → 500 internal, logged with the AAD
   * (names and ids, never values).
   */
  private toAppError(error: unknown, aad?: readonly string[]): AppError {
    if (error instanceof AppError) return error;
    if (!isVaultError(error)) {
      this.deps.log.error({ err: error }, 'vault operation failed');
      return new AppError('internal', undefined, { cause: error });
    }
    switch (error.code) {
      case 'sealed':
        return new AppError('sealed');
      case 'invalid_key':
        return new AppError('invalid_key', 'The key does not open the vault');
      case 'invalid_key_format':
        return AppError.validation({ key: ['must be exactly 64 hexadecimal characters (32 bytes)'] });
      case 'conflict':
        return new AppError('conflict', 'The vault keyring was changed concurrently; retry');
      case 'key_exhausted':
        return new AppError('unavailable', 'The data key is being rotated; retry shortly');
      default:
        this.deps.log.error({ vaultError: error.code, aad }, 'vault operation failed');
        return new AppError('internal', undefined, { cause: error });
    }
  }

  /** An audit write that fails must not misreport an unseal or seal that already happened. */
  private async audit(entry: AuditEntry): Promise<void> {
    try {
      await audit(this.deps.db, this.deps.clock.now(), entry);
    } catch (error) {
      this.deps.log.error({ err: error, action: entry.action, outcome: entry.outcome }, 'audit write failed');
    }
  }
}
