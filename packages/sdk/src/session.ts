// Keeps the client's tokens: lazy login from credentials, single-flight refresh, persistence through a TokenStore.
import type { TRPCClient } from '@trpc/client';
import type { AppRouter } from '@cynchro/server';
import { CynchroError } from './cynchro-error.js';
import { MemoryTokenStore, type Tokens, type TokenStore } from './token-store.js';

export interface Credentials {
  email: string;
  password: string;
}

export class Session {
  #refreshing: Promise<Tokens> | null = null;
  /** Set after construction: the un-authenticated transport used for login and refresh. */
  raw!: TRPCClient<AppRouter>;

  constructor(
    readonly store: TokenStore = new MemoryTokenStore(),
    private credentials: Credentials | null = null,
  ) {}

  async tokens(): Promise<Tokens | null> {
    return (await this.store.load()) ?? null;
  }

  /** The access token to send, logging in first when only credentials were given. */
  async accessToken(): Promise<string | null> {
    const t = await this.tokens();
    if (t) return t.accessToken;
    if (this.credentials) return (await this.loginWith(this.credentials)).accessToken;
    return null;
  }

  async set(tokens: Tokens | null): Promise<void> {
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

  /** Refreshes once for any number of concurrent callers; falls back to the credentials if the refresh is refused. */
  refresh(): Promise<Tokens> {
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
