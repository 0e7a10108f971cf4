import { randomBytes } from 'node:crypto';
import { sha256 } from '@oslojs/crypto/sha2';
import { encodeBase64urlNoPadding, encodeHexLowerCase } from '@oslojs/encoding';
import { AppError } from '../../errors/app-error.js';
import type { Deps } from '../../deps.js';
import { audit } from '../../lib/audit.js';
import { newId } from '../../lib/ids.js';
import { ACCESS_TOKEN_TTL_SECONDS } from './access-token.js';
import { AuthCache } from './auth-cache.js';
import { AuthRepo } from './auth.repo.js';
import type { AuthTokens, LoginInput, RegisterInput, UserDto } from './auth.schema.js';
import { LoginBackoff } from './login-backoff.js';
import { Operators } from './operators.js';
import type { Scope } from './permissions.js';
import type { OrgsService } from '../orgs/orgs.service.js';
import type { Role } from '../orgs/roles.js';
import { isApiToken, type TokensService } from '../tokens/tokens.service.js';

/** A session's absolute lifetime, from login: refreshing never extends it. Refresh tokens live as long as it. */
export const SESSION_LIFETIME_MS = 30 * 24 * 3600 * 1000;
export const REFRESH_TOKEN_TTL_MS = SESSION_LIFETIME_MS;

/** When a session ends for good: its recorded expiry, and never later than its lifetime after login. */
export function sessionEnd(s: { created_at: string; expires_at: string }): string {
  const absolute = new Date(Date.parse(s.created_at) + SESSION_LIFETIME_MS).toISOString();
  return s.expires_at < absolute ? s.expires_at : absolute;
}

/** Which live sessions an event ends: one session, a user's (maybe but one), or a user's in one org. */
export interface SessionsFilter {
  userId?: string;
  sessionId?: string;
  tokenId?: string;
  /** Only sign-in sessions (a logout or a password change leaves API tokens alone). */
  sessionsOnly?: boolean;
  orgId?: string;
  exceptSessionId?: string;
}

interface SessionWatcher {
  userId: string;
  orgId: string;
  sessionId: string | null;
  tokenId: string | null;
  onEnd: (reason: string) => void;
  timer?: NodeJS.Timeout;
}

/**
 * Who is calling: established on every authenticated request from a live session or an API token. Either acts in
 * one org with a role there (a token: its creator's, narrowed by its scopes and maybe one app).
 */
export interface AuthContext {
  userId: string;
  orgId: string;
  email: string;
  role: Role;
  /** The session (sign-in) the access token belongs to; null for API tokens. */
  sessionId: string | null;
  /** The API token used; null for sessions. */
  tokenId: string | null;
  /** An API token's scopes; null for sessions (the role alone decides). */
  scopes: readonly Scope[] | null;
  /** The one app an API token reaches; null for the whole org. */
  appId: string | null;
  /** When the credential ends at the latest (ISO 8601); set by authenticate(). */
  sessionEndsAt?: string;
}

/** A signed-in person (not an API token): what /auth, /tokens, /orgs and /invitations need. */
export type SessionAuth = AuthContext & { sessionId: string; tokenId: null };

function hashRefreshToken(token: string): string {
  return encodeHexLowerCase(sha256(new TextEncoder().encode(token)));
}

function toUserDto(u: { id: string; email: string; name: string | null; created_at: string }): UserDto {
  return { id: u.id, email: u.email, name: u.name, createdAt: u.created_at };
}

export class AuthService {
  private readonly repo: AuthRepo;
  private readonly cache = new AuthCache();
  /** ADMIN_EMAILS, the operator token and claims. */
  readonly operators: Operators;
  /** Per-email back-off of failed logins. */
  readonly loginBackoff = new LoginBackoff();
  readonly #watchers = new Set<SessionWatcher>();

  private readonly orgs: OrgsService;
  private readonly apiTokens: TokensService;

