// Housekeeping that runs inside the server: on start and then daily it prunes old webhook deliveries, expired
// sessions and refresh tokens and, when the vault holds more than one data-key term (an operator's or the vault's
// automatic rotation), kicks re-encryption.
import type { Deps } from '../../deps.js';
import { pruneExpiredSessions } from '../auth/auth.service.js';
import type { OrgsService } from '../orgs/orgs.service.js';
import type { TokensService } from '../tokens/tokens.service.js';
import type { ReencryptJob } from '../vault/reencrypt-job.js';

const DAY_MS = 24 * 60 * 60 * 1000;

export interface MaintenanceOptions {
  /** Between housekeeping rounds (default one day). */
  intervalMs?: number;
  /** Webhook deliveries older than this are deleted (default 30 days). */
  deliveryRetentionMs?: number;
}

export class Maintenance {
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> | null = null;
  private readonly intervalMs: number;
  private readonly retentionMs: number;
  /** Finish a re-encryption a seal or restart cut short (a no-op with one term) once the keys are back. */
  private readonly onUnsealed = () => void this.reencrypt.kick('unseal');

  constructor(
    private readonly deps: Pick<Deps, 'db' | 'vault' | 'clock' | 'log' | 'events'>,
    readonly reencrypt: ReencryptJob,
    private readonly owners: { orgs: OrgsService; tokens: TokensService },
    options: MaintenanceOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? DAY_MS;
    this.retentionMs = options.deliveryRetentionMs ?? 30 * DAY_MS;
  }

  /** One round now (in the background), then one every interval; the timer never keeps the process alive. */
  start(): void {
    if (this.timer) return;
    this.deps.events.on('vault-unsealed', this.onUnsealed);
    this.tick();
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    this.timer.unref();
  }

  /** Clears the timer and waits for a round and a re-encryption run in progress to end (the latter stops early). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.deps.events.off('vault-unsealed', this.onUnsealed);
    this.timer = null;
    await Promise.all([this.inFlight, this.reencrypt.stop()]);
  }

  /** Deletes webhook deliveries older than the retention; answers how many. */
  async pruneWebhookDeliveries(): Promise<number> {
    const cutoff = new Date(this.deps.clock.now().getTime() - this.retentionMs).toISOString();
    const r = await this.deps.db.deleteFrom('webhook_deliveries').where('created_at', '<', cutoff).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  /** Deletes expired sessions and refresh tokens, and sessions revoked over a week ago (auth.service.ts). */
  pruneSessions(): Promise<{ sessions: number; refreshTokens: number }> {
    return pruneExpiredSessions(this.deps.db, this.deps.clock.now());
  }

  /** Expired invitations, and API tokens revoked or expired over a week ago (their owners delete them). */
  async pruneInvitationsAndTokens(): Promise<{ invitations: number; tokens: number }> {
    const now = this.deps.clock.now();
    return {
      invitations: await this.owners.orgs.pruneInvitations(now),
      tokens: await this.owners.tokens.prune(new Date(now.getTime() - 7 * DAY_MS)),
    };
  }

  private tick(): void {
    if (this.inFlight) return;
    this.inFlight = this.round().finally(() => {
      this.inFlight = null;
    });
  }

  private async round(): Promise<void> {
    const { log, vault } = this.deps;
    try {
      const pruned = await this.pruneWebhookDeliveries();
      if (pruned > 0) log.info({ pruned }, 'pruned old webhook deliveries');
    } catch (error) {
      log.error({ err: error }, 'pruning webhook deliveries failed');
    }
    try {
      const pruned = await this.pruneInvitationsAndTokens();
      if (pruned.invitations + pruned.tokens > 0) log.info(pruned, 'pruned expired invitations and API tokens');
    } catch (error) {
      log.error({ err: error }, 'pruning invitations and API tokens failed');
    }
    try {
      const pruned = await this.pruneSessions();
      if (pruned.sessions + pruned.refreshTokens > 0) log.info(pruned, 'pruned expired sessions and refresh tokens');
    } catch (error) {
      log.error({ err: error }, 'pruning sessions failed');
    }
    try {
      const status = vault.status();
      if (!status.sealed && status.terms.length > 1) this.reencrypt.kick('maintenance');
    } catch (error) {
      log.error({ err: error }, 're-encryption kick failed');
    }
  }
}
