// What deploy() returns: the 202 answer, plus wait() that follows the deployment to its end.
import { CynchroError } from './cynchro-error.js';
import { sleep, streamDeploymentLogs, type StreamContext } from './streams.js';
import { TERMINAL_STATUSES, type DeployResult, type Deployment, type DeploymentLogLine, type DeploymentLogs, type Webhook } from './types.js';

export interface WaitOptions {
  /** Reject with a `timeout` CynchroError after this long (the deployment itself goes on). Default: no limit. */
  timeoutMs?: number;
  /** Each line of the deployment's log (build output, steps, the error), replayed from the start. */
  onLog?: (line: DeploymentLogLine) => void;
  /** Stop waiting: rejects with an `aborted` CynchroError. */
  signal?: AbortSignal;
  /** How often the polling fallback asks, when the WebSocket is not available. Default 1000 ms. */
  pollIntervalMs?: number;
}

export interface DeploymentHandle {
  readonly appId: string;
  readonly deploymentId: string;
  readonly domain: string;
  readonly url: string;
  readonly status: 'queued';
  /** Repo apps only: where to point GitHub's push webhook. */
  readonly webhook?: Webhook;
  /**
   * Resolves with the final deployment once it `succeeded`; rejects with a CynchroError `deployment_failed` or
   * `deployment_canceled` whose message is the deployment's error (and `details.deployment` the deployment).
   */
  wait(opts?: WaitOptions): Promise<Deployment>;
}

export interface HandleDeps {
  stream: StreamContext;
  deploymentLogs(appId: string, deploymentId: string): Promise<DeploymentLogs>;
}

export function settle(d: Deployment): Deployment {
  if (d.status === 'succeeded') return d;
  if (d.status === 'failed') throw new CynchroError('deployment_failed', d.error ?? 'The deployment failed', 0, { deployment: d });
  if (d.status === 'canceled') throw new CynchroError('deployment_canceled', d.error ?? 'The deployment was canceled', 0, { deployment: d });
  throw new CynchroError('internal', `The deployment is still ${d.status}`, 0, { deployment: d });
}

export function createDeploymentHandle(result: DeployResult, deps: HandleDeps): DeploymentHandle {
  const { appId, deploymentId } = result;
  return {
    ...result,
    async wait(opts: WaitOptions = {}): Promise<Deployment> {
      const ac = new AbortController();
      let why: CynchroError | null = null;
      const stop = (e: CynchroError) => {
        why ??= e;
        ac.abort();
      };
      const timer = opts.timeoutMs !== undefined
        ? setTimeout(() => stop(new CynchroError('timeout', `The deployment did not end within ${opts.timeoutMs} ms`, 0)), opts.timeoutMs)
        : undefined;
      const onAbort = () => stop(new CynchroError('aborted', 'Stopped waiting for the deployment', 0));
      if (opts.signal?.aborted) onAbort();
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      const interrupted = () => {
        if (why) throw why;
      };
      try {
        let seen = 0;
        let final: Deployment | undefined;
        // 1. The WebSocket: replays the log, then the final status.
        try {
          for await (const m of streamDeploymentLogs(deps.stream, appId, deploymentId, { signal: ac.signal, maxReconnects: 3 })) {
            if (m.type === 'log') {
              seen++;
              opts.onLog?.({ at: m.at, stream: m.stream, text: m.text });
            } else final = m.deployment;
          }
        } catch (e) {
          const err = CynchroError.from(e);
          // Answers about the deployment itself are final; transport trouble falls back to polling.
          if (err.status >= 400 && err.status < 500 && err.status !== 401) throw err;
        }
        interrupted();
        // 2. Polling, when the socket could not tell (no WebSocket, a proxy refusing upgrades, the socket lost).
        while (!final || !TERMINAL_STATUSES.includes(final.status)) {
          const r = await deps.deploymentLogs(appId, deploymentId);
          for (const l of r.lines.slice(seen)) opts.onLog?.(l);
          seen = Math.max(seen, r.lines.length);
          final = r.deployment;
          if (TERMINAL_STATUSES.includes(final.status)) break;
          await sleep(opts.pollIntervalMs ?? 1000, ac.signal);
          interrupted();
        }
        return settle(final);
      } finally {
        if (timer) clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
      }
    },
  };
}
