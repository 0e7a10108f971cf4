import type { Deps } from '../../deps.js';
import { AuditRepo } from './audit.repo.js';
import type { AuditEventDto } from './audit.schema.js';

export interface AuditActor {
  userId: string | null;
  email: string | null;
  tokenId: string | null;
}

export interface AuditTarget {
  type: string;
  id: string | null;
  name: string | null;
}

export interface AuditRecord {
  log?: 'org' | 'admin';
  orgId: string | null;
  actor: AuditActor;
  action: string;
  target: AuditTarget | null;
  outcome: 'ok' | 'denied' | 'failed';
  ip: string | null;
  /** An error code or short reason; never a secret value. */
  detail?: string | null;
}

/** The audit trail: written by the audit middleware (and the webhook route, which is no procedure); read by owners/admins. */
export class AuditService {
  readonly #repo: AuditRepo;

  constructor(private readonly deps: Pick<Deps, 'db' | 'clock' | 'log'>) {
    this.#repo = new AuditRepo(deps.db);
  }

  /** Never throws: a failed audit write is logged, and the action it describes stands. */
  async record(r: AuditRecord): Promise<void> {
    try {
      await this.#repo.insert({
        at: this.deps.clock.now().toISOString(),
        log: r.log ?? 'org',
        org_id: r.orgId,
        user_id: r.actor.userId,
        email: r.actor.email,
        token_id: r.actor.tokenId,
        action: r.action,
        outcome: r.outcome,
        target_type: r.target?.type ?? null,
        target_id: r.target?.id ?? null,
        target_name: r.target?.name ?? null,
        ip: r.ip,
        detail: r.detail ?? null,
      });
    } catch (err) {
      this.deps.log.error({ err, action: r.action }, 'audit write failed');
    }
  }

  async list(log: 'org' | 'admin', orgId: string | undefined, limit: number, before?: string): Promise<{ events: AuditEventDto[]; nextCursor: string | null }> {
    const rows = await this.#repo.page(log, orgId, limit + 1, before === undefined ? undefined : Number(before));
    const page = rows.slice(0, limit);
    return {
      events: page.map((r) => ({
        id: String(r.id),
        at: r.at,
        actor: { userId: r.user_id, email: r.email, tokenId: r.token_id },
        action: r.action,
        target: { type: r.target_type, id: r.target_id, name: r.target_name },
        outcome: r.outcome as AuditEventDto['outcome'],
        ip: r.ip,
        detail: r.detail,
      })),
      nextCursor: rows.length > limit ? String(page[page.length - 1]!.id) : null,
    };
  }
}
