import { procedure, router } from '../../trpc/trpc.js';
import { DeployInput, DeployResult } from './deploy.schema.js';

export const deployRouter = router({
  deploy: procedure
    .meta({
      openapi: { method: 'POST', path: '/deploy', tags: ['Deploy'], summary: 'Create or update an app (idempotent on name) and queue a deployment' },
      successStatus: 202,
      errors: ['validation', 'missing_bearer_token', 'invalid_or_expired_token', 'unknown_secret', 'domain_taken', 'quota_exceeded', 'conflict', 'sealed', 'forbidden'],
      permission: 'deploy',
      app: 'name',
      audit: { action: 'deploy', target: 'app' },
    })
    .input(DeployInput)
    .output(DeployResult)
    .mutation(({ ctx, input }) => ctx.services.deploy.deploy(ctx.auth, input)),
});
