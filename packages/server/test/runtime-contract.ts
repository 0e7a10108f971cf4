// The runtime contract: what the deployment pipeline and the reconciler rely on from any AppRuntime, run against
// the single-engine runtime on the real engine and the Swarm runtime on a real cluster alike (the driver contract's
// pattern, one level up).
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppRuntime, Release, ReleaseService } from '../src/modules/runtime/app-runtime.js';

/** The images a runtime under test runs: built FROM scratch with busybox (buildBusybox). */
export const CONTRACT_WEB = `RUN ["/bin/mkdir","-p","/www"]
STOPSIGNAL SIGKILL
CMD ["sh","-c","echo \\"version=$VERSION\\" > /www/index.html; echo \\"hello $VERSION\\"; exec httpd -f -p 8080 -h /www"]`;
export const CONTRACT_DEAD = `CMD ["sh","-c","echo never listening; sleep 600"]`;

export interface RuntimeUnderTest {
  runtime: AppRuntime;
  /** Serves `version=$VERSION` at / on 8080 and prints `hello $VERSION` at start. */
  web: string;
  /** Never listens. */
  dead: string;
  close(): Promise<void>;
}

function answer(at: { host: string; port: number }): Promise<string | null> {
  return new Promise((resolve) => {
    const req = http.request({ host: at.host, port: at.port, path: '/', agent: false, timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(res.statusCode === 200 ? body.trim() : null));
    });
    req.on('error', () => resolve(null));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

export function describeRuntimeContract(name: string, setup: () => Promise<RuntimeUnderTest>, o: { timeoutMs?: number } = {}): void {
  const timeout = o.timeoutMs ?? 120_000;
  describe(`runtime contract: ${name}`, () => {
    let t: RuntimeUnderTest;
    const suffix = Math.random().toString(36).slice(2, 10);
    const appId = `app_contract${suffix}`;
    const orgId = `org_contract${suffix}`;
    const opts = (healthMs = 20_000) => ({ signal: new AbortController().signal, log: async () => {}, startMs: 20_000, healthMs });
    const release = (deploymentId: string, image: string, version: string, replicas = 2): Release => ({
      appId,
      orgId,
      deploymentId,
      services: [{ name: 'web', image, env: { VERSION: version }, secretFiles: {}, port: 8080, cpu: 0.25, memoryMb: 64, volumes: [], replicas, dependsOn: [] } satisfies ReleaseService],
    });
    const r1 = () => release(`dep_${suffix}c1`, t.web, 'v1');
    const r2 = () => release(`dep_${suffix}c2`, t.web, 'v2');

    beforeAll(async () => {
      t = await setup();
      await t.runtime.start();
    }, timeout);
    afterAll(async () => {
      await t?.runtime.removeApp(appId).catch(() => undefined);
      await t?.runtime.stop();
      await t?.close();
    }, timeout);

    it('starts every replica of a release; each is listed running, healthy and answering at its endpoint', async () => {
      await t.runtime.prepare({ appId, orgId });
      await t.runtime.startRelease(r1(), opts());
      const rs = await t.runtime.replicas(appId, r1().deploymentId);
      expect(rs.map((r) => r.index).sort()).toEqual([0, 1]);
      for (const r of rs) {
        expect(r).toMatchObject({ appId, deploymentId: r1().deploymentId, service: 'web', running: true, healthy: true });
        expect(await answer(r.endpoint!)).toBe('version=v1');
      }
    }, timeout);

    it("reads a replica's logs", async () => {
      const [r] = await t.runtime.replicas(appId, r1().deploymentId);
      let lines: { text: string }[] = [];
      for (let i = 0; i < 50 && !lines.some((l) => l.text.includes('hello v1')); i++) {
        lines = await t.runtime.logs(r!.id, { tail: 20 });
        await new Promise((res) => setTimeout(res, 200));
      }
      expect(lines.map((l) => l.text)).toContain('hello v1');
    }, timeout);

    it('a second release runs beside the first, untouched until retireOthers removes it', async () => {
      await t.runtime.startRelease(r2(), opts());
      const old = await t.runtime.replicas(appId, r1().deploymentId);
      expect(old.filter((r) => r.healthy)).toHaveLength(2);
      for (const r of old) expect(await answer(r.endpoint!)).toBe('version=v1');
      expect(await t.runtime.retireOthers(appId, r2().deploymentId, 0)).toBe(2);
      const left = await t.runtime.replicas(appId);
      expect(new Set(left.map((r) => r.deploymentId))).toEqual(new Set([r2().deploymentId]));
      for (const r of left) expect(await answer(r.endpoint!)).toBe('version=v2');
    }, timeout);

    it('a release that never answers fails in time and leaves nothing of itself; the current one keeps answering', async () => {
      const bad = release(`dep_${suffix}c3`, t.dead, 'v3', 1);
      const t0 = Date.now();
      await expect(t.runtime.startRelease(bad, { ...opts(3_000), startMs: 5_000 })).rejects.toThrow();
      expect(Date.now() - t0).toBeLessThan(60_000);
      expect(await t.runtime.replicas(appId, bad.deploymentId)).toEqual([]);
      for (const r of await t.runtime.replicas(appId, r2().deploymentId)) expect(await answer(r.endpoint!)).toBe('version=v2');
    }, timeout);

    it('lists its nodes, counting the app where a replica runs', async () => {
      const nodes = await t.runtime.nodes();
      expect(nodes.length).toBeGreaterThanOrEqual(1);
      for (const n of nodes) expect(n.cpus > 0 && n.memoryMb > 0 && n.hostname.length > 0).toBe(true);
      expect(nodes.some((n) => n.apps >= 1)).toBe(true);
    }, timeout);

    it('stopApp leaves no replica running; removeApp leaves nothing of the app', async () => {
      await t.runtime.stopApp(appId);
      for (let i = 0; i < 100 && (await t.runtime.replicas(appId)).some((r) => r.running); i++) await new Promise((res) => setTimeout(res, 200));
      expect((await t.runtime.replicas(appId)).some((r) => r.running)).toBe(false);
      expect(await t.runtime.appsOnRuntime(new Set([orgId]))).toEqual(new Set([appId]));
      await t.runtime.removeApp(appId);
      expect(await t.runtime.replicas(appId)).toEqual([]);
      expect(await t.runtime.appsOnRuntime(new Set([orgId]))).toEqual(new Set());
    }, timeout);
  });
}
