// Keeps the client's credentials. Two kinds: a user session (access + refresh tokens: lazy login from credentials,
// single-flight refresh, persistence through a TokenStore), or an API token (`cyn_…`), sent as is on every call and
// never refreshed: there is no refresh token, and a refused one is simply refused.
import type { TRPCClient } from '@trpc/client';
import type { ClientRouter as AppRouter } from '@cynchro/server';
import { CynchroError } from './cynchro-error.js';
import { MemoryTokenStore, type Tokens, type TokenStore } from './token-store.js';

export interface Credentials {
  email: string;
  password: string;
}

export class Session {
  #refreshing: Promise<Tokens> | null = null;
  /** An API token in force: the bearer of every call until a login or register puts a user session in its place. */
  #apiToken: string | null;
  /** Set after construction: the un-authenticated transport used for login and refresh. */
  raw!: TRPCClient<AppRouter>;

  constructor(
    readonly store: TokenStore = new MemoryTokenStore(),
    private credentials: Credentials | null = null,
    apiToken: string | null = null,
  ) {
    this.#apiToken = apiToken;
  }

  /** True while an API token is the bearer: no refresh, no login. */
  get usesApiToken(): boolean {
    return this.#apiToken !== null;
  }

  /** The user session's tokens (null with an API token, or when not logged in). */
  async tokens(): Promise<Tokens | null> {
    if (this.#apiToken !== null) return null;
    return (await this.store.load()) ?? null;
  }

  /** The bearer to send: the API token, else the access token (logging in first when only credentials were given). */
  async accessToken(): Promise<string | null> {
    if (this.#apiToken !== null) return this.#apiToken;
    const t = await this.tokens();
    if (t) return t.accessToken;
    if (this.credentials) return (await this.loginWith(this.credentials)).accessToken;
    return null;
  }

  /** Stores a user session's tokens; a login, register or org switch replaces an API token given earlier. */
  async set(tokens: Tokens | null): Promise<void> {
    if (tokens) this.#apiToken = null;
    await this.store.save(tokens);
  }

  async loginWith(c: Credentials): Promise<Tokens> {
    try {
      const r = await this.raw.auth.login.mutate(c);
      const t = { accessToken: r.accessToken, refreshToken: r.refreshToken };
      await this.set(t);
      return t;
    } catch (e) {
      throw CynchroError.from(e);
    }
  }

  /**
   * Refreshes once for any number of concurrent callers; falls back to the credentials if the refresh is refused.
   * An API token cannot be refreshed: this rejects with `invalid_or_expired_token` at once.
   */
  refresh(): Promise<Tokens> {
    if (this.#apiToken !== null) {
      return Promise.reject(new CynchroError('invalid_or_expired_token', 'The API token was refused (expired or revoked); API tokens are never refreshed', 401));
    }
    this.#refreshing ??= this.#doRefresh().finally(() => {
      this.#refreshing = null;
    });
    return this.#refreshing;
  }

  async #doRefresh(): Promise<Tokens> {
    const current = await this.tokens();
    if (current) {
      try {
        const r = await this.raw.auth.refresh.mutate({ refreshToken: current.refreshToken });
        const t = { accessToken: r.accessToken, refreshToken: r.refreshToken };
        await this.set(t);
        return t;
      } catch (e) {
        const err = CynchroError.from(e);
        if (err.code !== 'invalid_or_expired_token' || !this.credentials) {
          if (err.code === 'invalid_or_expired_token') await this.set(null);
          throw err;
        }
      }
    }
    if (this.credentials) return this.loginWith(this.credentials);
    throw new CynchroError('invalid_or_expired_token', 'Not logged in', 401);
  }

  forgetCredentials(): void {
    this.credentials = null;
  }
}
