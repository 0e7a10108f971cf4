// The documented error responses of an operation, by status: shared by the generated document (openapi-document.ts)
// and the plain Fastify routes that document themselves (webhooks, log streams, metrics). Kept apart from the
// document's builder so that those routes do not load trpc-to-openapi's generator at start (see build-server.ts).
import { ERROR_STATUS, type ErrorCode } from '../errors/app-error.js';

export function errorResponses(codes: readonly ErrorCode[]): Record<string, unknown> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const c of new Set<ErrorCode>([...codes, 'internal'])) {
    const s = ERROR_STATUS[c];
    byStatus.set(s, [...(byStatus.get(s) ?? []), c]);
  }
  const out: Record<string, unknown> = {};
  for (const [status, cs] of [...byStatus].sort((a, b) => a[0] - b[0])) {
    out[String(status)] = {
      description: cs.map((c) => `\`${c}\``).join(', '),
      content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
      ...(cs.includes('rate_limited') ? { headers: { 'Retry-After': { schema: { type: 'integer' }, description: 'Seconds to wait' } } } : {}),
    };
  }
  return out;
}
