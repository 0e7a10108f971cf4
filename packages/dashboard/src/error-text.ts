// API failures in words people act on: what happened and what to do, never a bare code or a stack.
import { CynchroError } from '@cynchro/sdk';

const MESSAGES: Record<string, string> = {
  invalid_credentials: 'The email or password is wrong.',
  email_taken: 'An account with this email already exists. Sign in instead.',
  invalid_or_expired_token: 'Your session has ended. Sign in again.',
  missing_bearer_token: 'You are not signed in.',
  forbidden: 'Your role in this organization does not allow this.',
  quota_exceeded: 'This would go over your organization’s quota.',
  app_not_found: 'This app no longer exists.',
  deployment_not_found: 'This deployment no longer exists.',
  unknown_secret: 'That secret does not exist (check its name and scope).',
  domain_taken: 'That domain is already used by another app.',
  rollback_unavailable: 'There is no earlier successful release to roll back to.',
  conflict: 'That conflicts with the current state. Reload and try again.',
  sealed: 'The vault is sealed: an operator must unseal it before secrets and environment values can be used.',
  unavailable: 'The server cannot do this right now. Try again in a moment.',
  network: 'The server cannot be reached. Check your connection and try again.',
  internal: 'The server failed unexpectedly. Try again; if it keeps failing, tell your operator.',
  payload_too_large: 'That is too large to send.',
};

export interface Problem {
  /** One sentence for the whole form or page. */
  message: string;
  /** Messages by field name (the API's names: `name`, `image`, `env`, …), for validation errors. */
  fields: Record<string, string>;
}

/** `say` replaces the wording of some codes where the page knows better (a forbidden claim means a wrong token). */
export function problemOf(e: unknown, say: Record<string, string> = {}): Problem {
  const err = e instanceof CynchroError ? e : CynchroError.from(e);
  const fields: Record<string, string> = {};
  for (const [k, v] of Object.entries(err.fieldErrors)) if (v.length) fields[k.split('.')[0]!] = v.join('; ');
  if (err.code === 'validation') {
    return { message: Object.keys(fields).length ? 'Some fields need attention.' : err.message, fields };
  }
  if (err.code === 'rate_limited') {
    return { message: `Too many attempts. Try again${err.retryAfter ? ` in ${err.retryAfter} seconds` : ' later'}.`, fields };
  }
  return { message: say[err.code] ?? MESSAGES[err.code] ?? err.message, fields };
}

/** True when the failure means the session is gone: the dashboard returns to the sign-in page. */
export function isSignedOut(e: unknown): boolean {
  return e instanceof CynchroError && (e.code === 'invalid_or_expired_token' || e.code === 'missing_bearer_token');
}
