export interface Tokens {
  accessToken: string;
  refreshToken: string;
}

/** Where a client keeps its tokens. The default keeps them in memory only; nothing is persisted unless given a store. */
export interface TokenStore {
  load(): Tokens | null | Promise<Tokens | null>;
  save(tokens: Tokens | null): void | Promise<void>;
}

export class MemoryTokenStore implements TokenStore {
  #tokens: Tokens | null;
  constructor(initial: Tokens | null = null) {
    this.#tokens = initial;
  }
  load(): Tokens | null {
    return this.#tokens;
  }
  save(tokens: Tokens | null): void {
    this.#tokens = tokens;
  }
}
