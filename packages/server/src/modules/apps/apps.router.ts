import { z } from 'zod';
import { procedure, router } from '../../trpc/trpc.js';
import { Webhook } from '../deploy/deploy.schema.js';
import { AppActionResult, AppDetail, AppIdInput, AppList, Deleted, Deployment, DeploymentIdInput, DeploymentLogs, DeploymentsPage, DeploymentsPageInput, Logs, LogsInput, RollbackInput, RollbackResult } from './apps.schema.js';

const tags = ['Apps'];
const auth = ['missing_bearer_token', 'invalid_or_expired_token', 'forbidden'] as const;

export const appsRouter = router({
  list: procedure
    .meta({ openapi: { method: 'GET', path: '/apps', tags, summary: "List your org's apps" }, errors: [...auth], permission: 'read' })
    .input(z.void())
    .output(AppList)
    .query(({ ctx }) => ctx.services.apps.list(ctx.auth)),

  get: procedure
    .meta({ openapi: { method: 'GET', path: '/apps/{id}', tags, summary: 'App, webhook and the 20 newest deployments' }, errors: [...auth, 'validation', 'app_not_found'], permission: 'read', app: 'id' })
    .input(AppIdInput)
    .output(AppDetail)
    .query(({ ctx, input }) => ctx.services.apps.get(ctx.auth, input.id)),

  restart: procedure
    .meta({ openapi: { method: 'POST', path: '/apps/{id}/restart', tags, summary: 'Roll the current release out again on new containers (no downtime); a stopped app runs again' }, errors: [...auth, 'validation', 'app_not_found', 'conflict', 'unavailable'], permission: 'deploy', app: 'id', audit: { action: 'app.restart', target: 'app' } })
    .input(AppIdInput)
    .output(AppActionResult)
    .mutation(({ ctx, input }) => ctx.services.apps.restart(ctx.auth, input.id)),

  stop: procedure
    .meta({ openapi: { method: 'POST', path: '/apps/{id}/stop', tags, summary: 'Cancel queued and running deployments and stop the container(s); the domain answers 503' }, errors: [...auth, 'validation', 'app_not_found', 'conflict', 'unavailable'], permission: 'deploy', app: 'id', audit: { action: 'app.stop', target: 'app' } })
    .input(AppIdInput)
    .output(AppActionResult)
    .mutation(({ ctx, input }) => ctx.services.apps.stop(ctx.auth, input.id)),

  delete: procedure
    .meta({ openapi: { method: 'DELETE', path: '/apps/{id}', tags, summary: 'Remove the app, its containers, network, volumes, images, routes and app-scoped secrets' }, errors: [...auth, 'validation', 'app_not_found'], permission: 'manage', app: 'id', audit: { action: 'app.delete', target: 'app' } })
    .input(AppIdInput)
    .output(Deleted)
    .mutation(({ ctx, input }) => ctx.services.apps.remove(ctx.auth, input.id)),

  logs: procedure
    .meta({ openapi: { method: 'GET', path: '/apps/{id}/logs', tags, summary: 'Snapshot of the last `tail` log lines (≤ 2000, default 200)' }, errors: [...auth, 'validation', 'app_not_found'], permission: 'read', app: 'id' })
    .input(LogsInput)
    .output(Logs)
    .query(({ ctx, input }) => ctx.services.apps.logs(ctx.auth, input.id, input.tail)),

  rotateWebhook: procedure
    .meta({ openapi: { method: 'POST', path: '/apps/{id}/webhook/rotate', tags, summary: 'Replace the webhook secret; the old one stops working at once' }, errors: [...auth, 'validation', 'app_not_found', 'conflict', 'sealed'], permission: 'manage', app: 'id', audit: { action: 'webhook.rotate', target: 'app' } })
    .input(AppIdInput)
    .output(Webhook)
    .mutation(({ ctx, input }) => ctx.services.apps.rotateWebhook(ctx.auth, input.id)),

  deploymentLogs: procedure
    .meta({ openapi: { method: 'GET', path: '/apps/{id}/deployments/{deploymentId}/logs', tags, summary: "A deployment's own log: build output, each step, the error" }, errors: [...auth, 'validation', 'app_not_found', 'deployment_not_found'], permission: 'read', app: 'id' })
    .input(DeploymentIdInput)
    .output(DeploymentLogs)
    .query(({ ctx, input }) => ctx.services.apps.deploymentLogs(ctx.auth, input.id, input.deploymentId)),

  cancelDeployment: procedure
    .meta({ openapi: { method: 'POST', path: '/apps/{id}/deployments/{deploymentId}/cancel', tags, summary: 'Cancel a queued or running deployment' }, errors: [...auth, 'validation', 'app_not_found', 'deployment_not_found', 'conflict'], permission: 'deploy', app: 'id', audit: { action: 'deployment.cancel', target: 'deployment' } })
    .input(DeploymentIdInput)
    .output(Deployment)
    .mutation(({ ctx, input }) => ctx.services.apps.cancelDeployment(ctx.auth, input.id, input.deploymentId)),

  deployments: procedure
    .meta({ openapi: { method: 'GET', path: '/apps/{id}/deployments', tags, summary: 'Release history, newest first: `limit` 1–100 (default 20), `before` = the previous page’s nextCursor' }, errors: [...auth, 'validation', 'app_not_found'], permission: 'read', app: 'id' })
    .input(DeploymentsPageInput)
    .output(DeploymentsPage)
    .query(({ ctx, input }) => ctx.services.apps.deploymentsPage(ctx.auth, input.id, input.limit, input.before)),

  rollback: procedure
    .meta({
      openapi: { method: 'POST', path: '/apps/{id}/rollback', tags, summary: 'Re-deploy an earlier succeeded release exactly (same images, spec and inline env; no rebuild); default: the newest one before the current release' },
      successStatus: 202,
      errors: [...auth, 'validation', 'app_not_found', 'deployment_not_found', 'rollback_unavailable'],
      permission: 'deploy',
      app: 'id',
      audit: { action: 'app.rollback', target: 'app' },
    })
    .input(RollbackInput)
    .output(RollbackResult)
    .mutation(({ ctx, input }) => ctx.services.apps.rollback(ctx.auth, input.id, input.deploymentId)),
});
