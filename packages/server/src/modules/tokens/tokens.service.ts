import { randomBytes } from 'node:crypto';
import { sha256 } from '@oslojs/crypto/sha2';
import { encodeBase64urlNoPadding, encodeHexLowerCase } from '@oslojs/encoding';
import type { Deps } from '../../deps.js';
import { AppError } from '../../errors/app-error.js';
import { newId } from '../../lib/ids.js';
import type { AuthContext } from '../auth/auth.service.js';
import { scopesAllowed, SCOPES, type Scope } from '../auth/permissions.js';
import type { OrgsService } from '../orgs/orgs.service.js';
import { TokensRepo } from './tokens.repo.js';
import type { ApiTokenDto, CreateTokenInput } from './tokens.schema.js';
import type { ApiTokensTable } from './tokens.tables.js';

export const TOKEN_PREFIX = 'cyn_';
/** How often lastUsedAt is written for a busy token (it is a hint for people, not an access log). */
const TOUCH_EVERY_MS = 1000;

export function hashApiToken(secret: string): string {
  return encodeHexLowerCase(sha256(new TextEncoder().encode(secret)));
}

export function isApiToken(bearer: string): boolean {
  return bearer.startsWith(TOKEN_PREFIX);
}

function toDto(t: ApiTokensTable): ApiTokenDto {
  return {
    id: t.id,
    name: t.name,
    scopes: parseScopes(t.scopes),
    appId: t.app_id,
    orgId: t.org_id,
    userId: t.user_id,
    expiresAt: t.expires_at,
    createdAt: t.created_at,
    lastUsedAt: t.last_used_at,
  };
}

function parseScopes(json: string): Scope[] {
  const v = JSON.parse(json) as unknown;
  return Array.isArray(v) ? v.filter((s): s is Scope => (SCOPES as readonly string[]).includes(s as string)) : [];
}

export interface TokensServiceDeps {
  deps: Pick<Deps, 'db' | 'clock' | 'events' | 'log'>;
  orgs: OrgsService;
  /** Whether an app belongs to an org (a token's app scope must). */
  appInOrg(orgId: string, appId: string): Promise<boolean>;
}

/**
 * The owner of API tokens: creates them (the secret is shown once; only its SHA-256 is kept), lists, revokes, and
 * turns a presented secret into who it acts as. A token acts with its creator's current role in its org, narrowed by
 * its scopes; it dies with its creator's membership.
 */
export class TokensService {
  readonly #repo: TokensRepo;
  readonly #touched = new Map<string, number>();

  constructor(private readonly s: TokensServiceDeps) {
    this.#repo = new TokensRepo(s.deps.db);
    s.deps.events.on('membership', ({ orgId, userId, role }) => {
      if (role !== null) return;
      this.#repo.revokeMember(orgId, userId, s.deps.clock.now().toISOString()).then(
        (ids) => ids.forEach((tokenId) => s.deps.events.emit('token-revoked', { tokenId })),
        (err) => s.deps.log.error({ err, orgId, userId }, "revoking a removed member's API tokens failed"),
      );
    });
  }

  async create(auth: AuthContext, input: CreateTokenInput): Promise<{ token: ApiTokenDto; secret: string }> {
    const allowed = scopesAllowed(auth.role);
    const beyond = input.scopes.filter((s) => !allowed.includes(s));
    if (beyond.length) throw new AppError('forbidden', `Your role (${auth.role}) cannot grant ${beyond.join(', ')}`);
    if (input.appId !== undefined && !(await this.s.appInOrg(auth.orgId, input.appId))) throw new AppError('app_not_found', 'No such app');
    const now = this.s.deps.clock.now();
    const secret = TOKEN_PREFIX + encodeBase64urlNoPadding(randomBytes(32));
    const row: ApiTokensTable = {
      id: newId('tok'),
      org_id: auth.orgId,
      user_id: auth.userId,
      name: input.name,
      scopes: JSON.stringify(input.scopes),
      app_id: input.appId ?? null,
      token_hash: hashApiToken(secret),
      created_at: now.toISOString(),
      expires_at: new Date(now.getTime() + input.expiresInDays * 86_400_000).toISOString(),
      last_used_at: null,
      revoked_at: null,
    };
    await this.#repo.insert(row);
    return { token: toDto(row), secret };
  }

  /** Your tokens in the org you act in; owners and admins see everyone's. */
  async list(auth: AuthContext): Promise<{ tokens: ApiTokenDto[] }> {
    const all = auth.role === 'owner' || auth.role === 'admin';
    return { tokens: (await this.#repo.list(auth.orgId, all ? undefined : auth.userId)).map(toDto) };
  }

  /** A live token of the org you act in (for the audit trail's target name), or null. */
  async find(orgId: string, id: string): Promise<ApiTokenDto | null> {
    const t = await this.#repo.byId(orgId, id);
    return t ? toDto(t) : null;
  }

  async revoke(auth: AuthContext, id: string): Promise<void> {
    const t = await this.#repo.byId(auth.orgId, id);
    if (!t) throw new AppError('token_not_found', 'No such token');
    if (t.user_id !== auth.userId && auth.role !== 'owner' && auth.role !== 'admin') {
      throw new AppError('forbidden', "Only owners and admins revoke other members' tokens");
    }
    if (await this.#repo.revoke(t.id, this.s.deps.clock.now().toISOString())) this.s.deps.events.emit('token-revoked', { tokenId: t.id });
  }

  /** Who a `cyn_…` secret acts as; 401 `invalid_or_expired_token` when unknown, revoked, expired or orphaned. */
  async authenticate(secret: string): Promise<AuthContext> {
    const now = this.s.deps.clock.now();
    const t = secret.length <= 200 ? await this.#repo.byHash(hashApiToken(secret)) : undefined;
    if (!t || t.revoked_at !== null || t.expires_at <= now.toISOString()) throw new AppError('invalid_or_expired_token', 'The API token is invalid, revoked or expired');
    const role = await this.s.orgs.roleOf(t.user_id, t.org_id);
    if (!role) throw new AppError('invalid_or_expired_token', "The API token's creator is no longer a member of its org");
    const last = this.#touched.get(t.id) ?? 0;
    if (now.getTime() - last >= TOUCH_EVERY_MS) {
      this.#touched.set(t.id, now.getTime());
      if (this.#touched.size > 10_000) this.#touched.delete(this.#touched.keys().next().value!);
      await this.#repo.touch(t.id, now.toISOString());
    }
    return {
      userId: t.user_id,
      email: t.email,
      orgId: t.org_id,
      role,
      sessionId: null,
      tokenId: t.id,
      scopes: parseScopes(t.scopes),
      appId: t.app_id,
      sessionEndsAt: t.expires_at,
    };
  }

  prune(before: Date): Promise<number> {
    return this.#repo.prune(before.toISOString());
  }
}
