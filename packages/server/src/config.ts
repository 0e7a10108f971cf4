// Configuration comes only from the environment variables CONTRACT.md lists, validated once at start so a typo
// fails loudly with the variable's name instead of misbehaving later.
import path from 'node:path';
import { validatePool } from '@cynchro/docker-driver';
import { z } from 'zod';
import { defaultIngressHost } from './modules/ingress/ingress-files.js';

const csv = z
  .string()
  .default('')
  .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean));

const port = z.coerce.number().int().min(0).max(65535);

const bool = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' }))
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const EnvSchema = z.object({
  PORT: port.default(3000),
  HOST: z.string().min(1).default('0.0.0.0'),
  DATA_DIR: z.string().min(1).default('./data'),
  ROOT_DOMAIN: z
    .string()
    .min(1)
    .default('localhost')
    .refine((s) => /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i.test(s), 'must be a hostname'),
  PUBLIC_API_URL: z.string().url().optional(),
  ADMIN_EMAILS: csv.transform((l) => l.map((e) => e.toLowerCase())),
  ALLOW_REGISTRATION: bool.default(true),
  INGRESS: z.enum(['embedded', 'caddy']).default('embedded'),
  INGRESS_PORT: port.default(8080),
  // Where the ingress listens (default 0.0.0.0; 127.0.0.1 with INGRESS=caddy, which fronts it).
  INGRESS_HOST: z.string().min(1).optional(),
  // `separate`: the ingress runs as its own process and outlives the control plane; `inprocess`: inside it.
  INGRESS_PROCESS: z.enum(['separate', 'inprocess']).default('separate'),
  CADDY_ADMIN_URL: z.string().url().default('http://127.0.0.1:2019'),
  // INGRESS=caddy (beyond CONTRACT.md): Caddy's listeners, its certificate issuer, and the loopback port of the
  // control plane's on-demand TLS `ask` endpoint.
  CADDY_HTTP_PORT: port.default(80),
  CADDY_HTTPS_PORT: port.default(443),
  CADDY_TLS: z.enum(['acme', 'internal']).default('acme'),
  TLS_ASK_PORT: port.default(2020),
  GIT_ALLOW_HOSTS: csv,
  // `docker`: one engine, containers; `swarm`: Docker Swarm services across a cluster (the engine is a manager).
  RUNTIME: z.enum(['docker', 'swarm']).default('docker'),
  // With RUNTIME=swarm: `host:port` of the registry built images are pushed to and every node pulls from.
  REGISTRY: z
    .string()
    .trim()
    .regex(/^[a-z0-9.-]+(:\d{1,5})?$/i, 'must be host:port')
    .optional(),
  REGISTRY_USERNAME: z.string().optional(),
  REGISTRY_PASSWORD: z.string().optional(),
  // How often the Swarm runtime reads task states (beyond CONTRACT.md).
  SWARM_POLL_MS: z.coerce.number().int().min(100).max(60_000).default(1000),
  // The MTU of app overlays when the path between nodes carries less than 1500 bytes (VXLAN takes 50 of them).
  SWARM_OVERLAY_MTU: z.coerce.number().int().min(576).max(9000).optional(),
  // Beyond CONTRACT.md: an IPv4 range each app network takes a /APP_SUBNET_PREFIX of (unset: the engine's default
  // address pools choose, about 30 networks on a default engine).
  APP_SUBNET_POOL: z.string().trim().optional(),
  APP_SUBNET_PREFIX: z.coerce.number().int().default(24),
  QUOTA_MAX_APPS: z.coerce.number().int().min(0).default(20),
  QUOTA_MAX_CPU: z.coerce.number().min(0).default(8),
  QUOTA_MAX_MEMORY_MB: z.coerce.number().int().min(0).default(16384),
  RECONCILE_INTERVAL_S: z.coerce.number().positive().max(86_400).default(15),
  // Verified GitHub deliveries per app per minute (beyond CONTRACT.md); more answer 429 rate_limited.
  WEBHOOK_RATE_LIMIT: z.coerce.number().int().min(1).max(100_000).default(30),
  // Succeeded releases per app whose images are kept (rollback material).
  KEEP_RELEASES: z.coerce.number().int().min(1).max(100).default(5),
  // Team orgs one person may own (beyond CONTRACT.md): every org has its own quotas.
  MAX_ORGS_PER_USER: z.coerce.number().int().min(0).max(10_000).default(10),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  // Comma-separated proxy addresses whose X-Forwarded-For is believed (beyond CONTRACT.md; empty = trust none).
  TRUST_PROXY: csv,
  // GET /metrics answers only this bearer token (empty: the route answers 404 to everyone).
  METRICS_TOKEN: z.string().regex(/^\S{16,}$/, 'must be at least 16 characters, without spaces').optional(),
});

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  rootDomain: string;
  publicApiUrl: string;
  adminEmails: string[];
  /** false: POST /auth/register answers 403 forbidden. */
  allowRegistration: boolean;
  ingress: 'embedded' | 'caddy';
  ingressPort: number;
  ingressHost: string;
  runtime: 'docker' | 'swarm';
  /** RUNTIME=swarm: where built images go (`host:port`), with its credentials when it wants them. */
  registry: { host: string; username?: string; password?: string } | undefined;
  swarmPollMs: number;
  swarmOverlayMtu: number | undefined;
  /** `separate`: the ingress is its own process (ingress-main.ts) the control plane talks to; `inprocess`: embedded. */
  ingressProcess: 'separate' | 'inprocess';
  caddyAdminUrl: string;
  /** Caddy's plain HTTP listener (redirects to HTTPS, ACME HTTP challenges). */
  caddyHttpPort: number;
  /** Caddy's HTTPS listener; app URLs carry it unless it is 443. */
  caddyHttpsPort: number;
  /** 'acme': public certificates; 'internal': Caddy's own CA (tests, private networks). */
  caddyTls: 'acme' | 'internal';
  /** Where the on-demand TLS ask endpoint listens, on 127.0.0.1 (INGRESS=caddy only). */
  tlsAskPort: number;
  gitAllowHosts: string[];
  /** APP_SUBNET_POOL / APP_SUBNET_PREFIX; undefined: the engine's default address pools. */
  appSubnets: { pool: string; prefix: number } | undefined;
  quota: { maxApps: number; maxCpu: number; maxMemoryMb: number };
  logLevel: string;
  trustProxy: string[];
  /** How often desired state is restored even without an engine event (the fallback). */
  reconcileIntervalS: number;
  /** Verified webhook deliveries allowed per app per minute. */
  webhookRateLimit: number;
  /** The images of this many newest succeeded deployments of each app are kept. */
  keepReleases: number;
  /** Team orgs one person may own (each has its own quotas). */
  maxOwnedOrgs: number;
  /** The bearer token GET /metrics answers (empty: disabled, 404 for everyone). */
  metricsToken: string;
}

