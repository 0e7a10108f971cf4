import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { Db } from '../../db/open-database.js';
import { AppError } from '../../errors/app-error.js';
import type { Deps } from '../../deps.js';
import { newId } from '../../lib/ids.js';
import { domainsFor, primaryDomain, specFromInput, totals, type AppSpec } from '../apps/app-spec.js';
import { AppsRepo, type QueueGuard, type QueuedDeployment } from '../apps/apps.repo.js';
import type { DeploymentsService } from '../deployments/deployments.service.js';
import type { AppsTable, DeploymentsTable } from '../apps/apps.tables.js';
import type { AuthContext } from '../auth/auth.service.js';
import type { SecretsService } from '../secrets/secrets.service.js';
import { AAD } from '../vault/aad.js';
import type { VaultService } from '../vault/vault.service.js';
import type { DeployInput, DeployResult } from './deploy.schema.js';
import { conflictingHolder, domainShapeProblem, parentsOf, type HeldDomain } from './domain-policy.js';

export const WEBHOOK_EVENTS = ['push'] as const;


function newWebhookSecret(): string {
  return randomBytes(32).toString('hex');
}

export class DeployService {
  private readonly repo: AppsRepo;

  constructor(
    private readonly deps: Pick<Deps, 'db' | 'clock' | 'config' | 'ingress'>,
    private readonly vault: VaultService,
    private readonly secrets: SecretsService,
    private readonly deployments: DeploymentsService,
  ) {
    this.repo = new AppsRepo(deps.db);
  }

  async deploy(auth: AuthContext, input: DeployInput): Promise<DeployResult> {
    const { orgId } = auth;
    if (input.repo) this.assertFetchable(input.repo);
    const now = this.deps.clock.now().toISOString();
    const existing = await this.repo.findByName(orgId, input.name);
    const appId = existing?.id ?? newId('app');

    const names = [...(input.envFrom ?? []), ...(input.secretFiles ?? []), ...(input.services ?? []).flatMap((s) => [...(s.envFrom ?? []), ...(s.secretFiles ?? [])])];
    await this.secrets.assertVisible(orgId, existing ? appId : null, [...new Set(names)]);

    const spec: AppSpec = specFromInput(input, {
      env: (service, key, value) => this.vault.encrypt(AAD.env(orgId, appId, service, key), value),
      repoToken: (value) => this.vault.encrypt(AAD.repoToken(orgId, appId), value),
    });
    // Updating a repo app without resending its token keeps the stored one: a redeploy must lose nothing.
    if (spec.repo && !spec.repo.token && existing) {
      const old = JSON.parse(existing.spec) as AppSpec;
      if (old.repo?.token && old.repo.url === spec.repo.url) spec.repo.token = old.repo.token;
    }

    const domains = domainsFor(input.name, spec, this.deps.config.rootDomain);
    const domain = primaryDomain(input.name, spec, this.deps.config.rootDomain);
    this.checkDomainShapes(input, domains);

    let webhookSecretCt = existing?.webhook_secret ?? null;
    let webhookSecret: string | null = null;
    if (spec.kind === 'repo' || spec.repo) {
      if (webhookSecretCt) webhookSecret = this.vault.decrypt(AAD.webhookSecret(orgId, appId), webhookSecretCt);
      else {
        webhookSecret = newWebhookSecret();
        webhookSecretCt = this.vault.encrypt(AAD.webhookSecret(orgId, appId), webhookSecret);
      }
    }

    const app: AppsTable = {
      id: appId,
      org_id: orgId,
      name: input.name,
      kind: spec.kind,
      spec: JSON.stringify(spec),
      domain,
      status: existing?.status ?? 'deploying',
      status_reason: existing?.status_reason ?? null,
      desired_state: existing?.desired_state ?? 'running',
      health_failed: existing?.health_failed ?? 0,
      health_reason: existing?.health_reason ?? null,
      current_deployment_id: existing?.current_deployment_id ?? null,
      webhook_secret: webhookSecretCt,
      created_at: existing?.created_at ?? now,
      updated_at: now,
    };
    const deploymentId = newId('dep');
    try {
      await this.deployments.enqueue(async (tx, queue) => {
        // What other apps hold and what the org uses are read in the transaction that writes, so two deploys
        // cannot both pass on the same state (see takeWriteLock).
        await takeWriteLock(tx);
        await this.checkDomainHolders(tx, orgId, appId, domains.map((d) => d.domain));
        await this.checkQuota(tx, orgId, appId, spec);
        await this.repo.upsertIn(tx, { app, isNew: !existing, domains });
        await queue(this.deployments.newRow(app, deploymentId, 'api'));
      });
    } catch (e) {
      const msg = String(e);
      if (msg.includes('UNIQUE') && msg.includes('domains')) throw new AppError('domain_taken', 'A domain of this app was just claimed by another app');
      if (msg.includes('UNIQUE') && msg.includes('apps')) throw new AppError('conflict', 'Another deploy of this app name is in progress; retry');
      throw e;
    }
    const result: DeployResult = { appId, deploymentId, domain, status: 'queued', url: this.deps.ingress.urlFor(domain) };
    if (webhookSecret) result.webhook = this.webhookView(appId, webhookSecret);
    return result;
  }

