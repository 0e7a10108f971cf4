import { procedure, router } from '../../trpc/trpc.js';
import { AppIdInput } from '../apps/apps.schema.js';
import { AppStats } from './stats.schema.js';

const tags = ['Apps'];
const auth = ['missing_bearer_token', 'invalid_or_expired_token', 'forbidden'] as const;

export const statsRouter = router({
  app: procedure
    .meta({
      openapi: { method: 'GET', path: '/apps/{id}/stats', tags, summary: 'CPU, memory, restarts and start time of each running replica of the current release (cached ≤ 2 s)' },
      errors: [...auth, 'validation', 'app_not_found', 'unavailable'],
      permission: 'read',
      app: 'id',
    })
    .input(AppIdInput)
    .output(AppStats)
    .query(({ ctx, input }) => ctx.services.stats.app(ctx.auth, input.id)),
});