export class ConfigError extends Error {}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // Empty variables mean "use the default", as in most shells' `VAR= cmd` habits.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = EnvSchema.safeParse(cleaned);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  const poolProblem = e.APP_SUBNET_POOL === undefined ? undefined : validatePool(e.APP_SUBNET_POOL, e.APP_SUBNET_PREFIX);
  if (poolProblem) throw new ConfigError(`Invalid configuration:\n  APP_SUBNET_POOL: ${poolProblem}`);
  if (e.RUNTIME === 'swarm' && !e.REGISTRY) throw new ConfigError('Invalid configuration:\n  REGISTRY: required with RUNTIME=swarm (host:port of the registry every node pulls built images from)');
  if (!!e.REGISTRY_USERNAME !== !!e.REGISTRY_PASSWORD) throw new ConfigError('Invalid configuration:\n  REGISTRY_USERNAME, REGISTRY_PASSWORD: give both or neither');
  return {
    port: e.PORT,
    host: e.HOST,
    dataDir: path.resolve(e.DATA_DIR),
    rootDomain: e.ROOT_DOMAIN.toLowerCase(),
    publicApiUrl: (e.PUBLIC_API_URL ?? `http://localhost:${e.PORT}`).replace(/\/+$/, ''),
    adminEmails: e.ADMIN_EMAILS,
    allowRegistration: e.ALLOW_REGISTRATION,
    ingress: e.INGRESS,
    ingressPort: e.INGRESS_PORT,
    ingressHost: e.INGRESS_HOST ?? defaultIngressHost(e.INGRESS),
    ingressProcess: e.INGRESS_PROCESS,
    caddyAdminUrl: e.CADDY_ADMIN_URL.replace(/\/+$/, ''),
    caddyHttpPort: e.CADDY_HTTP_PORT,
    caddyHttpsPort: e.CADDY_HTTPS_PORT,
    caddyTls: e.CADDY_TLS,
    tlsAskPort: e.TLS_ASK_PORT,
    gitAllowHosts: e.GIT_ALLOW_HOSTS,
    runtime: e.RUNTIME,
    registry: e.REGISTRY ? { host: e.REGISTRY, ...(e.REGISTRY_USERNAME ? { username: e.REGISTRY_USERNAME, password: e.REGISTRY_PASSWORD! } : {}) } : undefined,
    swarmPollMs: e.SWARM_POLL_MS,
    swarmOverlayMtu: e.SWARM_OVERLAY_MTU,
    appSubnets: e.APP_SUBNET_POOL === undefined ? undefined : { pool: e.APP_SUBNET_POOL, prefix: e.APP_SUBNET_PREFIX },
    quota: { maxApps: e.QUOTA_MAX_APPS, maxCpu: e.QUOTA_MAX_CPU, maxMemoryMb: e.QUOTA_MAX_MEMORY_MB },
    logLevel: e.LOG_LEVEL,
    trustProxy: e.TRUST_PROXY,
    reconcileIntervalS: e.RECONCILE_INTERVAL_S,
    webhookRateLimit: e.WEBHOOK_RATE_LIMIT,
    maxOwnedOrgs: e.MAX_ORGS_PER_USER,
    metricsToken: e.METRICS_TOKEN ?? '',
    keepReleases: e.KEEP_RELEASES,
  };
}
