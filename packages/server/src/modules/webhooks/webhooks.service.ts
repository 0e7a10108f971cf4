// GitHub push-to-deploy. A delivery is trusted only after its X-Hub-Signature-256 (HMAC-SHA256 over the exact raw
// body with the app's webhook secret) verifies in constant time; until then nothing is parsed, queued or logged
// beyond the app id, and an unknown app answers exactly like a wrong signature.
//
// A signature proves who sent a payload, not when: a captured delivery stays valid forever. So a push builds its
// `after` only while that commit is still the branch head on the remote (asked with `git ls-remote` before queueing);
// a replay of an older push answers `queued: false`, reason `stale_push`. Verified deliveries are also limited per
// app (WEBHOOK_RATE_LIMIT a minute), so a replayed delivery cannot keep the control plane asking the remote.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { DockerError } from '@cynchro/docker-driver';
import type { Deps } from '../../deps.js';
import { AppError } from '../../errors/app-error.js';
import { RateLimiter } from '../../http/rate-limiter.js';
import type { AppSpec } from '../apps/app-spec.js';
import { AppsRepo, type QueueGuard, type QueuedDeployment } from '../apps/apps.repo.js';
import type { AppsTable } from '../apps/apps.tables.js';
import type { AuditService } from '../audit/audit.service.js';
import type { DeployService } from '../deploy/deploy.service.js';
import { AAD } from '../vault/aad.js';
import type { VaultService } from '../vault/vault.service.js';

const SIGNATURE = /^sha256=([0-9a-f]{64})$/i;
const SHA = /^[0-9a-f]{40}$/i;
const ZERO_SHA = /^0+$/;
const MAX_DELIVERY_ID = 200;
/** Apps whose recent deliveries are remembered at once (the least recently seen goes first beyond this). */
const MAX_LIMITED_APPS = 10_000;
/** GitHub gives a delivery 10 s to be answered; asking the remote must fit well inside. */
export const REMOTE_HEAD_TIMEOUT_MS = 8_000;
/** The `reason` of a push whose `after` is no longer the branch head (a replay, or a push overtaken by another). */
export const STALE_PUSH = 'stale_push';

/** Parses `sha256=<64 hex>`; anything else (absent, repeated, another algorithm, wrong length) is malformed. */
export function parseSignatureHeader(header: string | string[] | undefined): Buffer | null {
  if (typeof header !== 'string') return null;
  const m = SIGNATURE.exec(header.trim());
  return m ? Buffer.from(m[1]!, 'hex') : null;
}

/** GitHub's scheme: `sha256=` + hex HMAC-SHA256 of the raw body, compared in constant time. */
export function verifyGithubSignature(secret: string, rawBody: Buffer | string, header: string | string[] | undefined): boolean {
  const given = parseSignatureHeader(header);
  const expected = createHmac('sha256', secret).update(rawBody).digest();
  // Both are 32 bytes whenever the header parsed; the length check only guards timingSafeEqual's precondition.
  if (!given || given.length !== expected.length) return false;
  return timingSafeEqual(given, expected);
}

export function signGithubPayload(secret: string, rawBody: Buffer | string): string {
  return `sha256=${createHmac('sha256', secret).update(rawBody).digest('hex')}`;
}

export interface WebhookDelivery {
  appId: string;
  rawBody: Buffer;
  contentType: string | undefined;
  signature: string | string[] | undefined;
  event: string | string[] | undefined;
  deliveryId: string | string[] | undefined;
  /** The client address, for the audit trail. */
  ip?: string;
}

export interface WebhookResult {
  ok: true;
  event: string;
  /** Whether this delivery has a deployment (new, joined or, for a redelivery, the original one). */
  queued: boolean;
  deploymentId?: string;
  commitSha?: string;
  outcome?: QueuedDeployment['outcome'];
  /** Why nothing was queued (`stale_push`: `after` is no longer the head of the branch). */
  reason?: string;
}

interface PushPayload {
  ref?: unknown;
  after?: unknown;
  deleted?: unknown;
}

export class WebhooksService {
  private readonly repo: AppsRepo;
  /** Verifies requests for unknown apps too, so they take as long as a wrong signature for a real one. */
  private readonly decoySecret = randomBytes(32).toString('hex');
  /** Keyed by app id, and only for verified deliveries: unknown ids and bad signatures never take a key. */
  private readonly limiter: RateLimiter;

