import { z } from 'zod';
import { DeploymentStatus, Webhook } from '../deploy/deploy.schema.js';

export const AppStatus = z.enum(['deploying', 'running', 'stopped', 'failed']).meta({ id: 'AppStatus' });

export const ServiceView = z
  .object({
    name: z.string(),
    image: z.string().nullable(),
    build: z.object({ dockerfile: z.string(), context: z.string() }).nullable(),
    port: z.number().nullable(),
    domain: z.string().nullable(),
    url: z.string().nullable(),
    command: z.array(z.string()).nullable(),
    envKeys: z.array(z.string()).meta({ description: 'Names only: values are never returned' }),
    envFrom: z.array(z.string()),
    secretFiles: z.array(z.string()),
    cpu: z.number(),
    memory: z.number(),
    volumes: z.array(z.object({ name: z.string(), path: z.string() })),
    healthcheck: z.object({ path: z.string() }).nullable(),
    dependsOn: z.array(z.string()),
    replicas: z.number().int(),
  })
  .meta({ id: 'ServiceView' });

export const App = z
  .object({
    id: z.string(),
    name: z.string(),
    kind: z.enum(['image', 'repo', 'services']),
    status: AppStatus,
    statusReason: z.string().nullable().meta({ description: 'Why the app is `failed` (or what is degraded while `running`): a deployment error, a crash loop, a sealed vault…' }),
    domain: z.string(),
    url: z.string(),
    repo: z.object({ url: z.string(), branch: z.string(), hasToken: z.boolean() }).nullable(),
    envKeys: z.array(z.string()),
    envFrom: z.array(z.string()),
    secretFiles: z.array(z.string()),
    services: z.array(ServiceView),
    currentDeploymentId: z.string().nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'App' });

export const Deployment = z
  .object({
    id: z.string(),
    appId: z.string(),
    status: DeploymentStatus,
    trigger: z.enum(['api', 'webhook', 'restart', 'rollback', 'stop']),
    rollbackOf: z.string().nullable().meta({ description: 'The deployment whose release this one re-deployed (trigger rollback)' }),
    commit: z.string().nullable().meta({ description: 'The commit built (repo apps)' }),
    commitSha: z.string().nullable().meta({ description: 'Same as commit (kept for earlier clients)' }),
    image: z.string().nullable().meta({ description: "The image id or digest it ran (the first service's, for multi-service apps); null until its images were ready" }),
    images: z.record(z.string(), z.string()).nullable().meta({ description: 'Every service’s image id or digest' }),
    error: z.string().nullable(),
    createdAt: z.string(),
    startedAt: z.string().nullable(),
    finishedAt: z.string().nullable(),
  })
  .meta({ id: 'Deployment' });

export const AppDetail = z
  .object({ app: App, webhook: Webhook.nullable(), deployments: z.array(Deployment).max(20) })
  .meta({ id: 'AppDetail' });

export const AppList = z.object({ apps: z.array(App) }).meta({ id: 'AppList' });

export const AppIdInput = z.object({ id: z.string().min(1).max(64) });

export const DeploymentsPageInput = z.object({
  id: z.string().min(1).max(64),
  limit: z.coerce.number<number>().int().min(1, 'must be at least 1').max(100, 'must be at most 100').default(20),
  before: z.string().max(200).regex(/^[A-Za-z0-9_-]+$/, 'must be a nextCursor from a previous page').optional(),
});

export const DeploymentsPage = z
  .object({ deployments: z.array(Deployment), nextCursor: z.string().nullable().meta({ description: 'Pass as `before` for the next page; null at the end' }) })
  .meta({ id: 'DeploymentsPage' });

export const RollbackInput = z.object({
  id: z.string().min(1).max(64),
  deploymentId: z.string().min(1).max(64).optional().meta({ description: 'A succeeded deployment of this app; default: the newest succeeded release before the current one' }),
});

export const RollbackResult = z
  .object({ appId: z.string(), deploymentId: z.string(), status: z.literal('queued'), rollbackOf: z.string() })
  .meta({ id: 'RollbackResult' });
export const DeploymentIdInput = z.object({ id: z.string().min(1).max(64), deploymentId: z.string().min(1).max(64) });

export const LogsInput = z.object({
  id: z.string().min(1).max(64),
  tail: z.coerce.number<number>().int().min(1, 'must be at least 1').max(2000, 'must be at most 2000').default(200),
});

export const LogLine = z
  .object({
    service: z.string(),
    /** Which replica of the service wrote it (1-based): on Swarm, each runs as a task on some node. */
    replica: z.number().int().meta({ description: 'Which replica of the service wrote the line (1-based).' }),
    stream: z.enum(['stdout', 'stderr']),
    timestamp: z.string(),
    text: z.string(),
  })
  .meta({ id: 'LogLine' });
export const Logs = z.object({ lines: z.array(LogLine) }).meta({ id: 'Logs' });

export const DeploymentLogLine = z.object({ at: z.string(), stream: z.string(), text: z.string() }).meta({ id: 'DeploymentLogLine' });
export const DeploymentLogs = z
  .object({ deployment: Deployment, lines: z.array(DeploymentLogLine) })
  .meta({ id: 'DeploymentLogs' });

export const AppActionResult = z.object({ app: App }).meta({ id: 'AppActionResult' });
export const Deleted = z.object({ deleted: z.literal(true), id: z.string() }).meta({ id: 'Deleted' });

export type AppDto = z.infer<typeof App>;
export type DeploymentDto = z.infer<typeof Deployment>;
export type LogLineDto = z.infer<typeof LogLine>;
