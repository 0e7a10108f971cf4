import { z } from 'zod';
import { procedure, router } from '../../trpc/trpc.js';
import { AuditListInput, AuditPage } from '../audit/audit.schema.js';
import { ClaimInput, ClaimResult, DataKeyStatus, NodesList, ReencryptResult, SealStatus, UnsealInput, UnsealResult } from './admin.schema.js';

const tags = ['Admin'];

export const adminRouter = router({
  claim: procedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/admin/claim',
        tags,
        summary: 'Become an operator: an ADMIN_EMAILS account presents the operator token from DATA_DIR/operator-token; until then every other /admin route answers 403',
      },
      errors: ['validation', 'missing_bearer_token', 'invalid_or_expired_token', 'forbidden', 'rate_limited'],
      rateLimit: 'auth',
      permission: 'account',
      audit: { action: 'operator.claim', target: 'account', log: 'admin', recordedBy: 'service' },
    })
    .input(ClaimInput)
    .output(ClaimResult)
    .mutation(({ ctx, input }) => ctx.services.auth.operators.claim(ctx.auth, input.token)),

  sealStatus: procedure
    .meta({ openapi: { method: 'GET', path: '/admin/seal-status', tags, summary: 'Whether the vault is sealed (operators only)' }, errors: ['missing_bearer_token', 'invalid_or_expired_token', 'forbidden'], permission: 'operator', audit: false })
    .input(z.void())
    .output(SealStatus)
    .query(({ ctx }) => ctx.services.vault.sealStatus()),

  unseal: procedure
    .meta({
      openapi: { method: 'POST', path: '/admin/unseal', tags, summary: 'Load the master key into memory; with `previous`, rotate it (operators only)' },
      errors: ['validation', 'invalid_key', 'conflict', 'missing_bearer_token', 'invalid_or_expired_token', 'forbidden'],
      permission: 'operator',
      audit: { action: (input) => (input.previous ? 'vault.rotate' : 'vault.unseal'), target: 'vault', log: 'admin', outcomes: 'denied' },
    })
    .input(UnsealInput)
    .output(UnsealResult)
    .mutation(({ ctx, input }) => ctx.services.vault.unseal(ctx.auth, input.key, input.previous)),

  seal: procedure
    .meta({ openapi: { method: 'POST', path: '/admin/seal', tags, summary: 'Drop the master key from memory (operators only)' }, errors: ['missing_bearer_token', 'invalid_or_expired_token', 'forbidden'], permission: 'operator', audit: { action: 'vault.seal', target: 'vault', log: 'admin', outcomes: 'denied' } })
    .input(z.void())
    .output(SealStatus)
    .mutation(({ ctx }) => ctx.services.vault.seal(ctx.auth)),

  rotateDataKey: procedure
    .meta({
      openapi: { method: 'POST', path: '/admin/rotate-data-key', tags, summary: 'Add a data-key term for new writes; old terms are re-encrypted in the background and retired (operators only)' },
      errors: ['sealed', 'conflict', 'missing_bearer_token', 'invalid_or_expired_token', 'forbidden'],
      permission: 'operator',
      audit: { action: 'vault.rotate_data_key', target: 'vault', log: 'admin', outcomes: 'denied' },
    })
    .input(z.void())
    .output(DataKeyStatus)
    .mutation(async ({ ctx }) => {
      const status = await ctx.services.vault.rotateDataKey(ctx.auth);
      ctx.services.reencrypt.kick('rotate-data-key'); // background: the answer does not wait for it
      return status;
    }),

  reencrypt: procedure
    .meta({
      openapi: { method: 'POST', path: '/admin/reencrypt', tags, summary: 'Start re-encrypting stored values onto the active data-key term, retiring unused terms (operators only)' },
      errors: ['sealed', 'missing_bearer_token', 'invalid_or_expired_token', 'forbidden'],
      permission: 'operator',
      audit: { action: 'vault.reencrypt', target: 'vault', log: 'admin' },
    })
    .input(z.void())
    .output(ReencryptResult)
    .mutation(({ ctx }) => {
      ctx.services.vault.assertUnsealed();
      return { started: ctx.services.reencrypt.kick('admin') };
    }),

  audit: procedure
    .meta({
      openapi: { method: 'GET', path: '/admin/audit', tags, summary: "The operators' log: vault, operator and account-security events, newest first (operators only)" },
      errors: ['validation', 'missing_bearer_token', 'invalid_or_expired_token', 'forbidden'],
      permission: 'operator',
    })
    .input(AuditListInput)
    .output(AuditPage)
    .query(({ ctx, input }) => ctx.services.audit.list('admin', undefined, input.limit, input.before)),

  nodes: procedure
    .meta({
      openapi: { method: 'GET', path: '/admin/nodes', tags, summary: 'The machines apps run on (one engine, or each node of the Swarm cluster), with how many apps run on each (operators only)' },
      errors: ['missing_bearer_token', 'invalid_or_expired_token', 'forbidden', 'unavailable'],
      permission: 'operator',
    })
    .input(z.void())
    .output(NodesList)
    .query(({ ctx }) => ctx.services.nodes.list()),
});
