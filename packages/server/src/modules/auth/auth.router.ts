import { procedure, router } from '../../trpc/trpc.js';
import { AuthTokens, ChangePasswordInput, LoginInput, Me, Ok, RefreshInput, RegisterInput, SwitchOrgInput } from './auth.schema.js';
import type { SessionAuth } from './auth.service.js';
import { z } from 'zod';

const tags = ['Auth'];

export const authRouter = router({
  register: procedure
    .meta({ openapi: { method: 'POST', path: '/auth/register', tags, protect: false, summary: 'Create a user and a personal org; returns tokens (403 forbidden when ALLOW_REGISTRATION=false)' }, errors: ['validation', 'email_taken', 'forbidden', 'invitation_not_found', 'rate_limited'], rateLimit: 'auth', permission: 'public', audit: false })
    .input(RegisterInput)
    .output(AuthTokens)
    .mutation(({ ctx, input }) => ctx.services.auth.register(input)),

  login: procedure
    .meta({ openapi: { method: 'POST', path: '/auth/login', tags, protect: false, summary: 'Log in (repeated failures for one email answer 429 rate_limited for a growing while)' }, errors: ['validation', 'invalid_credentials', 'rate_limited'], rateLimit: 'auth', permission: 'public', audit: false })
    .input(LoginInput)
    .output(AuthTokens)
    .mutation(({ ctx, input }) => ctx.services.auth.login(input)),

  refresh: procedure
    .meta({ openapi: { method: 'POST', path: '/auth/refresh', tags, protect: false, summary: 'Rotate tokens (the old refresh token is revoked)' }, errors: ['validation', 'invalid_or_expired_token', 'rate_limited'], rateLimit: 'auth', permission: 'public', audit: false })
    .input(RefreshInput)
    .output(AuthTokens)
    .mutation(({ ctx, input }) => ctx.services.auth.refresh(input.refreshToken)),

  logout: procedure
    .meta({ openapi: { method: 'POST', path: '/auth/logout', tags, summary: 'Revoke all of your refresh tokens and sessions (and close their log streams)' }, errors: ['missing_bearer_token', 'invalid_or_expired_token', 'forbidden', 'rate_limited'], rateLimit: 'auth', permission: 'account', audit: { action: 'auth.logout', target: 'account', log: 'admin' } })
    .input(z.void())
    .output(Ok)
    .mutation(async ({ ctx }) => {
      await ctx.services.auth.logout(ctx.auth as SessionAuth);
      return { ok: true as const };
    }),

  me: procedure
    .meta({ openapi: { method: 'GET', path: '/auth/me', tags, summary: 'The current user, the org this session acts in and your role there' }, errors: ['missing_bearer_token', 'invalid_or_expired_token', 'forbidden', 'rate_limited'], rateLimit: 'auth', permission: 'account' })
    .input(z.void())
    .output(Me)
    .query(({ ctx }) => ctx.services.auth.me(ctx.auth as SessionAuth)),

  changePassword: procedure
    .meta({ openapi: { method: 'POST', path: '/auth/change-password', tags, summary: 'Change password; revokes other sessions, keeps this one' }, errors: ['validation', 'invalid_credentials', 'missing_bearer_token', 'invalid_or_expired_token', 'forbidden', 'rate_limited'], rateLimit: 'auth', permission: 'account', audit: { action: 'auth.change_password', target: 'account', recordedBy: 'service' } })
    .input(ChangePasswordInput)
    .output(Ok)
    .mutation(async ({ ctx, input }) => {
      await ctx.services.auth.changePassword(ctx.auth as SessionAuth, input.currentPassword, input.newPassword);
      return { ok: true as const };
    }),

  switchOrg: procedure
    .meta({
      openapi: { method: 'POST', path: '/auth/switch-org', tags, summary: 'A new session acting in another org you belong to (answered like a login); not a member → 404 org_not_found' },
      errors: ['validation', 'org_not_found', 'missing_bearer_token', 'invalid_or_expired_token', 'forbidden', 'rate_limited'],
      rateLimit: 'auth',
      permission: 'account',
      audit: { action: 'auth.switch_org', target: 'org' },
    })
    .input(SwitchOrgInput)
    .output(AuthTokens)
    .mutation(({ ctx, input }) => ctx.services.auth.switchOrg(ctx.auth, input.orgId)),
});
