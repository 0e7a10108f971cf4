import { createTRPCClient, httpLink, type TRPCClient } from '@trpc/client';
import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import type { AppRouter } from '@cynchro/server';
import superjson from 'superjson';
import { CynchroError } from './cynchro-error.js';
import { refreshLink } from './refresh-link.js';
import { Session, type Credentials } from './session.js';
import { MemoryTokenStore, type Tokens, type TokenStore } from './token-store.js';

export type RouterInputs = inferRouterInputs<AppRouter>;
export type RouterOutputs = inferRouterOutputs<AppRouter>;

export interface ClientOptions {
  /** The API's base URL, e.g. http://localhost:3000 */
  url: string;
  /** Log in lazily with these on the first authenticated call, and again if the refresh token dies. */
  credentials?: Credentials;
  /** Start from tokens you already have. */
  tokens?: Tokens;
  /** Where tokens live; memory by default (nothing is persisted unless you give a store). */
  store?: TokenStore;
  fetch?: typeof fetch;
}

/** Runs a call and turns any failure into a CynchroError. */
export async function call<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw CynchroError.from(e);
  }
}

export class CynchroClient {
  /** The raw typed tRPC proxy: every procedure of the API. Errors are TRPCClientError; prefer the typed areas. */
  readonly trpc: TRPCClient<AppRouter>;
  readonly session: Session;

  constructor(readonly options: ClientOptions) {
    const base = options.url.replace(/\/+$/, '');
    const store = options.store ?? new MemoryTokenStore(options.tokens ?? null);
    if (options.tokens && options.store) void store.save(options.tokens);
    this.session = new Session(store, options.credentials ?? null);
    const fetchImpl = options.fetch;
    this.session.raw = createTRPCClient<AppRouter>({
      links: [httpLink({ url: `${base}/trpc`, transformer: superjson, ...(fetchImpl ? { fetch: fetchImpl } : {}) })],
    });
    this.trpc = createTRPCClient<AppRouter>({
      links: [
        refreshLink(this.session),
        httpLink({
          url: `${base}/trpc`,
          transformer: superjson,
          ...(fetchImpl ? { fetch: fetchImpl } : {}),
          headers: async ({ op }) => {
            if (op.path === 'auth.login' || op.path === 'auth.register' || op.path === 'auth.refresh') return {};
            const token = await this.session.accessToken();
            return token ? { authorization: `Bearer ${token}` } : {};
          },
        }),
      ],
    });
  }

  readonly auth = {
    register: async (input: RouterInputs['auth']['register']): Promise<RouterOutputs['auth']['register']> => {
      const r = await call(() => this.trpc.auth.register.mutate(input));
      await this.session.set({ accessToken: r.accessToken, refreshToken: r.refreshToken });
      return r;
    },
    login: async (input: RouterInputs['auth']['login']): Promise<RouterOutputs['auth']['login']> => {
      const r = await call(() => this.trpc.auth.login.mutate(input));
      await this.session.set({ accessToken: r.accessToken, refreshToken: r.refreshToken });
      return r;
    },
    me: (): Promise<RouterOutputs['auth']['me']> => call(() => this.trpc.auth.me.query()),
    /** Rotates tokens now (the client also does this by itself when the access token expires). */
    refresh: async (): Promise<Tokens> => this.session.refresh(),
    logout: async (): Promise<void> => {
      await call(() => this.trpc.auth.logout.mutate());
      this.session.forgetCredentials();
      await this.session.set(null);
    },
    changePassword: async (input: RouterInputs['auth']['changePassword']): Promise<void> => {
      await call(() => this.trpc.auth.changePassword.mutate(input));
    },
    tokens: (): Promise<Tokens | null> => this.session.tokens(),
  };
}

export function createClient(options: ClientOptions): CynchroClient {
  return new CynchroClient(options);
}
