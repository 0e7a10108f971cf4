// The one error class services throw. Transports (tRPC, REST, WebSocket, plain Fastify routes) convert it in one
// place each, using the single code → status table below, so a code always means the same status everywhere.

export const ERROR_STATUS = {
  validation: 400,
  /** A malformed request the HTTP layer refused before any route saw it (bad framing, escapes, target, Host). */
  bad_request: 400,
  invalid_key: 400,
  invalid_credentials: 401,
  missing_bearer_token: 401,
  invalid_or_expired_token: 401,
  invalid_signature: 401,
  forbidden: 403,
  quota_exceeded: 403,
  not_found: 404,
  app_not_found: 404,
  deployment_not_found: 404,
  org_not_found: 404,
  invitation_not_found: 404,
  /** A userId that is not a member of the org (PATCH/DELETE /orgs/{orgId}/members/{userId}). */
  member_not_found: 404,
  token_not_found: 404,
  unknown_secret: 404,
  email_taken: 409,
  domain_taken: 409,
  conflict: 409,
  /** Nothing to roll back to, or the release's image is gone. */
  rollback_unavailable: 409,
  /** The client was too slow sending its request (headers or body). */
  request_timeout: 408,
  payload_too_large: 413,
  unsupported_media_type: 415,
  /** A WebSocket endpoint asked for without the upgrade. */
  upgrade_required: 426,
  rate_limited: 429,
  /** The request line and headers together exceed the server's limit. */
  header_too_large: 431,
  internal: 500,
  sealed: 503,
  unavailable: 503,
} as const satisfies Record<string, number>;

export type ErrorCode = keyof typeof ERROR_STATUS;
export const ERROR_CODES = Object.keys(ERROR_STATUS) as ErrorCode[];

export interface FieldErrors {
  formErrors: string[];
  fieldErrors: Record<string, string[]>;
}

/** The public JSON body of every failure: `{ error, message, details? }`. */
export interface ErrorBody {
  error: ErrorCode;
  message: string;
  details?: unknown;
  retryAfter?: number;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details: unknown;
  /** Seconds, for rate_limited: sent as the Retry-After header. */
  readonly retryAfter: number | undefined;

  constructor(code: ErrorCode, message?: string, opts: { details?: unknown; retryAfter?: number; cause?: unknown } = {}) {
    super(message ?? defaultMessage(code), opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'AppError';
    this.code = code;
    this.details = opts.details;
    this.retryAfter = opts.retryAfter;
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }

  toBody(): ErrorBody {
    const body: ErrorBody = { error: this.code, message: this.message };
    if (this.details !== undefined) body.details = this.details;
    if (this.retryAfter !== undefined) body.retryAfter = this.retryAfter;
    return body;
  }

  static validation(fieldErrors: Record<string, string[]>, message = 'Invalid input'): AppError {
    return new AppError('validation', message, { details: { formErrors: [], fieldErrors } satisfies FieldErrors });
  }
}

export function isAppError(e: unknown): e is AppError {
  return e instanceof AppError;
}

export function statusOf(code: ErrorCode): number {
  return ERROR_STATUS[code];
}

function defaultMessage(code: ErrorCode): string {
  switch (code) {
    case 'validation': return 'Invalid input';
    case 'bad_request': return 'Malformed request';
    case 'request_timeout': return 'The request took too long to arrive';
    case 'header_too_large': return 'The request headers are too large';
    case 'upgrade_required': return 'This endpoint is a WebSocket: send an Upgrade: websocket request';
    case 'invalid_credentials': return 'Invalid email or password';
    case 'missing_bearer_token': return 'Missing Authorization: Bearer <accessToken> header';
    case 'invalid_or_expired_token': return 'The access token is invalid or expired';
    case 'forbidden': return 'Forbidden';
    case 'rate_limited': return 'Too many requests';
    case 'sealed': return 'The vault is sealed; an operator must unseal it';
    case 'internal': return 'Internal server error';
    case 'not_found': return 'Not found';
    default: return code.replace(/_/g, ' ');
  }
}