  constructor(private readonly deps: Pick<Deps, 'db' | 'clock' | 'tokens' | 'passwords' | 'config' | 'log' | 'events'>, s: { orgs: OrgsService; tokens: TokensService }) {
    this.repo = new AuthRepo(deps.db);
    this.operators = new Operators(deps);
    this.orgs = s.orgs;
    this.apiTokens = s.tokens;
    // A member removed from an org: their sessions acting in it end now (the role check already refuses them).
    deps.events.on('membership', ({ orgId, userId, role }) => {
      this.cache.evictUser(userId);
      if (role !== null) return;
      this.sessionsEnded({ userId, orgId }, 'member_removed');
      this.repo.revokeUserOrgSessions(userId, orgId, deps.clock.now().toISOString(), 'member_removed').catch((err) => deps.log.error({ err, userId, orgId }, 'revoking sessions failed'));
    });
    deps.events.on('token-revoked', ({ tokenId }) => this.sessionsEnded({ tokenId }, 'token_revoked'));
  }

  async register(input: RegisterInput): Promise<AuthTokens> {
    // A closed server still lets an invited person in: the invitation names their address.
    const invitation = input.invitation ? await this.orgs.pendingInvitation(input.invitation) : undefined;
    if (invitation && invitation.email !== input.email) throw new AppError('forbidden', 'This invitation is for another email address');
    if (!this.deps.config.allowRegistration && !invitation) throw new AppError('forbidden', 'Registration is closed on this server (an invitation opens it)');
    if (await this.repo.findUserByEmail(input.email)) {
      throw new AppError('email_taken', 'An account with this email already exists');
    }
    const now = this.deps.clock.now().toISOString();
    const user = { id: newId('usr'), email: input.email, name: input.name ?? null, password_hash: await this.deps.passwords.hash(input.password), created_at: now };
    const orgId = newId('org');
    try {
      await this.repo.createUserWithOrg(user, { id: orgId, name: `${input.name ?? input.email.split('@')[0]}'s org` });
    } catch (e) {
      // Two registrations racing on one email: the unique index decides.
      if (String(e).includes('UNIQUE')) throw new AppError('email_taken', 'An account with this email already exists');
      throw e;
    }
    if (input.invitation) await this.orgs.accept({ userId: user.id, email: user.email }, input.invitation);
    return this.issue(user, orgId);
  }

  /** A new session acting in another org the user belongs to (404 `org_not_found` otherwise), answered like a login. */
  async switchOrg(auth: AuthContext, orgId: string): Promise<AuthTokens> {
    await this.orgs.requireRole(auth.userId, orgId);
    const user = await this.repo.findUserById(auth.userId);
    if (!user) throw new AppError('invalid_or_expired_token');
    return this.issue(user, orgId);
  }

  async login(input: LoginInput): Promise<AuthTokens> {
    // Before any lookup, and the same for unknown addresses: the answer never tells who has an account.
    const wait = this.loginBackoff.attempt(input.email, this.deps.clock.now().getTime());
    if (wait > 0) throw new AppError('rate_limited', 'Too many failed logins for this email; retry later', { retryAfter: wait });
    const user = await this.repo.findUserByEmail(input.email);
    if (!user) {
      await this.deps.passwords.verifyDummy(input.password);
      throw new AppError('invalid_credentials');
    }
    if (!(await this.deps.passwords.verify(user.password_hash, input.password))) {
      throw new AppError('invalid_credentials');
    }
    const orgId = await this.repo.primaryOrgId(user.id);
    if (!orgId) throw new AppError('invalid_credentials');
    this.loginBackoff.succeeded(input.email);
    return this.issue(user, orgId);
  }

  async refresh(refreshToken: string): Promise<AuthTokens> {
    const now = this.deps.clock.now();
    const row = await this.repo.findRefreshToken(hashRefreshToken(refreshToken));
    if (!row || row.revoked_at !== null) throw new AppError('invalid_or_expired_token', 'The refresh token is invalid or expired');
    if (row.used_at !== null || !(await this.repo.markRefreshTokenUsed(row.id, now.toISOString()))) {
      // A rotated token presented again means it leaked (or a client raced itself): end the whole family.
      await this.repo.revokeSession(row.session_id, now.toISOString(), 'refresh_token_reuse');
      this.cache.evictSession(row.session_id);
      this.sessionsEnded({ sessionId: row.session_id }, 'refresh_token_reuse');
      await audit(this.deps.db, now, { userId: row.user_id, orgId: row.org_id, action: 'auth.refresh_reuse', outcome: 'denied' });
      throw new AppError('invalid_or_expired_token', 'The refresh token was already used; the session is revoked');
    }
    const end = sessionEnd({ created_at: row.session_created_at, expires_at: row.session_expires_at });
    if (row.expires_at <= now.toISOString() || end <= now.toISOString()) throw new AppError('invalid_or_expired_token', 'The refresh token is invalid or expired');
    const user = await this.repo.findUserById(row.user_id);
    if (!user) throw new AppError('invalid_or_expired_token');
    // Removed from the org the session acts in: the session is over (sign in again, in an org you are in).
    if (!(await this.orgs.roleOf(row.user_id, row.org_id))) throw new AppError('invalid_or_expired_token', 'You are no longer a member of the org this session acts in; sign in again');
    const refresh = await this.newRefreshToken(row.session_id, now, end);
    return this.tokens(user, row.org_id, row.session_id, refresh, now);
  }

