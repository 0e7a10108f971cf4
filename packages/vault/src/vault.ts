import { createCipheriv, createDecipheriv, createSecretKey, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';
import { inspect, type InspectOptions } from 'node:util';
import { encodeAad } from './aad.js';
import {
  NONCE_BYTES,
  TAG_BYTES,
  ciphertextHeader,
  ciphertextTerm,
  formatCiphertext,
  parseCiphertext,
} from './ciphertext.js';
import { newDataKey, unwrapKeyring, wipeKeyring, wrapKeyring, type Keyring, type KeyringTerm } from './keyring.js';
import type { KeyringStorage } from './keyring-storage.js';
import { parseMasterKey } from './master-key.js';
import { VaultError } from './vault-error.js';

const GCM = 'aes-256-gcm';
/** NIST SP 800-38D: with random 96-bit nonces one key must not be used for more than 2^32 encryptions. */
const GCM_RANDOM_NONCE_LIMIT = 2 ** 32;
/** Rotate at half the limit so a slow or failing rotation still leaves a wide safety margin. */
const DEFAULT_ROTATE_AFTER = 2 ** 31;
const DEFAULT_PERSIST_EVERY = 2 ** 16;

/** Test hook (not exported from the package): exposes the Buffers the vault owns so tests can see them wiped. */
export const vaultInternals = Symbol('cynchro.vault.internals');

export interface VaultOptions {
  storage: KeyringStorage;
  /** Source of `createdAt` for new data-key terms. */
  clock?: () => Date;
  /** Encryptions after which the active data key is rotated in the background (default 2^31, max 2^32). */
  rotateAfter?: number;
  /**
   * Encryption counts are persisted as a reservation this far ahead of the real count (default 2^16), so storage
   * is written once per that many encryptions and a crash can only ever over-count, never under-count.
   */
  persistEvery?: number;
  /** Failures of background work (count persistence, auto-rotation, the count write during seal). */
  onBackgroundError?: (error: unknown) => void;
}

export interface TermInfo {
  term: number;
  createdAt: string;
  encryptions: number;
  active: boolean;
}

export type VaultStatus = { sealed: true } | { sealed: false; activeTerm: number; terms: TermInfo[] };

export type UnsealOutcome = 'initialized' | 'unsealed' | 'already_unsealed' | 'rotated';

interface TermState {
  term: number;
  /** Kept only to re-wrap the keyring; encryption uses the cached KeyObject. */
  key: Buffer;
  keyObject: KeyObject;
  header: string;
  createdAt: string;
  count: number;
  /** What storage currently records for this term (for the active term: a reservation above `count`). */
  persisted: number;
}

interface OpenState {
  master: Buffer;
  /** The exact stored value, needed as `expectedPrevious` for every compare-and-swap save. */
  wrapped: string;
  terms: Map<number, TermState>;
  active: TermState;
}

export function createVault(options: VaultOptions): Vault {
  return new Vault(options);
}

/**
 * Envelope encryption behind a sealable barrier: a master key (held only in memory) wraps a keyring of data keys,
 * and values are encrypted with the keyring's active term. Mutations of the keyring are serialised through one
 * queue and persisted with compare-and-swap, so the in-memory keyring only changes after storage has accepted it.
 */
export class Vault {
  readonly #storage: KeyringStorage;
  readonly #clock: () => Date;
  readonly #rotateAfter: number;
  readonly #hardLimit: number;
  readonly #persistEvery: number;
  readonly #onBackgroundError: (error: unknown) => void;
  #state: OpenState | null = null;
  /** Bumped by every seal() so an unseal that was in flight when seal() was called does not reopen the vault. */
  #sealEpoch = 0;
  #queue: Promise<void> = Promise.resolve();
  #maintenanceScheduled = false;

  constructor(options: VaultOptions) {
    const rotateAfter = options.rotateAfter ?? DEFAULT_ROTATE_AFTER;
    const persistEvery = options.persistEvery ?? DEFAULT_PERSIST_EVERY;
    if (!Number.isSafeInteger(rotateAfter) || rotateAfter < 1 || rotateAfter > GCM_RANDOM_NONCE_LIMIT) {
      throw new RangeError('rotateAfter must be an integer between 1 and 2^32');
    }
    if (!Number.isSafeInteger(persistEvery) || persistEvery < 1) {
      throw new RangeError('persistEvery must be a positive integer');
    }
    this.#storage = options.storage;
    this.#clock = options.clock ?? (() => new Date());
    this.#rotateAfter = rotateAfter;
    // If background rotation has not landed by twice the threshold, refuse rather than creep towards the GCM bound.
    this.#hardLimit = Math.min(GCM_RANDOM_NONCE_LIMIT, rotateAfter * 2);
    this.#persistEvery = persistEvery;
    this.#onBackgroundError =
      options.onBackgroundError ??
      ((error) => process.emitWarning(`vault background task failed: ${describeError(error)}`, 'VaultWarning'));
  }

  get sealed(): boolean {
    return this.#state === null;
  }

  status(): VaultStatus {
    const state = this.#state;
    if (!state) return { sealed: true };
    return {
      sealed: false,
      activeTerm: state.active.term,
      terms: [...state.terms.values()].map((t) => ({
        term: t.term,
        createdAt: t.createdAt,
        encryptions: t.count,
        active: t === state.active,
      })),
    };
  }

  /**
   * Loads the master key. On an empty store this initialises the keyring; otherwise the key must open it. With
   * `previousHex`, the keyring is opened with `previousHex` (the current key) and re-wrapped under `keyHex` in one
   * compare-and-swap; data is not re-encrypted. Nothing is written when a key is wrong.
   */
  async unseal(keyHex: string, previousHex?: string): Promise<UnsealOutcome> {
    const key = parseMasterKey(keyHex);
    let previous: Buffer | undefined;
    try {
      if (previousHex !== undefined) previous = parseMasterKey(previousHex);
    } catch (error) {
      key.fill(0);
      throw error;
    }
    const epoch = this.#sealEpoch;
    // Ownership of `key` passes to the open state only when it is adopted; inferring that from `this.#state`
    // afterwards would be wrong when a seal() lands in between, since its queued count write still needs the key.
    const handoff = { adopted: false };
    try {
      return await this.#exclusive(() => this.#unsealLocked(key, previous, epoch, handoff));
    } finally {
      previous?.fill(0);
      if (!handoff.adopted) key.fill(0);
    }
  }

  /**
   * Takes effect immediately for encrypt/decrypt. The returned promise settles once queued keyring work has
   * finished, exact encryption counts have been written (best effort) and every owned key Buffer is zero-filled.
   * The cached KeyObjects are dropped; Node offers no way to wipe their internal copy.
   */
  seal(): Promise<void> {
    const state = this.#state;
    this.#state = null;
    this.#sealEpoch += 1;
    return this.#exclusive(async () => {
      if (!state) return;
      try {
        if ([...state.terms.values()].some((t) => t.count !== t.persisted)) {
          await this.#save(state, this.#describe(state, 0));
        }
      } catch (error) {
        this.#onBackgroundError(error);
      } finally {
        wipeState(state);
      }
    });
  }

  encrypt(plaintext: string | Uint8Array, aad: readonly string[]): string {
    const state = this.#requireOpen();
    const term = state.active;
    if (term.count >= this.#hardLimit) {
      this.#scheduleMaintenance();
      throw new VaultError('key_exhausted');
    }
    if (typeof plaintext !== 'string' && !(plaintext instanceof Uint8Array)) {
      throw new TypeError('plaintext must be a string or a Uint8Array');
    }
    const associated = encodeAad(term.header, aad);
    term.count += 1;
    if (term.count > term.persisted || term.count >= this.#rotateAfter) this.#scheduleMaintenance();

    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv(GCM, term.keyObject, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(associated);
    const data = typeof plaintext === 'string' ? cipher.update(plaintext, 'utf8') : cipher.update(plaintext);
    cipher.final(); // GCM is a stream mode: final() only computes the tag and returns no bytes
    return formatCiphertext(term.header, nonce, data, cipher.getAuthTag());
  }

  /** Every failure (format, unknown or retired term, tampering, wrong associated data) is one `decrypt_failed`. */
  decrypt(ciphertext: string, aad: readonly string[]): Buffer {
    const state = this.#requireOpen();
    const parsed = parseCiphertext(ciphertext);
    const term = parsed && state.terms.get(parsed.term);
    if (!parsed || !term) throw new VaultError('decrypt_failed');
    const decipher = createDecipheriv(GCM, term.keyObject, parsed.nonce, { authTagLength: TAG_BYTES });
    decipher.setAuthTag(parsed.tag);
    decipher.setAAD(encodeAad(term.header, aad));
    const plaintext = decipher.update(parsed.data);
    try {
      decipher.final();
    } catch {
      plaintext.fill(0); // unauthenticated output must not linger
      throw new VaultError('decrypt_failed');
    }
    return plaintext;
  }

  decryptString(ciphertext: string, aad: readonly string[]): string {
    const plaintext = this.decrypt(ciphertext, aad);
    try {
      return plaintext.toString('utf8');
    } finally {
      plaintext.fill(0);
    }
  }

  /** True when the value is not under the active term, i.e. background re-encryption should rewrite it. */
  needsReencrypt(ciphertext: string): boolean {
    const state = this.#requireOpen();
    const term = ciphertextTerm(ciphertext);
    if (term === null) throw new VaultError('decrypt_failed');
    return term !== state.active.term;
  }

  /**
   * The same value under the active term (the input itself if it already is, after verifying it), for a background
   * job that rewrites old rows before `retireTerm`.
   */
  reencrypt(ciphertext: string, aad: readonly string[]): string {
    const plaintext = this.decrypt(ciphertext, aad);
    try {
      return this.needsReencrypt(ciphertext) ? this.encrypt(plaintext, aad) : ciphertext;
    } finally {
      plaintext.fill(0);
    }
  }

  /** Adds a fresh data-key term and makes it active once storage has accepted it. Resolves to the new term. */
  rotateDataKey(): Promise<number> {
    return this.#exclusive(() => this.#rotateLocked(this.#requireOpen()));
  }

  /**
   * Drops an old term's key for good: anything still encrypted under it becomes undecryptable, so callers
   * re-encrypt first. The active term is refused.
   */
  retireTerm(term: number): Promise<void> {
    return this.#exclusive(async () => {
      const state = this.#requireOpen();
      const retired = state.terms.get(term);
      if (!retired || retired === state.active) throw new VaultError('invalid_term');
      const keyring = this.#describe(state, this.#persistEvery);
      keyring.terms = keyring.terms.filter((t) => t.term !== term);
      await this.#save(state, keyring);
      state.terms.delete(term);
      retired.key.fill(0);
    });
  }

  /** Resolves when all queued keyring work (including background count persistence and rotation) has settled. */
  flush(): Promise<void> {
    return this.#exclusive(async () => {});
  }

  toJSON(): { sealed: boolean } {
    return { sealed: this.sealed };
  }

  [inspect.custom](_depth: number, options: InspectOptions): string {
    return `Vault ${inspect({ sealed: this.sealed }, options)}`;
  }

  [vaultInternals](): { master: Buffer; dataKeys: Buffer[] } | null {
    const state = this.#state;
    return state && { master: state.master, dataKeys: [...state.terms.values()].map((t) => t.key) };
  }

  async #unsealLocked(
    key: Buffer,
    previous: Buffer | undefined,
    epoch: number,
    handoff: { adopted: boolean },
  ): Promise<UnsealOutcome> {
    const current = this.#state;
    if (current) {
      if (previous === undefined) {
        if (!timingSafeEqual(current.master, key)) throw new VaultError('invalid_key');
        return 'already_unsealed';
      }
      if (!timingSafeEqual(current.master, previous)) throw new VaultError('invalid_key');
      await this.#save(current, this.#describe(current, this.#persistEvery), key);
      const old = current.master;
      current.master = key;
      handoff.adopted = true;
      old.fill(0);
      return 'rotated';
    }

    const stored = await this.#storage.load();
    let keyring: Keyring;
    let wrapped: string;
    let outcome: UnsealOutcome;
    if (stored === null) {
      // Nothing to rotate from: a `previous` key on an empty store cannot be the current key.
      if (previous !== undefined) throw new VaultError('invalid_key');
      keyring = { activeTerm: 1, terms: [{ ...newDataKey(1, this.#now()), encryptions: this.#persistEvery }] };
      wrapped = wrapKeyring(keyring, key);
      outcome = 'initialized';
    } else {
      keyring = unwrapKeyring(stored, previous ?? key);
      wrapped = previous === undefined ? stored : wrapKeyring(keyring, key);
      outcome = previous === undefined ? 'unsealed' : 'rotated';
    }
    try {
      if (wrapped !== stored) await this.#storage.save(wrapped, stored);
    } catch (error) {
      wipeKeyring(keyring);
      throw error;
    }
    const state = openState(key, wrapped, keyring, outcome === 'initialized' ? 0 : undefined);
    // A seal() issued while this unseal was in flight wins: storage changes stand, but the vault stays sealed.
    if (epoch !== this.#sealEpoch) {
      wipeKeyring(keyring);
      return outcome;
    }
    this.#state = state;
    handoff.adopted = true;
    return outcome;
  }

  async #rotateLocked(state: OpenState): Promise<number> {
    const next = Math.max(...state.terms.keys()) + 1;
    // The new term is written with a reservation already, so its first encryptions cost no extra save.
    const fresh: KeyringTerm = { ...newDataKey(next, this.#now()), encryptions: this.#persistEvery };
    const keyring = this.#describe(state, this.#persistEvery);
    keyring.terms.push(fresh);
    keyring.activeTerm = next;
    try {
      await this.#save(state, keyring);
    } catch (error) {
      fresh.key.fill(0);
      throw error;
    }
    const term = termState(fresh, 0);
    state.terms.set(next, term);
    state.active = term;
    return next;
  }

  /** CAS-saves `keyring` wrapped under `master`; on success records what storage now holds. */
  async #save(state: OpenState, keyring: Keyring, master: Buffer = state.master): Promise<void> {
    const wrapped = wrapKeyring(keyring, master);
    await this.#storage.save(wrapped, state.wrapped);
    state.wrapped = wrapped;
    for (const t of keyring.terms) {
      const term = state.terms.get(t.term);
      if (term) term.persisted = t.encryptions;
    }
  }

  /** The keyring as it should be stored now; the active term's count is padded by `reserve`. */
  #describe(state: OpenState, reserve: number): Keyring {
    return {
      activeTerm: state.active.term,
      terms: [...state.terms.values()].map((t) => ({
        term: t.term,
        key: t.key,
        createdAt: t.createdAt,
        encryptions: t === state.active ? t.count + reserve : t.count,
      })),
    };
  }

  /** Count persistence and auto-rotation run off the hot path: encrypt is synchronous and storage is not. */
  #scheduleMaintenance(): void {
    if (this.#maintenanceScheduled) return;
    this.#maintenanceScheduled = true;
    this.#exclusive(async () => {
      try {
        const state = this.#state;
        if (!state) return;
        if (state.active.count >= this.#rotateAfter) await this.#rotateLocked(state);
        else if (state.active.count > state.active.persisted) {
          await this.#save(state, this.#describe(state, this.#persistEvery));
        }
      } finally {
        this.#maintenanceScheduled = false;
      }
    }).catch((error: unknown) => this.#onBackgroundError(error));
  }

  #exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(task);
    this.#queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  #requireOpen(): OpenState {
    const state = this.#state;
    if (!state) throw new VaultError('sealed');
    return state;
  }

  #now(): string {
    return this.#clock().toISOString();
  }
}

function termState(t: KeyringTerm, count: number = t.encryptions): TermState {
  return {
    term: t.term,
    key: t.key,
    keyObject: createSecretKey(t.key),
    header: ciphertextHeader(t.term),
    createdAt: t.createdAt,
    count,
    persisted: t.encryptions,
  };
}

function openState(master: Buffer, wrapped: string, keyring: Keyring, count?: number): OpenState {
  const terms = new Map(keyring.terms.map((t) => [t.term, termState(t, count)]));
  const active = terms.get(keyring.activeTerm);
  if (!active) throw new VaultError('corrupt_keyring');
  return { master, wrapped, terms, active };
}

function wipeState(state: OpenState): void {
  state.master.fill(0);
  for (const t of state.terms.values()) t.key.fill(0);
  state.terms.clear();
}

function describeError(error: unknown): string {
  if (error instanceof VaultError) return error.code;
  return error instanceof Error ? error.name : 'unknown error';
}
