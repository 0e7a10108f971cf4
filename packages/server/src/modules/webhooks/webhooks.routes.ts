// POST /webhooks/github/:appId: a plain Fastify route, because the signature covers the exact raw bytes. Its own
// encapsulated scope replaces the body parsers with one that keeps the raw Buffer, so every other route keeps
// Fastify's JSON parsing.
import type { FastifyInstance } from 'fastify';
import { errorResponses } from '../../http/error-responses.js';
import type { Services } from '../../services.js';

/** GitHub caps deliveries at 25 MB; push payloads (≤ 20 commits) stay far below this. */
export const WEBHOOK_BODY_LIMIT = 5 * 1024 * 1024;

export function webhookRoutes(services: Pick<Services, 'webhooks'>) {
  return async (app: FastifyInstance) => {
    app.removeAllContentTypeParsers();
    // Every type arrives raw: the signature is checked before the content type is even looked at, so an unsigned
    // request learns nothing. The service then accepts application/json and application/x-www-form-urlencoded.
    app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: WEBHOOK_BODY_LIMIT }, (_req, body, done) => done(null, body));

    app.post<{ Params: { appId: string } }>('/webhooks/github/:appId', { bodyLimit: WEBHOOK_BODY_LIMIT }, async (req, reply) => {
      const result = await services.webhooks.handle({
        appId: req.params.appId,
        rawBody: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0),
        contentType: req.headers['content-type'],
        signature: req.headers['x-hub-signature-256'],
        event: req.headers['x-github-event'],
        deliveryId: req.headers['x-github-delivery'],
        ip: req.ip,
      });
      return reply.code(200).send(result);
    });
  };
}

const WebhookResultSchema = {
  type: 'object',
  required: ['ok', 'event', 'queued'],
  properties: {
    ok: { type: 'boolean', enum: [true] },
    event: { type: 'string', description: 'The X-GitHub-Event that was handled' },
    queued: { type: 'boolean', description: 'Whether this delivery has a deployment (new, joined, or the original one for a redelivery)' },
    deploymentId: { type: 'string' },
    commitSha: { type: 'string', description: 'The pushed commit (`after`) the deployment builds' },
    outcome: {
      type: 'string',
      enum: ['queued', 'coalesced', 'duplicate'],
      description: '`queued`: a new deployment; `coalesced`: the commit was already queued or building; `duplicate`: a redelivery of a delivery already acted on',
    },
    reason: {
      type: 'string',
      description:
        'Why nothing was queued (another branch, a tag, a deletion, an ignored event, an image app); `stale_push` when `after` is no longer the head of the branch on the repository (a replayed or overtaken push)',
    },
  },
} as const;

export const webhooksOpenApi = {
  '/webhooks/github/{appId}': {
    post: {
      tags: ['Webhooks'],
      summary: 'GitHub push events (push-to-deploy)',
      description:
        "No bearer token: the delivery is verified by `X-Hub-Signature-256` (`sha256=` + hex HMAC-SHA256 of the exact raw body with the app's webhook secret). " +
        'A missing, malformed or wrong signature and an unknown app both answer 401 `invalid_signature`, and nothing happens. ' +
        '`ping` answers 200. A `push` to `refs/heads/<the app branch>` queues one deployment of the pushed commit (`after`) and answers at once; ' +
        'pushes to other branches, tag pushes, branch deletions and other events answer 200 with `queued: false` and a `reason`. ' +
        'The same `X-GitHub-Delivery` twice queues one deployment; a commit already queued or building is joined. ' +
        'Before queueing, the repository is asked where the branch points (`git ls-remote`, with the app\'s repo token): a push whose `after` is no longer the head ' +
        '(a replayed delivery, or one overtaken by a newer push) answers 200 with `queued: false` and reason `stale_push`; when the repository cannot be asked, 503 `unavailable` and nothing is queued. ' +
        'Verified deliveries are limited per app (`WEBHOOK_RATE_LIMIT` a minute, default 30; beyond: 429 `rate_limited` with `Retry-After`). While the vault is sealed: 503 `sealed`.',
      parameters: [
        { name: 'appId', in: 'path', required: true, schema: { type: 'string' } },
        { name: 'X-Hub-Signature-256', in: 'header', required: true, schema: { type: 'string', pattern: '^sha256=[0-9a-f]{64}$' } },
        { name: 'X-GitHub-Event', in: 'header', required: true, schema: { type: 'string', example: 'push' } },
        { name: 'X-GitHub-Delivery', in: 'header', required: false, schema: { type: 'string', maxLength: 200 }, description: 'Redeliveries resend the same id' },
      ],
      requestBody: {
        required: true,
        content: {
          'application/json': { schema: { type: 'object', description: 'The GitHub event payload', additionalProperties: true } },
          'application/x-www-form-urlencoded': {
            schema: { type: 'object', required: ['payload'], properties: { payload: { type: 'string', description: 'The event payload as JSON' } } },
          },
        },
      },
      responses: {
        '200': { description: 'Verified and handled (queued or ignored)', content: { 'application/json': { schema: WebhookResultSchema } } },
        ...errorResponses(['validation', 'invalid_signature', 'payload_too_large', 'unsupported_media_type', 'rate_limited', 'sealed', 'unavailable']),
      },
    },
  },
};