  async logout(auth: SessionAuth): Promise<void> {
    await this.repo.revokeUserSessions(auth.userId, this.deps.clock.now().toISOString(), 'logout');
    this.cache.evictUser(auth.userId);
    this.sessionsEnded({ userId: auth.userId, sessionsOnly: true }, 'logout');
  }

  async me(auth: SessionAuth): Promise<{ user: UserDto; orgId: string; role: Role }> {
    // The session check of this very request just loaded the user (users change only through this service).
    const s = this.cache.session(auth.sessionId, this.deps.clock.now().getTime());
    if (s) return { user: { id: s.userId, email: s.email, name: s.name, createdAt: s.userCreatedAt }, orgId: auth.orgId, role: auth.role };
    const user = await this.repo.findUserById(auth.userId);
    if (!user) throw new AppError('invalid_or_expired_token');
    return { user: toUserDto(user), orgId: auth.orgId, role: auth.role };
  }

  async changePassword(auth: SessionAuth, currentPassword: string, newPassword: string): Promise<void> {
    const user = await this.repo.findUserById(auth.userId);
    if (!user || !(await this.deps.passwords.verify(user.password_hash, currentPassword))) {
      throw new AppError('invalid_credentials', 'The current password is wrong');
    }
    await this.repo.updatePasswordHash(user.id, await this.deps.passwords.hash(newPassword));
    const now = this.deps.clock.now();
    await this.repo.revokeUserSessions(user.id, now.toISOString(), 'password_changed', auth.sessionId);
    this.cache.evictUser(user.id, auth.sessionId);
    this.sessionsEnded({ userId: user.id, exceptSessionId: auth.sessionId, sessionsOnly: true }, 'password_changed');
    await audit(this.deps.db, now, { userId: user.id, orgId: auth.orgId, action: 'auth.change_password', outcome: 'ok' });
  }

  /**
   * Checks an access token and its session. Shared by tRPC, REST and the WebSocket `?token=` form, so all three
   * answer missing_bearer_token / invalid_or_expired_token alike.
   */
  async authenticate(token: string | undefined | null): Promise<AuthContext> {
    if (!token) throw new AppError('missing_bearer_token');
    if (isApiToken(token)) return this.apiTokens.authenticate(token);
    const now = this.deps.clock.now();
    const nowMs = now.getTime();
    let claims = this.cache.claims(token, nowMs);
    if (!claims) {
      const verified = this.deps.tokens.verify(token, nowMs);
      if (!verified) throw new AppError('invalid_or_expired_token');
      this.cache.rememberClaims(token, (claims = verified));
    }
    let s = this.cache.session(claims.sessionId, nowMs);
    if (!s) {
      const row = await this.repo.findLiveSession(claims.sessionId);
      if (!row || row.revoked_at !== null) throw new AppError('invalid_or_expired_token');
      s = { userId: row.user_id, orgId: row.org_id, email: row.email, name: row.name, userCreatedAt: row.user_created_at, expiresAt: sessionEnd(row), cachedAt: nowMs };
      this.cache.rememberSession(claims.sessionId, s);
    }
    if (s.expiresAt <= now.toISOString() || s.userId !== claims.userId) throw new AppError('invalid_or_expired_token');
    const role = await this.orgs.roleOf(s.userId, s.orgId);
    if (!role) throw new AppError('invalid_or_expired_token', 'You are no longer a member of the org this session acts in; sign in again');
    return { userId: s.userId, orgId: s.orgId, email: s.email, role, sessionId: claims.sessionId, tokenId: null, scopes: null, appId: null, sessionEndsAt: s.expiresAt };
  }

