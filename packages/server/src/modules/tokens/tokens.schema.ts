import { z } from 'zod';
import { SCOPES } from '../auth/permissions.js';

export const ScopeEnum = z.enum(SCOPES).meta({
  id: 'TokenScope',
  description: 'read: every GET and log stream; deploy: POST /deploy, restart, stop, cancel, rollback; secrets: create/delete secrets; manage: delete apps, rotate webhooks',
});

export const CreateTokenInput = z.object({
  name: z.string().trim().min(1, 'must not be empty').max(100),
  scopes: z
    .array(ScopeEnum)
    .min(1, 'name at least one scope')
    .max(SCOPES.length)
    .transform((s) => [...new Set(s)]),
  appId: z.string().min(1).max(64).optional(),
  expiresInDays: z.number().int().min(1).max(365).default(90),
});

export const ApiToken = z
  .object({
    id: z.string(),
    name: z.string(),
    scopes: z.array(ScopeEnum),
    appId: z.string().nullable().meta({ description: 'The one app the token reaches, or null for the whole org' }),
    orgId: z.string(),
    userId: z.string().meta({ description: 'Its creator: the token acts with this member’s role, narrowed by its scopes' }),
    expiresAt: z.string().meta({ description: 'ISO 8601' }),
    createdAt: z.string(),
    lastUsedAt: z.string().nullable(),
  })
  .meta({ id: 'ApiToken' });

export const CreateTokenResult = z
  .object({ token: ApiToken, secret: z.string().meta({ description: '`cyn_…`: shown once, never stored (only its hash is)' }) })
  .meta({ id: 'CreateTokenResult' });
export const TokenList = z.object({ tokens: z.array(ApiToken) }).meta({ id: 'TokenList' });
export const TokenIdInput = z.object({ id: z.string().min(1).max(64) });

export type CreateTokenInput = z.infer<typeof CreateTokenInput>;
export type ApiTokenDto = z.infer<typeof ApiToken>;
