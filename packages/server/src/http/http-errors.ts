// The HTTP layer's own failures, in the one error shape `{ error, message }` with the catalog's status:
// - what Node's parser refuses before Fastify sees a request (clientError: bad framing, a bad chunk size, a NUL in
//   a header, an unknown method → 400 bad_request; oversized headers → 431 header_too_large; a client too slow to
//   send its request → 408 request_timeout);
// - what Fastify's router refuses (bad percent-escapes, overlong UTF-8 → 400 bad_request);
// - request targets this server does not serve (absolute-form, asterisk-form, dot segments, backslashes, an
//   HTTP/1.1 request without Host → 400 bad_request; REST paths in another case or with a trailing slash → 404);
// - Fastify's own errors (body parsing, content types, sizes).
import http, { type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { AnyTRPCRouter } from '@trpc/server';
import type { FastifyError } from 'fastify';
import { AppError } from '../errors/app-error.js';
import { toAppError } from '../errors/to-app-error.js';
import type { Meta } from '../trpc/trpc.js';

/** The raw bytes of an HTTP/1.1 error answer, for sockets no response object owns; the connection closes. */
export function rawErrorResponse(e: AppError, extraHeaders: Record<string, string> = {}): string {
  const body = JSON.stringify(e.toBody());
  const headers = {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(body)),
    Connection: 'close',
    ...(e.retryAfter !== undefined ? { 'Retry-After': String(e.retryAfter) } : {}),
    ...extraHeaders,
  };
  const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}`);
  return `HTTP/1.1 ${e.status} ${http.STATUS_CODES[e.status] ?? 'Error'}\r\n${lines.join('\r\n')}\r\n\r\n${body}`;
}

const PARSER_MESSAGES: Record<string, string> = {
  HPE_INVALID_METHOD: 'Unknown HTTP method',
  HPE_INVALID_URL: 'Malformed request target',
  HPE_INVALID_VERSION: 'Unsupported HTTP version',
  HPE_INVALID_HEADER_TOKEN: 'Invalid character in a header',
  HPE_INVALID_CONTENT_LENGTH: 'Invalid Content-Length header',
  HPE_UNEXPECTED_CONTENT_LENGTH: 'Content-Length together with Transfer-Encoding',
  HPE_INVALID_TRANSFER_ENCODING: 'Invalid Transfer-Encoding header (or one together with Content-Length)',
  HPE_INVALID_CHUNK_SIZE: 'Malformed chunked body',
  HPE_CHUNK_EXTENSIONS_OVERFLOW: 'Malformed chunked body',
  HPE_INVALID_CONSTANT: 'Malformed HTTP request',
  HPE_LF_EXPECTED: 'Malformed HTTP request',
  HPE_CR_EXPECTED: 'Malformed HTTP request',
  HPE_INVALID_EOF_STATE: 'Incomplete HTTP request',
};

/** What a clientError stands for. Null: nothing to answer (the peer is gone). */
export function clientErrorToAppError(err: { code?: string }): AppError | null {
  switch (err.code) {
    case 'ECONNRESET':
    case 'EPIPE':
      return null;
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new AppError('request_timeout', 'The request (line, headers and body) did not arrive in time');
    case 'HPE_HEADER_OVERFLOW':
      return new AppError('header_too_large', 'The request line and headers exceed 16 KiB');
    default:
      return new AppError('bad_request', PARSER_MESSAGES[err.code ?? ''] ?? 'Malformed HTTP request');
  }
}

/**
 * The server's `clientError` handler: Node raises these before any request object exists, so the answer is written
 * to the socket by hand (unless a response is already under way on it), and the connection closes.
 */
export function clientErrorHandler(err: Error & { code?: string }, socket: Socket): void {
  if (socket.destroyed) return;
  const e = clientErrorToAppError(err);
  const busy = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent;
  if (e && socket.writable && !busy) {
    // Destroyed once the answer is handed to the kernel (destroying at once could drop it).
    socket.once('finish', () => socket.destroy());
    socket.end(rawErrorResponse(e));
  } else socket.destroy();
}

/** Errors Fastify's router hands to `frameworkErrors` (never echoing the path, which may carry a token). */
export function frameworkErrorToAppError(error: FastifyError): AppError {
  switch (error.code) {
    case 'FST_ERR_BAD_URL':
      return new AppError('bad_request', 'The request path is not valid percent-encoded UTF-8');
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new AppError('bad_request', 'A path parameter is too long');
    default:
      return toAppError(error);
  }
}

/** Errors that reach Fastify's error handler: ours, body parsing and sizes, Fastify's own 4xx. */
export function fastifyErrorToAppError(error: FastifyError): AppError {
  if (error instanceof AppError) return error;
  if ((error as { validation?: unknown }).validation) return new AppError('validation', error.message);
  if (error.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || (error instanceof SyntaxError && error.statusCode === 400)) {
    return new AppError('validation', 'Malformed JSON body');
  }
  if (error.code === 'FST_ERR_BAD_URL' || error.code === 'FST_ERR_MAX_PARAM_LENGTH') return frameworkErrorToAppError(error);
  switch (error.statusCode) {
    case 404:
    case 405:
      return new AppError('not_found', 'No such route');
    case 408:
      return new AppError('request_timeout');
    case 413:
      return new AppError('payload_too_large', 'Request body too large');
    case 415:
      return new AppError('unsupported_media_type', error.message);
    case 431:
      return new AppError('header_too_large');
  }
  if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) return new AppError('bad_request', error.message);
  return toAppError(error);
}

const DOT_SEGMENT = /^(?:\.|%2e){1,2}$/i;

/** Why this server refuses a request's target or framing before routing it; null when it is fine. */
export function requestTargetProblem(req: Pick<IncomingMessage, 'url' | 'headers' | 'httpVersionMajor' | 'httpVersionMinor'>): AppError | null {
  if (req.httpVersionMajor === 1 && req.httpVersionMinor >= 1 && !req.headers.host) {
    return new AppError('bad_request', 'An HTTP/1.1 request needs a Host header');
  }
  const url = req.url ?? '';
  if (!url.startsWith('/')) return new AppError('bad_request', 'Only origin-form request targets (/path?query) are served');
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  // Every request passes here: the common path (no dot, no escape) is settled without allocating.
  const escaped = path.includes('%');
  if (!escaped && !path.includes('.') && !path.includes('\\')) return null;
  if (path.includes('\\') || (escaped && /%5c/i.test(path))) return new AppError('bad_request', 'Backslashes are not allowed in the request path');
  if (path.split('/').some((seg) => DOT_SEGMENT.test(seg))) return new AppError('bad_request', 'Dot segments (/./, /../) are not allowed in the request path');
  return null;
}

/**
 * The exact REST paths of the router (case-sensitive, no trailing slash), per method; HEAD goes with GET. Answers
 * the route a request's path is, as a pattern (`/apps/:id`), or undefined when it is none of them.
 */
export function restRouteMatcher(router: AnyTRPCRouter): (method: string, url: string) => string | undefined {
  const byMethod = new Map<string, { re: RegExp; pattern: string }[]>();
  // Paths without parameters (most of the API, /auth/me among them) by `METHOD path`: one lookup on every request,
  // which asks twice (the REST scope's check and the metrics label).
  const literal = new Map<string, string>();
  for (const proc of Object.values(router._def.procedures as Record<string, { _def?: { meta?: Meta } }>)) {
    const o = proc._def?.meta?.openapi;
    if (!o) continue;
    if (!o.path.includes('{')) {
      literal.set(`${o.method.toUpperCase()} ${o.path}`, o.path);
      continue;
    }
    const source = o.path
      .split(/(\{[^}]+\})/)
      .map((part) => (/^\{[^}]+\}$/.test(part) ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
      .join('');
    const m = o.method.toUpperCase();
    byMethod.set(m, [...(byMethod.get(m) ?? []), { re: new RegExp(`^${source}$`), pattern: o.path.replace(/\{([^}]+)\}/g, ':$1') }]);
  }
  return (method, url) => {
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const m = method === 'HEAD' ? 'GET' : method.toUpperCase();
    const hit = literal.get(`${m} ${path}`);
    if (hit !== undefined) return hit;
    return byMethod.get(m)?.find((r) => r.re.test(path))?.pattern;
  };
}
