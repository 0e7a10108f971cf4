import type Dockerode from 'dockerode';
import { setTimeout as sleep } from 'node:timers/promises';
import { DockerError, engineStatus, toDockerError } from './DockerError.js';
import { abortReason, engineCall } from './engineCall.js';
import { hostPortOf } from './containerInfo.js';
import { SPEC_LABEL } from './containerSpecLabel.js';
import { httpProbe, tcpProbe } from './probePort.js';
import type { WaitHealthyOptions } from './types.js';

/** A port-less container must have been up this long (capped at half the timeout) to count as started. */
const PORTLESS_STABLE_MS = 1000;

function specPort(info: Dockerode.ContainerInspectInfo): number | undefined {
  try {
    const p = (JSON.parse(info.Config.Labels?.[SPEC_LABEL] ?? '{}') as { port?: unknown }).port;
    if (typeof p === 'number') return p;
  } catch {
    // not ours: fall back to what is published
  }
  const published = Object.keys(info.NetworkSettings?.Ports ?? {}).filter((k) => info.NetworkSettings.Ports[k]?.length);
  return published.length === 1 ? Number.parseInt(published[0] as string, 10) : undefined;
}

/**
 * Polls until the container answers on its published 127.0.0.1 port (TCP, or HTTP 2xx/3xx on `path`), or,
 * without a port, until it has been running for a moment. Polls fast at first: this sits on the deploy path.
 */
export async function waitContainerHealthy(
  docker: Dockerode,
  id: string,
  o: WaitHealthyOptions,
  callTimeoutMs: number,
): Promise<void> {
  const container = docker.getContainer(id);
  const started = Date.now();
  const deadline = started + o.timeoutMs;
  let problem = 'not checked yet';
  let hostPort: number | undefined = o.port !== undefined ? o.hostPort : undefined;
  let lastInspect = hostPort !== undefined ? started : 0;
  let attempt = 0;
  let crashes = '';
  let lastExit: number | undefined;
  for (;;) {
    if (o.signal?.aborted) throw abortReason(o.signal);
    const now = Date.now();
    if (hostPort === undefined || now - lastInspect > 500) {
      let info: Dockerode.ContainerInspectInfo;
      try {
        info = await engineCall('inspect container', Math.min(callTimeoutMs, Math.max(deadline - now, 1000)), (abortSignal) => container.inspect({ abortSignal }), o.signal);
      } catch (err) {
        if (engineStatus(err) === 404) throw new DockerError('not_found', `container ${id} does not exist`);
        // A slow engine that runs out the health budget is a health timeout: say what was last seen.
        if (err instanceof DockerError && err.code === 'timeout' && Date.now() >= deadline && !o.signal?.aborted) {
          throw new DockerError('health_timeout', `container not healthy after ${o.timeoutMs} ms: ${problem}${crashes} (the engine was slow to answer)`);
        }
        throw toDockerError(err, 'wait for health');
      }
      lastInspect = Date.now();
      const port = o.port ?? specPort(info);
      const st = info.State;
      // A crash loop can look healthy-ish between restarts; say so in the final message.
      if (!st.Running || st.Restarting) lastExit = st.ExitCode;
      if (info.RestartCount > 0)
        crashes = `; restarted ${info.RestartCount} times${lastExit !== undefined ? `, last exit code ${lastExit}` : ''}`;
      if (!st.Running || st.Restarting || st.Paused) {
        hostPort = undefined;
        problem = `container is ${st.Status}${st.Status === 'exited' ? ` (exit code ${st.ExitCode})` : ''}`;
      } else if (port === undefined) {
        const upFor = Date.now() - Date.parse(st.StartedAt);
        if (upFor >= Math.min(PORTLESS_STABLE_MS, o.timeoutMs / 2)) return;
        problem = 'container just started';
      } else {
        // The host port can change when the container restarts, so it is re-read from every inspect.
        hostPort = hostPortOf(info, port);
        if (hostPort === undefined) {
          // Between restarts the binding can be missing for a moment; only a port never asked for is an error.
          if (!info.HostConfig.PortBindings?.[`${port}/tcp`]) throw new DockerError('not_found', `container port ${port} is not published`);
          problem = `port ${port} not published yet`;
        }
      }
    }
    if (hostPort !== undefined) {
      const budget = Math.max(Math.min(2000, deadline - Date.now()), 200);
      const p = o.path !== undefined ? await httpProbe(hostPort, o.path, budget) : await tcpProbe(hostPort, budget, o.http === true);
      if (p === null) return;
      problem = p;
    }
    if (Date.now() >= deadline)
      throw new DockerError('health_timeout', `container not healthy after ${o.timeoutMs} ms: ${problem}${crashes}`);
    attempt += 1;
    // Most apps answer within a few hundred ms of their start: look often then, back off for slow starters.
    const pause = attempt < 20 ? 10 : attempt < 100 ? 25 : attempt < 200 ? 100 : 250;
    await sleep(Math.min(pause, Math.max(deadline - Date.now(), 0)), undefined, o.signal ? { signal: o.signal } : undefined).catch(() => undefined);
  }
}
