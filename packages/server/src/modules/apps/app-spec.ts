// The stored, normalised shape of an app: always a list of services (a single-service app has one named "app",
// as CONTRACT.md's labels say). Env values and the repo token are vault ciphertexts here, never plaintext.
import type { DeployInput } from '../deploy/deploy.schema.js';

export const DEFAULT_CPU = 0.25;
export const DEFAULT_MEMORY_MB = 256;
export const DEFAULT_PORT = 80;
export const SINGLE_SERVICE = 'app';

export interface ServiceSpec {
  name: string;
  image?: string;
  build?: { dockerfile: string; context: string };
  port?: number;
  domain?: string;
  command?: string[];
  /** key → ciphertext */
  env: Record<string, string>;
  envFrom: string[];
  secretFiles: string[];
  cpu: number;
  memory: number;
  volumes: { name: string; path: string }[];
  healthcheck?: { path: string };
  dependsOn: string[];
  /** How many containers run this service (1–20); absent in specs stored before replicas existed = 1. */
  replicas?: number;
}

export interface AppSpec {
  kind: 'image' | 'repo' | 'services';
  repo?: { url: string; branch: string; token?: string /* ciphertext */ };
  /** App-wide env (key → ciphertext) and secrets; a service's own values win. */
  env: Record<string, string>;
  envFrom: string[];
  secretFiles: string[];
  services: ServiceSpec[];
}

export interface SpecCrypto {
  env(service: string, key: string, value: string): string;
  repoToken(value: string): string;
}

export function specFromInput(input: DeployInput, crypto: SpecCrypto): AppSpec {
  const encEnv = (service: string, env: Record<string, string> | undefined) =>
    Object.fromEntries(Object.entries(env ?? {}).map(([k, v]) => [k, crypto.env(service, k, v)]));
  const kind: AppSpec['kind'] = input.services ? 'services' : input.repo ? 'repo' : 'image';
  const spec: AppSpec = {
    kind,
    env: encEnv('', input.env),
    envFrom: input.envFrom ?? [],
    secretFiles: input.secretFiles ?? [],
    services: [],
  };
  if (input.repo) {
    spec.repo = { url: input.repo, branch: input.branch ?? 'main' };
    if (input.repoToken) spec.repo.token = crypto.repoToken(input.repoToken);
  }
  if (input.services) {
    spec.services = input.services.map((s) => {
      const svc: ServiceSpec = {
        name: s.name,
        env: encEnv(s.name, s.env),
        envFrom: s.envFrom ?? [],
        secretFiles: s.secretFiles ?? [],
        cpu: s.cpu ?? DEFAULT_CPU,
        memory: s.memory ?? DEFAULT_MEMORY_MB,
        volumes: s.volumes ?? [],
        dependsOn: s.dependsOn ?? [],
        replicas: s.replicas ?? 1,
      };
      if (s.image) svc.image = s.image;
      else svc.build = { dockerfile: s.dockerfile ?? 'Dockerfile', context: s.context ?? '.' };
      if (s.port !== undefined) svc.port = s.port;
      if (s.domain) svc.domain = s.domain;
      if (s.command) svc.command = s.command;
      if (s.healthcheck) svc.healthcheck = s.healthcheck;
      return svc;
    });
  } else {
    const svc: ServiceSpec = {
      name: SINGLE_SERVICE,
      port: input.port ?? DEFAULT_PORT,
      env: {},
      envFrom: [],
      secretFiles: [],
      cpu: input.cpu ?? DEFAULT_CPU,
      memory: input.memory ?? DEFAULT_MEMORY_MB,
      volumes: [],
      dependsOn: [],
      replicas: input.replicas ?? 1,
    };
    if (input.image) svc.image = input.image;
    else svc.build = { dockerfile: input.dockerfile ?? 'Dockerfile', context: input.context ?? '.' };
    if (input.domain) svc.domain = input.domain;
    spec.services = [svc];
  }
  return spec;
}

/** Which domain each routed service answers on (CONTRACT.md: first routed gets the app's domain). */
export function domainsFor(appName: string, spec: AppSpec, rootDomain: string): { service: string; domain: string }[] {
  const routed = spec.services.filter((s) => s.port !== undefined);
  return routed.map((s, i) => ({
    service: s.name,
    domain: s.domain ?? (i === 0 ? `${appName}.${rootDomain}` : `${s.name}-${appName}.${rootDomain}`),
  }));
}

/** The app's own domain: its first routed service's, or the default when nothing is routed. */
export function primaryDomain(appName: string, spec: AppSpec, rootDomain: string): string {
  return domainsFor(appName, spec, rootDomain)[0]?.domain ?? `${appName}.${rootDomain}`;
}

export function replicasOf(s: Pick<ServiceSpec, 'replicas'>): number {
  return s.replicas ?? 1;
}

/** What the app holds of its org's quota: every replica counts. */
export function totals(spec: AppSpec): { cpu: number; memory: number } {
  return spec.services.reduce((t, s) => ({ cpu: t.cpu + s.cpu * replicasOf(s), memory: t.memory + s.memory * replicasOf(s) }), { cpu: 0, memory: 0 });
}

/** Whether rolling this spec out needs the vault open (inline env, secrets by name, a repo token to build with). */
export function needsVault(spec: AppSpec, building: boolean): boolean {
  const any = (l: string[]) => l.length > 0;
  if (building && spec.repo?.token) return true;
  if (Object.keys(spec.env).length || any(spec.envFrom) || any(spec.secretFiles)) return true;
  return spec.services.some((s) => Object.keys(s.env).length || any(s.envFrom) || any(s.secretFiles));
}