  constructor(
    private readonly deps: Pick<Deps, 'db' | 'clock' | 'log' | 'config' | 'git'>,
    private readonly vault: VaultService,
    private readonly deploy: DeployService,
    private readonly audit: AuditService,
  ) {
    this.repo = new AppsRepo(deps.db);
    // WEBHOOK_RATE_LIMIT verified deliveries per app per minute; more answer 429 rate_limited with Retry-After.
    this.limiter = new RateLimiter(deps.config.webhookRateLimit, 60_000, MAX_LIMITED_APPS);
  }

  async handle(d: WebhookDelivery): Promise<WebhookResult> {
    // Sealed first, whatever the app id: the answer must not depend on whether the app exists.
    this.vault.assertUnsealed();
    const app = d.appId.length <= 64 ? await this.repo.findById(d.appId) : undefined;
    const secret = app?.webhook_secret ? this.vault.decrypt(AAD.webhookSecret(app.org_id, app.id), app.webhook_secret) : this.decoySecret;
    const valid = verifyGithubSignature(secret, d.rawBody, d.signature);
    if (!app?.webhook_secret || !valid) throw new AppError('invalid_signature', 'Missing or invalid X-Hub-Signature-256');
    const wait = this.limiter.hit(app.id, this.deps.clock.now().getTime());
    if (wait > 0) throw new AppError('rate_limited', 'Too many deliveries for this app; retry later', { retryAfter: wait });

    const event = typeof d.event === 'string' ? d.event.trim() : '';
    // Verified deliveries only are recorded: anyone can post a bad signature, and that must not fill an org's trail.
    const record = (outcome: 'ok' | 'failed', detail: string | null) =>
      this.audit.record({ orgId: app.org_id, actor: { userId: null, email: null, tokenId: null }, action: 'webhook.delivery', target: { type: 'app', id: app.id, name: app.name }, outcome, ip: d.ip ?? null, detail });
    let result: WebhookResult;
    try {
      result = await this.dispatch(app, event, d);
    } catch (e) {
      await record('failed', e instanceof AppError ? e.code : 'internal');
      throw e;
    }
    await record('ok', [event || 'unknown', result.outcome ?? result.reason ?? null].filter(Boolean).join(': ').slice(0, 200));
    this.deps.log.info({ appId: app.id, event, delivery: typeof d.deliveryId === 'string' ? d.deliveryId : undefined, queued: result.queued, outcome: result.outcome, reason: result.reason, deploymentId: result.deploymentId }, 'github webhook');
    return result;
  }

  private async dispatch(app: AppsTable, event: string, d: WebhookDelivery): Promise<WebhookResult> {
    if (event === 'ping') return { ok: true, event, queued: false };
    if (event !== 'push') return { ok: true, event: event || 'unknown', queued: false, reason: event ? `the ${event} event is ignored` : 'no X-GitHub-Event header' };

    const spec = JSON.parse(app.spec) as AppSpec;
    if (!spec.repo || !spec.services.some((s) => s.build)) return { ok: true, event, queued: false, reason: 'the app is not built from a repository' };
    const payload = parsePayload(d.rawBody, d.contentType) as PushPayload;
    if (typeof payload.ref !== 'string') throw AppError.validation({ ref: ['required'] }, 'The push payload has no ref');
    const branchRef = `refs/heads/${spec.repo.branch}`;
    if (payload.deleted === true || (typeof payload.after === 'string' && ZERO_SHA.test(payload.after))) {
      return { ok: true, event, queued: false, reason: `${payload.ref} was deleted` };
    }
    if (payload.ref.startsWith('refs/tags/')) return { ok: true, event, queued: false, reason: `tag push (${payload.ref}) is not deployed` };
    if (payload.ref !== branchRef) return { ok: true, event, queued: false, reason: `push to ${payload.ref}; the app deploys ${branchRef}` };
    if (typeof payload.after !== 'string' || !SHA.test(payload.after)) throw AppError.validation({ after: ['must be a 40-character hex commit sha'] }, 'The push payload has no valid after sha');

    const commitSha = payload.after.toLowerCase();
    const deliveryId = typeof d.deliveryId === 'string' && d.deliveryId.trim() ? d.deliveryId.trim() : null;
    if (deliveryId && deliveryId.length > MAX_DELIVERY_ID) throw AppError.validation({ 'X-GitHub-Delivery': [`at most ${MAX_DELIVERY_ID} characters`] });
    // A redelivery of a delivery already acted on answers its deployment, whatever the branch head is now.
    const seen = deliveryId ? await this.seenDelivery(app.id, deliveryId) : undefined;
    if (seen) return { ok: true, event, queued: true, deploymentId: seen, commitSha, outcome: 'duplicate' };
    const head = await this.branchHead(app, spec.repo);
    if (head !== commitSha) return { ok: true, event, queued: false, commitSha, reason: STALE_PUSH };
    const r = await this.deploy
      .queueDeployment(app, { trigger: 'webhook', commitSha, guard: this.guard(app.id, deliveryId, event, commitSha) })
      .catch((e: unknown) => {
        // Deleted since it was verified: as unknown as any other missing app.
        throw e instanceof AppError && e.code === 'app_not_found' ? new AppError('invalid_signature', 'Missing or invalid X-Hub-Signature-256') : e;
      });
    return { ok: true, event, queued: true, deploymentId: r.deploymentId, commitSha, outcome: r.outcome };
  }

