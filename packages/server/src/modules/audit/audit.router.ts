import { procedure, router } from '../../trpc/trpc.js';
import { AuditListInput, AuditPage } from './audit.schema.js';

export const auditRouter = router({
  list: procedure
    .meta({
      openapi: { method: 'GET', path: '/audit', tags: ['Audit'], summary: "The org's audit trail, newest first (owners and admins): who did what to which target, with the outcome and client IP" },
      errors: ['validation', 'missing_bearer_token', 'invalid_or_expired_token', 'forbidden'],
      permission: 'audit',
    })
    .input(AuditListInput)
    .output(AuditPage)
    .query(({ ctx, input }) => ctx.services.audit.list('org', ctx.auth.orgId, input.limit, input.before)),
});
