import { z } from 'zod';

export const AuditListInput = z.object({
  limit: z.coerce.number<number>().int().min(1).max(100).default(50),
  before: z.string().regex(/^[1-9][0-9]{0,15}$/, 'must be a nextCursor from a previous page').optional(),
});

export const AuditEvent = z
  .object({
    id: z.string(),
    at: z.string().meta({ description: 'ISO 8601' }),
    actor: z.object({
      userId: z.string().nullable(),
      email: z.string().nullable(),
      tokenId: z.string().nullable().meta({ description: 'Set when the actor used an API token' }),
    }),
    action: z.string().meta({ description: 'deploy, app.restart, app.stop, app.delete, app.rollback, secret.set, secret.delete, webhook.rotate, webhook.delivery, token.create, token.revoke, member.invite, member.join, member.role, member.remove, …' }),
    target: z.object({ type: z.string().nullable(), id: z.string().nullable(), name: z.string().nullable() }),
    outcome: z.enum(['ok', 'denied', 'failed']),
    ip: z.string().nullable(),
    detail: z.string().nullable().meta({ description: 'A short reason: the error code of a refusal or failure' }),
  })
  .meta({ id: 'AuditEvent' });

export const AuditPage = z
  .object({ events: z.array(AuditEvent), nextCursor: z.string().nullable().meta({ description: 'Pass as `before` for the next page; null at the end' }) })
  .meta({ id: 'AuditPage' });

export type AuditEventDto = z.infer<typeof AuditEvent>;
export type AuditListInput = z.infer<typeof AuditListInput>;
