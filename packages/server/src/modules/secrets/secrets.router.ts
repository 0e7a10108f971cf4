import { z } from 'zod';
import { procedure, router } from '../../trpc/trpc.js';
import { Ok } from '../auth/auth.schema.js';
import { PutSecretInput, Secret, SecretList, SecretRefInput } from './secrets.schema.js';

const tags = ['Secrets'];

export const secretsRouter = router({
  put: procedure
    .meta({ openapi: { method: 'POST', path: '/secrets', tags, summary: 'Create or replace a secret (org-wide, or scoped to one app with appId)' }, errors: ['validation', 'app_not_found', 'sealed', 'unavailable', 'missing_bearer_token', 'invalid_or_expired_token', 'forbidden'], permission: 'secrets', app: 'appId', audit: { action: 'secret.set', target: 'secret' } })
    .input(PutSecretInput)
    .output(Secret)
    .mutation(({ ctx, input }) => ctx.services.secrets.put(ctx.auth, input)),

  list: procedure
    .meta({ openapi: { method: 'GET', path: '/secrets', tags, summary: "List your org's secrets: names, key names and scope, never values" }, errors: ['missing_bearer_token', 'invalid_or_expired_token', 'forbidden'], permission: 'read' })
    .input(z.void())
    .output(SecretList)
    .query(({ ctx }) => ctx.services.secrets.list(ctx.auth)),

  get: procedure
    .meta({ openapi: { method: 'GET', path: '/secrets/{name}', tags, summary: 'Metadata and key names of a secret (appId selects an app-scoped one)' }, errors: ['validation', 'unknown_secret', 'missing_bearer_token', 'invalid_or_expired_token', 'forbidden'], permission: 'read', app: 'appId' })
    .input(SecretRefInput)
    .output(Secret)
    .query(({ ctx, input }) => ctx.services.secrets.get(ctx.auth, input.name, input.appId)),

  delete: procedure
    .meta({ openapi: { method: 'DELETE', path: '/secrets/{name}', tags, summary: 'Delete a secret (omit appId for the org-wide one)' }, errors: ['validation', 'unknown_secret', 'missing_bearer_token', 'invalid_or_expired_token', 'forbidden'], permission: 'secrets', app: 'appId', audit: { action: 'secret.delete', target: 'secret' } })
    .input(SecretRefInput)
    .output(Ok)
    .mutation(async ({ ctx, input }) => {
      await ctx.services.secrets.delete(ctx.auth, input.name, input.appId);
      return { ok: true as const };
    }),
});
