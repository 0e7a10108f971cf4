// Turns a stored deployment (its spec snapshot, with vault ciphertexts, and the images it runs) into a Release the
// runtime can start: env and secret files decrypted in memory only, for this start only.
import { AppError } from '../../errors/app-error.js';
import { replicasOf, type AppSpec } from '../apps/app-spec.js';
import type { DeploymentsTable } from '../apps/apps.tables.js';
import { AAD } from '../vault/aad.js';
import type { Release } from '../runtime/app-runtime.js';
import type { SecretsService } from '../secrets/secrets.service.js';
import type { VaultService } from '../vault/vault.service.js';

export type Images = Record<string, string>;

export class ReleaseBuilder {
  constructor(
    private readonly vault: VaultService,
    private readonly secrets: SecretsService,
  ) {}

  /**
   * Each service's env and secret files: app-wide values first, then the service's own (which win); within a
   * level, inline env wins over envFrom secrets. Throws 503 `sealed` when any of it needs the vault while sealed.
   */
  async build(app: { id: string; org_id: string }, d: Pick<DeploymentsTable, 'id' | 'spec'>, images: Images): Promise<Release> {
    const spec = JSON.parse(d.spec) as AppSpec;
    const names = [...new Set([...spec.envFrom, ...spec.secretFiles, ...spec.services.flatMap((s) => [...s.envFrom, ...s.secretFiles])])];
    const secrets = names.length ? await this.secrets.resolveForApp(app.org_id, app.id, names) : {};
    const decryptEnv = (service: string, env: Record<string, string>) =>
      Object.fromEntries(Object.entries(env).map(([k, ct]) => [k, this.vault.decrypt(AAD.env(app.org_id, app.id, service, k), ct)]));
    const fromSecrets = (list: string[]) => Object.assign({}, ...list.map((n) => secrets[n] ?? {})) as Record<string, string>;
    const appEnv = { ...fromSecrets(spec.envFrom), ...decryptEnv('', spec.env) };
    const appFiles = fromSecrets(spec.secretFiles);
    return {
      appId: app.id,
      orgId: app.org_id,
      deploymentId: d.id,
      services: spec.services.map((s) => {
        const image = images[s.name];
        if (!image) throw new AppError('internal', `no image for service ${s.name}`);
        return {
          name: s.name,
          image,
          ...(s.command ? { command: s.command } : {}),
          env: { ...appEnv, ...fromSecrets(s.envFrom), ...decryptEnv(s.name, s.env) },
          secretFiles: { ...appFiles, ...fromSecrets(s.secretFiles) },
          ...(s.port !== undefined ? { port: s.port } : {}),
          ...(s.healthcheck ? { healthPath: s.healthcheck.path } : {}),
          cpu: s.cpu,
          memoryMb: s.memory,
          volumes: s.volumes,
          replicas: replicasOf(s),
          dependsOn: s.dependsOn,
        };
      }),
    };
  }
}
