import { authedProcedure, publicProcedure, router } from '../../trpc/trpc.js';
import { AuthTokens, ChangePasswordInput, LoginInput, Me, Ok, RefreshInput, RegisterInput } from './auth.schema.js';
import { z } from 'zod';

const tags = ['Auth'];

export const authRouter = router({
  register: publicProcedure
    .meta({ openapi: { method: 'POST', path: '/auth/register', tags, protect: false, summary: 'Create a user and a personal org; returns tokens (403 forbidden when ALLOW_REGISTRATION=false)' }, errors: ['validation', 'email_taken', 'forbidden', 'rate_limited'], rateLimit: 'auth' })
    .input(RegisterInput)
    .output(AuthTokens)
    .mutation(({ ctx, input }) => ctx.services.auth.register(input)),

  login: publicProcedure
    .meta({ openapi: { method: 'POST', path: '/auth/login', tags, protect: false, summary: 'Log in (repeated failures for one email answer 429 rate_limited for a growing while)' }, errors: ['validation', 'invalid_credentials', 'rate_limited'], rateLimit: 'auth' })
    .input(LoginInput)
    .output(AuthTokens)
    .mutation(({ ctx, input }) => ctx.services.auth.login(input)),

  refresh: publicProcedure
    .meta({ openapi: { method: 'POST', path: '/auth/refresh', tags, protect: false, summary: 'Rotate tokens (the old refresh token is revoked)' }, errors: ['validation', 'invalid_or_expired_token', 'rate_limited'], rateLimit: 'auth' })
    .input(RefreshInput)
    .output(AuthTokens)
    .mutation(({ ctx, input }) => ctx.services.auth.refresh(input.refreshToken)),

  logout: authedProcedure
    .meta({ openapi: { method: 'POST', path: '/auth/logout', tags, summary: 'Revoke all of your refresh tokens and sessions (and close their log streams)' }, errors: ['missing_bearer_token', 'invalid_or_expired_token', 'rate_limited'], rateLimit: 'auth' })
    .input(z.void())
    .output(Ok)
    .mutation(async ({ ctx }) => {
      await ctx.services.auth.logout(ctx.auth);
      return { ok: true as const };
    }),

  me: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/auth/me', tags, summary: 'The current user and org' }, errors: ['missing_bearer_token', 'invalid_or_expired_token', 'rate_limited'], rateLimit: 'auth' })
    .input(z.void())
    .output(Me)
    .query(({ ctx }) => ctx.services.auth.me(ctx.auth)),

  changePassword: authedProcedure
    .meta({ openapi: { method: 'POST', path: '/auth/change-password', tags, summary: 'Change password; revokes other sessions, keeps this one' }, errors: ['validation', 'invalid_credentials', 'missing_bearer_token', 'invalid_or_expired_token', 'rate_limited'], rateLimit: 'auth' })
    .input(ChangePasswordInput)
    .output(Ok)
    .mutation(async ({ ctx, input }) => {
      await ctx.services.auth.changePassword(ctx.auth, input.currentPassword, input.newPassword);
      return { ok: true as const };
    }),
});
