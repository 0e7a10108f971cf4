// GitHub deliveries for tests: the real payloads in shared/fixtures (beside the repo clone in CI, ../shared; the
// repo's parent here), rewritten to a test repo's branch and commit, signed the way GitHub signs them.
import { createHmac, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

let fixturesDir: string | undefined;

/** Walks up from this file to the first folder holding `shared/fixtures`; fails loudly when there is none. */
export function findFixturesDir(): string {
  if (fixturesDir) return fixturesDir;
  const start = path.dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'shared', 'fixtures');
    if (fs.existsSync(path.join(candidate, 'github-push-new-branch.json'))) return (fixturesDir = candidate);
    if (path.dirname(dir) === dir) break;
  }
  throw new Error(`GitHub webhook fixtures not found: no shared/fixtures/github-push-new-branch.json in ${start} or any folder above it (CI keeps shared/ beside the repo clone)`);
}

export type FixtureName = 'github-push-new-branch' | 'github-push-tag-deleted' | 'github-ping';

export function loadFixture(name: FixtureName): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(path.join(findFixturesDir(), `${name}.json`), 'utf8')) as Record<string, unknown>;
}

/** A fixture with `ref`, `before` and `after` replaced (and any other top-level fields), as JSON text. */
export function rewritten(name: FixtureName, fields: Record<string, unknown> = {}): string {
  return JSON.stringify({ ...loadFixture(name), ...fields });
}

export function sign(secret: string, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export interface Delivery {
  event: string;
  body: string | Buffer;
  /** Signs the exact body with this secret; ignored when `signature` is given. */
  secret?: string;
  /** The header value as sent; `null` sends no header at all. */
  signature?: string | null;
  contentType?: string;
  delivery?: string;
}

export interface DeliveryReply {
  status: number;
  body: any;
  ms: number;
  headers: Record<string, unknown>;
}

export function deliveryHeaders(d: Delivery): Record<string, string> {
  const headers: Record<string, string> = {
    'content-type': d.contentType ?? 'application/json',
    'x-github-event': d.event,
    'x-github-delivery': d.delivery ?? randomUUID(),
    'user-agent': 'GitHub-Hookshot/test',
  };
  const signature = d.signature !== undefined ? d.signature : d.secret !== undefined ? sign(d.secret, d.body) : null;
  if (signature !== null) headers['x-hub-signature-256'] = signature;
  return headers;
}

/** POST /webhooks/github/:appId in process (the exact bytes of `body`). */
export async function deliver(app: FastifyInstance, appId: string, d: Delivery): Promise<DeliveryReply> {
  const t0 = performance.now();
  const res = await app.inject({ method: 'POST', url: `/webhooks/github/${appId}`, payload: d.body, headers: deliveryHeaders(d) });
  return { status: res.statusCode, body: res.body ? res.json() : undefined, ms: performance.now() - t0, headers: res.headers };
}

export const sha = (seed: string) => createHmac('sha1', 'test').update(seed).digest('hex');
