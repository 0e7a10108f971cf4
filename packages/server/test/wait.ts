// The one way server tests wait: for a condition or an outcome, polled, never for a fixed time.

export interface UntilOptions {
  timeoutMs?: number;
  everyMs?: number;
}

/**
 * Resolves with the first truthy value `fn` gives (a throw counts as "not yet"); rejects with `what` and the
 * last error once `timeoutMs` (default 10 s) has passed.
 */
export async function until<T>(what: string, fn: () => T | undefined | null | false | Promise<T | undefined | null | false>, opts: UntilOptions = {}): Promise<T> {
  const end = Date.now() + (opts.timeoutMs ?? 10_000);
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, opts.everyMs ?? 25));
  }
}

export const FINAL = ['succeeded', 'failed', 'canceled'];

type Call = (method: string, url: string, opts: { token?: string }) => Promise<{ status: number; body: any; raw?: string }>;

export interface Settled {
  app: any;
  deployment: any;
  body: any;
  raw: string;
}

/** Waits, through GET /apps/:id, until the deployment reaches one of `want` (default: any final status). */
export function settle(call: Call, appId: string, deploymentId: string, token: string, opts: UntilOptions & { want?: string[] } = {}): Promise<Settled> {
  const want = opts.want ?? FINAL;
  return until(
    `deployment ${deploymentId} to be ${want.join('|')}`,
    async () => {
      const r = await call('GET', `/apps/${appId}`, { token });
      const d = r.body?.deployments?.find((x: { id: string }) => x.id === deploymentId);
      return d && want.includes(d.status) ? { app: r.body.app, deployment: d, body: r.body, raw: r.raw ?? "" } : undefined;
    },
    { timeoutMs: opts.timeoutMs ?? 60_000, everyMs: opts.everyMs ?? 25 },
  );
}