  /**
   * Calls `onEnd` once, at once, when this session is revoked in this process (logout, change-password, refresh
   * token reuse, or whoever calls `sessionsEnded`, such as a member's removal). Answers the unsubscribe function.
   * Live log streams use it to close with 4401.
   */
  watchSession(auth: Pick<AuthContext, 'userId' | 'orgId' | 'sessionId' | 'tokenId' | 'sessionEndsAt'>, onEnd: (reason: string) => void): () => void {
    const w: SessionWatcher = { userId: auth.userId, orgId: auth.orgId, sessionId: auth.sessionId, tokenId: auth.tokenId, onEnd };
    this.#watchers.add(w);
    if (auth.sessionEndsAt) {
      // The session's own end (its absolute lifetime) ends the watch too.
      const ms = Math.max(0, Date.parse(auth.sessionEndsAt) - this.deps.clock.now().getTime());
      w.timer = setTimeout(() => this.#end(w, 'session_expired'), Math.min(ms, 2 ** 31 - 1));
      w.timer.unref();
    }
    return () => {
      clearTimeout(w.timer);
      this.#watchers.delete(w);
    };
  }

  /** Tells the watchers of the sessions `filter` matches that they ended (the caller already revoked them). */
  sessionsEnded(filter: SessionsFilter, reason: string): void {
    for (const w of [...this.#watchers]) {
      if (filter.sessionId !== undefined && w.sessionId !== filter.sessionId) continue;
      if (filter.tokenId !== undefined && w.tokenId !== filter.tokenId) continue;
      if (filter.sessionsOnly && w.sessionId === null) continue;
      if (filter.userId !== undefined && w.userId !== filter.userId) continue;
      if (filter.orgId !== undefined && w.orgId !== filter.orgId) continue;
      if (filter.exceptSessionId !== undefined && w.sessionId === filter.exceptSessionId) continue;
      this.#end(w, reason);
    }
  }

  #end(w: SessionWatcher, reason: string): void {
    if (!this.#watchers.delete(w)) return;
    clearTimeout(w.timer);
    try {
      w.onEnd(reason);
    } catch (err) {
      this.deps.log.warn({ err }, 'a session watcher failed');
    }
  }

  private async issue(user: { id: string; email: string; name: string | null; created_at: string }, orgId: string): Promise<AuthTokens> {
    const now = this.deps.clock.now();
    const sessionId = newId('ses');
    const end = new Date(now.getTime() + SESSION_LIFETIME_MS).toISOString();
    await this.repo.createSession({ id: sessionId, user_id: user.id, org_id: orgId, created_at: now.toISOString(), expires_at: end });
    const refresh = await this.newRefreshToken(sessionId, now, end);
    return this.tokens(user, orgId, sessionId, refresh, now);
  }

  /** A refresh token never outlives its session: it expires when the session does (30 days after login). */
  private async newRefreshToken(sessionId: string, now: Date, sessionEndsAt: string): Promise<string> {
    const token = encodeBase64urlNoPadding(randomBytes(32));
    await this.repo.insertRefreshToken({ id: newId('rt'), session_id: sessionId, token_hash: hashRefreshToken(token), created_at: now.toISOString(), expires_at: sessionEndsAt });
    return token;
  }

  private tokens(user: { id: string; email: string; name: string | null; created_at: string }, orgId: string, sessionId: string, refreshToken: string, now: Date): AuthTokens {
    return {
      user: toUserDto(user),
      accessToken: this.deps.tokens.sign({ userId: user.id, orgId, sessionId }, now.getTime()),
      refreshToken,
      orgId,
      expiresIn: ACCESS_TOKEN_TTL_SECONDS,
    };
  }
}

/** Revoked sessions are kept this long after revocation (for whoever looks into an incident), then deleted. */
export const REVOKED_SESSION_RETENTION_MS = 7 * 24 * 3600 * 1000;

/** Housekeeping (the maintenance round): expired sessions and refresh tokens, and old revoked sessions, go. */
export function pruneExpiredSessions(db: Deps['db'], now: Date): Promise<{ sessions: number; refreshTokens: number }> {
  return new AuthRepo(db).pruneExpired(now.toISOString(), SESSION_LIFETIME_MS, new Date(now.getTime() - REVOKED_SESSION_RETENTION_MS).toISOString());
}
