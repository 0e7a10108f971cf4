// The /deploy contract, exactly as the API reference states it, plus CONTRACT.md's multi-service schema.
import { validateImageRef } from '@cynchro/docker-driver';
import { z } from 'zod';

/** Blank optional text is "not provided" (the reference: empty strings are treated as not provided). */
const blank = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (typeof v === 'string' && v.trim() === '' ? undefined : v), schema.optional());

export const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
export const dnsName = z
  .string()
  .max(63)
  .regex(DNS_LABEL, 'must be DNS-safe: lowercase letters, digits and "-", not starting or ending with "-", at most 63');

export const hostname = z
  .string()
  .trim()
  .toLowerCase()
  .max(253)
  .regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$/, 'must be a valid hostname such as www.example.com')
  .meta({
    description:
      'A host name of your own, or one label under ROOT_DOMAIN (default `<name>.<ROOT_DOMAIN>`). Refused (400 `validation`): IP literals, ' +
      '`localhost`, single labels, names more than one label deep under ROOT_DOMAIN. Refused (409 `domain_taken`): the ROOT_DOMAIN apex, ' +
      "the API's host (PUBLIC_API_URL), names another app holds, and names inside or containing a domain another org holds.",
  });

const relPath = z
  .string()
  .max(255)
  .refine((p) => !p.startsWith('/'), 'must be relative (no leading "/")')
  .refine((p) => !p.split(/[\\/]/).includes('..'), 'must not contain ".."')
  .refine((p) => !/[\0\n\r]/.test(p), 'must not contain control characters');

// Docker image references by name only: [registry[:port]/]path[:tag][@digest]. Refuses leading "-" (option
// injection), and what the engine would read as an image id or id prefix (another tenant's image, whatever it is
// called), and the platform's own build namespace.
export const imageRef = z
  .string()
  .max(255)
  .regex(/^[a-z0-9][a-z0-9._\-/:@]*$/i, 'must be an image reference such as acme/api:1.0')
  .superRefine((ref, ctx) => {
    try {
      validateImageRef(ref);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: `must be an image reference by name (${(e as Error).message})` });
      return;
    }
    if (/^(docker\.io\/)?cynchro\//i.test(ref)) ctx.addIssue({ code: 'custom', message: 'cynchro/… is the platform\'s build namespace; name an image of your own' });
  });

