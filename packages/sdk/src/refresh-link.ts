// A tRPC link that answers an expired access token by refreshing once and replaying the operation. A refused API
// token is final: there is nothing to refresh it with.
import type { TRPCLink } from '@trpc/client';
import { observable, type Unsubscribable } from '@trpc/server/observable';
import type { ClientRouter as AppRouter } from '@cynchro/server';
import { CynchroError } from './cynchro-error.js';
import type { Session } from './session.js';

const NO_REFRESH = new Set(['auth.login', 'auth.register', 'auth.refresh']);

export function refreshLink(session: Session): TRPCLink<AppRouter> {
  return () =>
    ({ next, op }) =>
      observable((observer) => {
        let sub: Unsubscribable | undefined;
        let retried = false;
        const attempt = () => {
          sub = next(op).subscribe({
            next: (v) => observer.next(v),
            complete: () => observer.complete(),
            error: (err) => {
              const code = CynchroError.from(err).code;
              if (retried || code !== 'invalid_or_expired_token' || NO_REFRESH.has(op.path) || session.usesApiToken) return observer.error(err);
              retried = true;
              session.refresh().then(attempt, () => observer.error(err));
            },
          });
        };
        attempt();
        return () => sub?.unsubscribe();
      });
}
