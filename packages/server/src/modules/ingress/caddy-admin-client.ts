// A thin client for Caddy's admin API (used once, at the control plane's start) that turns every failure into an
// IngressError saying what went wrong: "Caddy is not running" reads differently from "Caddy refused this config".
import http from 'node:http';
import { IngressError } from './ingress.js';

export class CaddyAdminError extends IngressError {
  override name = 'CaddyAdminError';
  constructor(
    message: string,
    /** The admin API's status; 0 when Caddy could not be reached at all. */
    readonly status: number,
  ) {
    super(message);
  }

  /** The connection was reset before an answer: Caddy may or may not have applied the change. */
  transient = false;
}

// Caddy 2.6 replaces its admin listener (SO_REUSEPORT) on every config change, so a call made right after a change
// can be reset before Caddy reads it. Such calls are retried when repeating them cannot change the outcome.
const TRANSIENT = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET']);
const RETRY_DELAYS_MS = [25, 100, 250];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface AdminResponse {
  status: number;
  text: string;
}

export type Transport = (method: string, url: string, body: string | undefined, timeoutMs: number) => Promise<AdminResponse>;

/**
 * One fresh connection per admin call. Caddy 2.6 restarts its admin endpoint on every config change (and on the
 * rollback after a refused one), which leaves a pooled keep-alive socket dead: the next call would fail with "other
 * side closed" although Caddy is fine. Admin calls are a few per start, so the extra handshake costs nothing.
 */
const nodeTransport: Transport = (method, url, body, timeoutMs) =>
  new Promise((resolve, reject) => {
    const req = http.request(url, {
      method,
      agent: false,
      headers: body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      timeout: timeoutMs,
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      res.on('error', reject);
    });
    req.end(body);
  });

export class CaddyAdminClient {
  readonly #base: string;
  readonly #transport: Transport;
  readonly #timeoutMs: number;

  constructor(adminUrl: string, timeoutMs = 15_000, transport: Transport = nodeTransport) {
    this.#base = adminUrl.replace(/\/+$/, '');
    this.#transport = transport;
    this.#timeoutMs = timeoutMs;
  }

  get baseUrl(): string {
    return this.#base;
  }

  /**
   * Sends one admin request; answers the parsed JSON body (null when empty). Config changes block until applied.
   * `idempotent` (default: GET, PATCH, DELETE) allows resending after a connection reset; POST and PUT append to
   * arrays, and Caddy 2.6 accepts duplicate @ids, so they are sent once unless the caller says repeating is harmless.
   */
  async request(
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    path: string,
    body?: unknown,
    opts: { idempotent?: boolean } = {},
  ): Promise<unknown> {
    const idempotent = opts.idempotent ?? (method === 'GET' || method === 'PATCH' || method === 'DELETE');
    const payload = body === undefined ? undefined : JSON.stringify(body);
    let res: AdminResponse | undefined;
    for (let attempt = 0; res === undefined; attempt++) {
      try {
        res = await this.#transport(method, this.#base + path, payload, this.#timeoutMs);
      } catch (err) {
        const e = err as Error & { code?: string; cause?: { code?: string; message?: string } };
        const code = e.code ?? e.cause?.code;
        const transient = code !== undefined && TRANSIENT.has(code);
        if (transient && idempotent && attempt < RETRY_DELAYS_MS.length) {
          await sleep(RETRY_DELAYS_MS[attempt]!);
          continue;
        }
        const why = code ?? e.cause?.message ?? e.message;
        const failure = new CaddyAdminError(`Caddy admin API at ${this.#base} is unreachable (${why}); is Caddy running?`, 0);
        failure.transient = transient;
        throw failure;
      }
    }
    if (res.status < 200 || res.status > 299) {
      let detail = res.text.trim();
      try {
        detail = String((JSON.parse(res.text) as { error?: unknown }).error ?? detail);
      } catch {
        // Not JSON: keep the raw text.
      }
      throw new CaddyAdminError(`Caddy admin API ${method} ${path} failed with ${res.status}: ${detail}`, res.status);
    }
    return res.text.trim() === '' ? null : (JSON.parse(res.text) as unknown);
  }

  /** GET that answers null for a path that does not exist (Caddy says `null`, or "invalid traversal" above it). */
  async get(path: string): Promise<unknown> {
    try {
      return await this.request('GET', path);
    } catch (err) {
      if (err instanceof CaddyAdminError && err.status === 400 && /invalid traversal path/i.test(err.message)) return null;
      throw err;
    }
  }
}