  /**
   * Queues a deployment of the app's current stored spec (env, secrets, repo and token exactly as /deploy last
   * stored them), cancelling a still-queued older one, then kicks the worker; for webhooks and other triggers that
   * redeploy without new input. `guard` may reuse an existing deployment instead (see AppsRepo.queueForApp).
   */
  async queueDeployment(
    app: Pick<AppsTable, 'id'>,
    opts: { trigger: DeploymentsTable['trigger']; commitSha?: string | null; guard?: QueueGuard },
  ): Promise<QueuedDeployment> {
    const r = await this.deployments.enqueue(async (tx, queue): Promise<QueuedDeployment | null> => {
      // Read inside the transaction, so the snapshot is the spec as stored right now.
      const current = await this.repo.findIn(tx, app.id);
      if (!current) return null;
      const reused = await opts.guard?.reuse(tx, current);
      if (reused) {
        if (reused.outcome !== 'duplicate') await opts.guard!.record(tx, reused.deploymentId, reused.outcome);
        return reused;
      }
      const row = this.deployments.newRow(current, newId('dep'), opts.trigger, { commitSha: opts.commitSha ?? null });
      await queue(row);
      await opts.guard?.record(tx, row.id, 'queued');
      return { deploymentId: row.id, outcome: 'queued' };
    });
    if (!r) throw new AppError('app_not_found', 'No such app');
    return r;
  }

  /** Generates a new webhook secret (stored encrypted): the old one stops verifying at once. */
  async rotateWebhookSecret(app: Pick<AppsTable, 'id' | 'org_id'>): Promise<string> {
    this.vault.assertUnsealed();
    const secret = newWebhookSecret();
    await this.repo.setWebhookSecret(app.id, this.vault.encrypt(AAD.webhookSecret(app.org_id, app.id), secret), this.deps.clock.now().toISOString());
    return secret;
  }

  /** Plain http only for hosts the operator allowed (GIT_ALLOW_HOSTS): said now, not after a failed build. */
  private assertFetchable(repo: string): void {
    const u = new URL(repo);
    if (u.username || u.password) {
      throw AppError.validation({ repo: ['must not carry credentials; send the token as repoToken (it is stored encrypted)'] });
    }
    if (u.protocol === 'http:' && !this.deps.config.gitAllowHosts.includes(u.host.toLowerCase())) {
      throw AppError.validation({ repo: [`must be https (plain http only for GIT_ALLOW_HOSTS, which does not list ${u.host})`] });
    }
  }

  webhookView(appId: string, secret: string | null) {
    return { url: `${this.deps.config.publicApiUrl}/webhooks/github/${appId}`, secret, contentType: 'application/json' as const, events: [...WEBHOOK_EVENTS] };
  }