  private async seenDelivery(appId: string, deliveryId: string): Promise<string | undefined> {
    const row = await this.deps.db.selectFrom('webhook_deliveries').select('deployment_id').where('app_id', '=', appId).where('delivery_id', '=', deliveryId).executeTakeFirst();
    return row?.deployment_id;
  }

  /**
   * Where the app's branch points on the remote now (null: the branch is gone), with the app's stored repo token.
   * When the remote cannot say, nothing is queued: 503 unavailable, so GitHub shows a failed delivery to redeliver.
   */
  private async branchHead(app: AppsTable, repo: NonNullable<AppSpec['repo']>): Promise<string | null> {
    const token = repo.token ? this.vault.decrypt(AAD.repoToken(app.org_id, app.id), repo.token) : undefined;
    try {
      const head = await this.deps.git.remoteHead({
        repoUrl: repo.url,
        branch: repo.branch,
        ...(token ? { token } : {}),
        allowHosts: this.deps.config.gitAllowHosts,
        timeoutMs: REMOTE_HEAD_TIMEOUT_MS,
      });
      return head?.toLowerCase() ?? null;
    } catch (e) {
      if (!(e instanceof DockerError)) throw e;
      this.deps.log.warn({ appId: app.id, err: e.message }, 'github webhook: cannot read the branch head');
      throw new AppError('unavailable', `Cannot confirm that the pushed commit is the head of ${repo.branch} (${e.message}); nothing was queued, redeliver once the repository answers`);
    }
  }

  /** Redelivery (same delivery id) answers the original deployment; the same commit joins one queued/building. */
  private guard(appId: string, deliveryId: string | null, event: string, commitSha: string): QueueGuard {
    const now = () => this.deps.clock.now().toISOString();
    return {
      async reuse(tx, app) {
        if (deliveryId) {
          const seen = await tx.selectFrom('webhook_deliveries').select('deployment_id').where('app_id', '=', app.id).where('delivery_id', '=', deliveryId).executeTakeFirst();
          if (seen) return { deploymentId: seen.deployment_id, outcome: 'duplicate' };
        }
        const same = await tx
          .selectFrom('deployments')
          .select('id')
          .where('app_id', '=', app.id)
          .where('commit_sha', '=', commitSha)
          .where('status', 'in', ['queued', 'building'])
          .where('cancel_requested', '=', 0)
          // Only a deployment of the app as stored now: after a /deploy changed it, the commit is rebuilt with it.
          .where('spec', '=', app.spec)
          .orderBy('created_at', 'desc')
          .executeTakeFirst();
        return same ? { deploymentId: same.id, outcome: 'coalesced' } : undefined;
      },
      async record(tx, deploymentId) {
        if (!deliveryId) return;
        await tx.insertInto('webhook_deliveries').values({ app_id: appId, delivery_id: deliveryId, event, deployment_id: deploymentId, created_at: now() }).execute();
      },
    };
  }
}

/** `application/json` is the body itself; `application/x-www-form-urlencoded` carries it in the `payload` field. */
export function parsePayload(raw: Buffer, contentType: string | undefined): unknown {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  let text: string;
  if (type === 'application/json' || type === '') text = raw.toString('utf8');
  else if (type === 'application/x-www-form-urlencoded') {
    const p = new URLSearchParams(raw.toString('utf8')).get('payload');
    if (p === null) throw AppError.validation({ payload: ['required'] }, 'A form delivery carries the JSON in a `payload` field');
    text = p;
  } else throw new AppError('unsupported_media_type', 'Deliveries must be application/json or application/x-www-form-urlencoded');
  try {
    const v: unknown = JSON.parse(text);
    if (v && typeof v === 'object' && !Array.isArray(v)) return v;
  } catch {
    /* below */
  }
  throw new AppError('validation', 'The delivery payload is not a JSON object');
}
