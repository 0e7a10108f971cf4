import { z } from 'zod';
import { toAppError } from '../../errors/to-app-error.js';
import { adminProcedure, authedProcedure, operatorOnly, publicProcedure, router } from '../../trpc/trpc.js';
import { ClaimInput, ClaimResult, DataKeyStatus, ReencryptResult, SealStatus, UnsealInput, UnsealResult } from './admin.schema.js';

const tags = ['Admin'];

/**
 * adminProcedure, plus an audit record when the operator gate (ADMIN_EMAILS and a claim) refuses an unseal,
 * rotation or seal: those are attempts too. (Attempts that fail authentication have no user to record.) The caller is
 * looked up again only on that rare path, because the gate runs after this middleware.
 */
const auditedAdminProcedure = publicProcedure
  .use(async ({ ctx, path, getRawInput, next }) => {
    const result = await next();
    if (!result.ok && path !== 'admin.sealStatus' && toAppError(result.error).code === 'forbidden') {
      const raw = path === 'admin.unseal' ? ((await getRawInput().catch(() => undefined)) as { previous?: unknown } | undefined) : undefined;
      const attempt = path === 'admin.seal' ? 'seal' : path === 'admin.rotateDataKey' ? 'rotate_data_key' : raw?.previous ? 'rotate' : 'unseal';
      const who = await ctx.services.auth.authenticate(ctx.bearerToken).catch(() => null);
      if (who) await ctx.services.vault.recordRefused(who, attempt);
    }
    return result;
  })
  .use(operatorOnly);

export const adminRouter = router({
  claim: authedProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/admin/claim',
        tags,
        summary: 'Become an operator: an ADMIN_EMAILS account presents the operator token from DATA_DIR/operator-token; until then every other /admin route answers 403',
      },
      errors: ['validation', 'missing_bearer_token', 'invalid_or_expired_token', 'forbidden', 'rate_limited'],
      rateLimit: 'auth',
    })
    .input(ClaimInput)
    .output(ClaimResult)
    .mutation(({ ctx, input }) => ctx.services.auth.operators.claim(ctx.auth, input.token)),

  sealStatus: auditedAdminProcedure
    .meta({ openapi: { method: 'GET', path: '/admin/seal-status', tags, summary: 'Whether the vault is sealed (operators only)' }, errors: ['missing_bearer_token', 'invalid_or_expired_token', 'forbidden'] })
    .input(z.void())
    .output(SealStatus)
    .query(({ ctx }) => ctx.services.vault.sealStatus()),

  unseal: auditedAdminProcedure
    .meta({ openapi: { method: 'POST', path: '/admin/unseal', tags, summary: 'Load the master key into memory; with `previous`, rotate it (operators only)' }, errors: ['validation', 'invalid_key', 'conflict', 'missing_bearer_token', 'invalid_or_expired_token', 'forbidden'] })
    .input(UnsealInput)
    .output(UnsealResult)
    .mutation(({ ctx, input }) => ctx.services.vault.unseal(ctx.auth, input.key, input.previous)),

  seal: auditedAdminProcedure
    .meta({ openapi: { method: 'POST', path: '/admin/seal', tags, summary: 'Drop the master key from memory (operators only)' }, errors: ['missing_bearer_token', 'invalid_or_expired_token', 'forbidden'] })
    .input(z.void())
    .output(SealStatus)
    .mutation(({ ctx }) => ctx.services.vault.seal(ctx.auth)),

  rotateDataKey: auditedAdminProcedure
    .meta({
      openapi: { method: 'POST', path: '/admin/rotate-data-key', tags, summary: 'Add a data-key term for new writes; old terms are re-encrypted in the background and retired (operators only)' },
      errors: ['sealed', 'conflict', 'missing_bearer_token', 'invalid_or_expired_token', 'forbidden'],
    })
    .input(z.void())
    .output(DataKeyStatus)
    .mutation(async ({ ctx }) => {
      const status = await ctx.services.vault.rotateDataKey(ctx.auth);
      ctx.services.reencrypt.kick('rotate-data-key'); // background: the answer does not wait for it
      return status;
    }),

  reencrypt: adminProcedure
    .meta({
      openapi: { method: 'POST', path: '/admin/reencrypt', tags, summary: 'Start re-encrypting stored values onto the active data-key term, retiring unused terms (operators only)' },
      errors: ['sealed', 'missing_bearer_token', 'invalid_or_expired_token', 'forbidden'],
    })
    .input(z.void())
    .output(ReencryptResult)
    .mutation(({ ctx }) => {
      ctx.services.vault.assertUnsealed();
      return { started: ctx.services.reencrypt.kick('admin') };
    }),
});
