import { VaultError } from './vault-error.js';

/**
 * Where the wrapped keyring lives. The wrapped string is the only state the vault persists; it is ciphertext under
 * the master key, so the storage never sees key material.
 */
export interface KeyringStorage {
  load(): Promise<string | null>;
  /**
   * Compare-and-swap: store `wrapped` only if the current value is exactly `expectedPrevious` (null = nothing
   * stored yet). Must reject otherwise, preferably with `VaultError('conflict')`, so two writers (two unseals on a
   * fresh store, a rotation racing another process) can never silently overwrite each other's keyring.
   */
  save(wrapped: string, expectedPrevious: string | null): Promise<void>;
}

/** In-process storage for tests and ephemeral setups. */
export class MemoryKeyringStorage implements KeyringStorage {
  #value: string | null;

  constructor(initial: string | null = null) {
    this.#value = initial;
  }

  async load(): Promise<string | null> {
    return this.#value;
  }

  async save(wrapped: string, expectedPrevious: string | null): Promise<void> {
    // Check and write happen in one synchronous step, which is what makes this atomic in a single JS thread.
    if (this.#value !== expectedPrevious) throw new VaultError('conflict');
    this.#value = wrapped;
  }
}