export const repoUrl = z
  .string()
  .max(2048)
  .url('must be a URL such as https://github.com/acme/api')
  .refine((u) => /^https?:\/\//i.test(u), 'must be an http(s) URL');

export const branchName = z
  .string()
  .max(255)
  .regex(/^(?!-)(?!.*\.\.)(?!.*\/\/)(?!\/)(?!.*\/$)(?!.*\.lock$)[A-Za-z0-9._\-/]+$/, 'must be a valid branch name');

export const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const envMap = z
  .record(z.string().max(256).regex(ENV_KEY, 'env keys must match [A-Za-z_][A-Za-z0-9_]*'), z.string().max(65536))
  .refine((m) => Object.keys(m).length <= 200, 'at most 200 variables');

export const secretNameList = z.array(z.string().min(1).max(64)).max(50);

const port = z.number().int().min(1, 'must be 1–65535').max(65535, 'must be 1–65535');
const cpu = z.number().positive('must be more than 0').max(8, 'at most 8 cores');
const memory = z.number().int().min(64, 'at least 64 MB').max(16384, 'at most 16384 MB');
const replicas = z.number().int('must be a whole number').min(1, 'must be 1–20').max(20, 'must be 1–20').meta({ description: 'Containers running this service (1–20, default 1); the ingress balances over the healthy ones. Quotas count cpu × replicas and memory × replicas.' });

export const ServiceInput = z
  .object({
    name: dnsName,
    image: blank(imageRef),
    dockerfile: blank(relPath),
    context: blank(relPath),
    port: port.optional(),
    domain: blank(hostname),
    command: z.array(z.string().max(4096)).max(100).optional(),
    env: envMap.optional(),
    envFrom: secretNameList.optional(),
    secretFiles: secretNameList.optional(),
    cpu: cpu.optional(),
    memory: memory.optional(),
    volumes: z
      .array(z.object({ name: dnsName, path: z.string().max(255).regex(/^\/[^\0]*$/, 'must be an absolute path in the container') }))
      .max(10)
      .optional(),
    healthcheck: z.object({ path: z.string().max(1024).regex(/^\//, 'must start with "/"') }).optional(),
    dependsOn: z.array(dnsName).max(20).optional(),
    replicas: replicas.optional(),
  })
  .meta({ id: 'ServiceInput' });

export const DeployInput = z
  .object({
    name: dnsName,
    image: blank(imageRef),
    repo: blank(repoUrl),
    services: z.array(ServiceInput).min(1).max(20).optional(),
    branch: blank(branchName),
    dockerfile: blank(relPath),
    context: blank(relPath),
    repoToken: blank(z.string().max(1024)),
    port: port.optional(),
    domain: blank(hostname),
    cpu: cpu.optional(),
    memory: memory.optional(),
    replicas: replicas.optional(),
    env: envMap.optional(),
    envFrom: secretNameList.optional(),
    secretFiles: secretNameList.optional(),
  })
  .superRefine((v, ctx) => {
    // `services` replaces image/repo as the app's source, but a top-level repo goes with it: the one its built
    // services are built from (CONTRACT.md "Multi-service apps").
    const sources = (['image', 'repo', 'services'] as const).filter((k) => v[k] !== undefined && !(k === 'repo' && v.services !== undefined));
    if (sources.length !== 1) {
      for (const k of ['image', 'repo', 'services'] as const)
        ctx.addIssue({ code: 'custom', path: [k], message: 'exactly one of image, repo or services is required (services may come with the repo its services build from)' });
      return;
    }
    if (v.services) {
      const names = new Set<string>();
      v.services.forEach((s, i) => {
        if (names.has(s.name)) ctx.addIssue({ code: 'custom', path: ['services', i, 'name'], message: 'service names must be unique' });
        names.add(s.name);
        if (!!s.image === !!(s.dockerfile ?? s.context))
          ctx.addIssue({ code: 'custom', path: ['services', i, 'image'], message: 'give either image, or dockerfile/context (built from the app repo)' });
        if (!s.image && !v.repo) ctx.addIssue({ code: 'custom', path: ['services', i, 'dockerfile'], message: 'building a service needs a top-level repo' });
      });
      v.services.forEach((s, i) =>
        (s.dependsOn ?? []).forEach((d) => {
          if (!names.has(d) || d === s.name) ctx.addIssue({ code: 'custom', path: ['services', i, 'dependsOn'], message: `unknown service "${d}"` });
        }),
      );
      if (hasCycle(v.services)) ctx.addIssue({ code: 'custom', path: ['services'], message: 'dependsOn has a cycle' });
      for (const k of ['image', 'port', 'domain', 'dockerfile', 'context', 'cpu', 'memory', 'replicas'] as const)
        if (v[k] !== undefined) ctx.addIssue({ code: 'custom', path: [k], message: `with services, set ${k} per service` });
    } else if (v.image) {
      for (const k of ['branch', 'dockerfile', 'context', 'repoToken'] as const)
        if (v[k] !== undefined) ctx.addIssue({ code: 'custom', path: [k], message: `${k} applies to repo builds only` });
    }
  })
  .meta({ id: 'DeployInput' });

function hasCycle(services: { name: string; dependsOn?: string[] | undefined }[]): boolean {
  const deps = new Map(services.map((s) => [s.name, s.dependsOn ?? []]));
  const state = new Map<string, 1 | 2>();
  const visit = (n: string): boolean => {
    if (state.get(n) === 1) return true;
    if (state.get(n) === 2) return false;
    state.set(n, 1);
    for (const d of deps.get(n) ?? []) if (deps.has(d) && visit(d)) return true;
    state.set(n, 2);
    return false;
  };
  return [...deps.keys()].some(visit);
}

export const Webhook = z
  .object({
    url: z.string(),
    secret: z.string().nullable().meta({ description: 'HMAC secret for X-Hub-Signature-256; null while the vault is sealed, and for callers who may not deploy (viewers, tokens without the deploy scope)' }),
    contentType: z.literal('application/json'),
    events: z.array(z.literal('push')),
  })
  .meta({ id: 'Webhook' });

export const DeploymentStatus = z.enum(['queued', 'building', 'deploying', 'succeeded', 'failed', 'canceled']).meta({ id: 'DeploymentStatus' });

export const DeployResult = z
  .object({
    appId: z.string(),
    deploymentId: z.string(),
    domain: z.string(),
    status: z.literal('queued'),
    url: z.string(),
    webhook: Webhook.optional(),
  })
  .meta({ id: 'DeployResult' });

export type DeployInput = z.infer<typeof DeployInput>;
export type ServiceInput = z.infer<typeof ServiceInput>;
export type DeployResult = z.infer<typeof DeployResult>;
export type DeploymentStatus = z.infer<typeof DeploymentStatus>;