  /**
   * CONTRACT.md "Domains", the half the name alone decides (IP literals, localhost, single labels, too deep under
   * ROOT_DOMAIN: 400 on the field that produced the name; the platform's own names: 409 domain_taken). Also refuses
   * one domain named twice in the app.
   */
  private checkDomainShapes(input: DeployInput, domains: { service: string; domain: string }[]): void {
    const field = (service: string, given: boolean): { key: string; label: string } => {
      if (!input.services) return given ? { key: 'domain', label: 'domain' } : { key: 'name', label: 'the default domain (from name)' };
      const i = input.services.findIndex((s) => s.name === service);
      return { key: 'services', label: given ? `services[${i}].domain` : `the default domain of services[${i}]` };
    };
    const seen = new Set<string>();
    for (const d of domains) {
      const given = input.services ? !!input.services.find((s) => s.name === d.service)?.domain : !!input.domain;
      const f = field(d.service, given);
      if (seen.has(d.domain)) throw AppError.validation({ [f.key]: [`${f.label}: ${d.domain} is already a domain of another service of this app`] });
      seen.add(d.domain);
      const problem = domainShapeProblem(d.domain, this.deps.config);
      if (problem?.code === 'validation') throw AppError.validation({ [f.key]: [`${f.label}: ${problem.message}`] }, `Domain ${d.domain} cannot be used`);
      if (problem) throw new AppError('domain_taken', problem.message, { details: { domain: d.domain } });
    }
  }

  /**
   * 409 domain_taken for a domain any other app holds, or one inside or containing a domain another org holds.
   * Runs in the transaction that stores the domains, after takeWriteLock; the domains primary key stays the
   * arbiter of exact duplicates.
   */
  private async checkDomainHolders(tx: Db, orgId: string, appId: string, wanted: string[]): Promise<void> {
    if (!wanted.length) return;
    const exactOrParent = [...new Set(wanted.flatMap((d) => [d, ...parentsOf(d)]))];
    const held: HeldDomain[] = await tx
      .selectFrom('domains')
      .innerJoin('apps', 'apps.id', 'domains.app_id')
      .select(['domains.domain as domain', 'domains.app_id as app_id', 'apps.org_id as org_id'])
      .where('domains.app_id', '!=', appId)
      .where((eb) =>
        eb.or([
          eb('domains.domain', 'in', exactOrParent),
          // Names under a wanted one: the last length(".d") characters are ".d" (no LIKE: no wildcards to escape).
          ...wanted.map((d) => eb(sql<string>`substr(domains.domain, ${-(d.length + 1)})`, '=', `.${d}`)),
        ]),
      )
      .execute();
    const clash = conflictingHolder(wanted, held, { appId, orgId });
    if (clash) throw new AppError('domain_taken', clash.message, { details: { domain: clash.domain } });
  }

  private async checkQuota(tx: Db, orgId: string, appId: string, spec: AppSpec): Promise<void> {
    const q = this.deps.config.quota;
    const others = await tx.selectFrom('apps').select(['id', 'spec']).where('org_id', '=', orgId).where('id', '!=', appId).execute();
    const used = others.reduce(
      (t, a) => {
        const s = totals(JSON.parse(a.spec) as AppSpec);
        return { cpu: t.cpu + s.cpu, memory: t.memory + s.memory };
      },
      { cpu: 0, memory: 0 },
    );
    const mine = totals(spec);
    const over: string[] = [];
    if (others.length + 1 > q.maxApps) over.push(`apps: ${others.length + 1} > ${q.maxApps}`);
    if (used.cpu + mine.cpu > q.maxCpu + 1e-9) over.push(`cpu: ${+(used.cpu + mine.cpu).toFixed(3)} > ${q.maxCpu} cores`);
    if (used.memory + mine.memory > q.maxMemoryMb) over.push(`memory: ${used.memory + mine.memory} > ${q.maxMemoryMb} MB`);
    if (over.length) throw new AppError('quota_exceeded', `Org quota exceeded (${over.join('; ')})`, { details: { apps: q.maxApps, cpu: q.maxCpu, memoryMb: q.maxMemoryMb } });
  }
}

/**
 * Kysely's SQLite driver opens transactions with a deferred BEGIN, which takes SQLite's write lock only at the first
 * write. A write that changes nothing takes it now (BEGIN IMMEDIATE's effect): until commit no other connection can
 * write, so the reads that follow decide on the state the writes will land on. Inside this process Kysely's single
 * connection already runs one transaction at a time; this makes it hold for any other connection too.
 */
async function takeWriteLock(tx: Db): Promise<void> {
  await sql`update apps set id = id where 0`.execute(tx);
}
