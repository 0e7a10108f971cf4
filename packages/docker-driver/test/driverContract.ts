// The contract every DockerDriver keeps; run against the dockerode driver (real engine) and the fake.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADD_URL_REFUSED, LABELS, MAX_LOG_LINE_BYTES, type ContainerSpec, type DockerDriver, type EngineEvent, type EngineEventsOptions, type Labels, type LogLine } from '../src/index.js';
import { failure } from './helpers/failure.js';
import { watchEvents } from './helpers/watchEvents.js';

export interface ContractHarness {
  driver: DockerDriver;
  labels: Labels;
  /** A runnable image. */
  image: string;
  /** Spec fields making a container answer HTTP 200 on `port` at "/" (and crash on `crash`). */
  serving(port: number): Pick<ContainerSpec, 'image' | 'command'>;
  /** Spec fields making a container run but never answer on its port. */
  idle(): Pick<ContainerSpec, 'image' | 'command'>;
  /** Makes the container print a line, as its app would. */
  say(id: string, text: string, stream: 'stdout' | 'stderr'): Promise<void>;
  /** A secret file as the app sees it, or undefined when absent. */
  readSecret(id: string, key: string): Promise<string | undefined>;
  /** The app dies with exit code 3; the engine's restart policy brings it back. */
  crash(id: string): Promise<void>;
  /** The app starts using CPU (a busy loop: as much as its cpu limit lets it) and keeps doing so until removed. */
  burnCpu(id: string): Promise<void>;
  /** Spec fields of a container whose process exits with code 3 as soon as it starts. */
  exiting(): Pick<ContainerSpec, 'image' | 'command'>;
  /** A ref whose pull must fail (no registry is reachable). */
  unpullable: string;
  /** A directory buildFromDirectory can build (its Dockerfile builds on `image`). */
  buildDir: string;
  /** Resolution of image creation times (the engine's are whole seconds). */
  imageTimeResolutionMs: number;
  /** The machine the engine runs on, as engineInfo must describe it. */
  engine: { name: string; cpus: number; memoryBytes: number };
  cleanup(): Promise<void>;
}

async function until<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function describeDriverContract(name: string, setup: () => Promise<ContractHarness>): void {
  describe(`DockerDriver contract: ${name}`, () => {
    let h: ContractHarness;
    let d: DockerDriver;
    const spec = (over: Partial<ContainerSpec> = {}): ContainerSpec => ({
      name: `cyn-${randomBytes(4).toString('hex')}`,
      labels: { ...h.labels, [LABELS.app]: 'app1', [LABELS.deployment]: 'dep1', [LABELS.service]: 'app' },
      ...h.serving(8080),
      port: 8080,
      ...over,
    });

    /** Follows the events of this run's containers. */
    const watch = (o: Omit<EngineEventsOptions, 'signal'> = {}) => watchEvents(d, { labels: h.labels, ...o });

    beforeAll(async () => {
      h = await setup();
      d = h.driver;
    });
    afterAll(async () => {
      await h?.cleanup();
    });

    it('answers ping', async () => {
      await expect(d.ping()).resolves.toBeUndefined();
    });

    it('describes the engine and the machine it runs on, the same way every time', async () => {
      const info = await d.engineInfo();
      expect(info).toEqual({ id: expect.any(String), ...h.engine });
      expect(info.id.length).toBeGreaterThan(0);
      expect((await d.engineInfo()).id).toBe(info.id);
    });

    it('reports a pull that cannot reach a registry as pull_failed, quickly', async () => {
      const t0 = Date.now();
      const e = await failure(d.pullImage(h.unpullable));
      expect(e.code).toBe('pull_failed');
      expect(e.message).toContain(h.unpullable);
      expect(Date.now() - t0).toBeLessThan(10_000);
      expect((await failure(d.pullImage('--help'))).code).toBe('invalid_ref');
    });

    it('knows which images exist', async () => {
      expect(await d.imageExists(h.image)).toBe(true);
      expect(await d.imageExists(`cynchro-test-missing:${randomBytes(4).toString('hex')}`)).toBe(false);
    });

    it('runs a container from a spec and reports it by id and by label', async () => {
      const s = spec({ env: { GREETING: 'hello world', EMPTY: '' }, cpu: 0.5, memoryMb: 64 });
      const c = await d.runContainer(s);
      expect(c).toMatchObject({ name: s.name, image: s.image, running: true, state: 'running', labels: s.labels });
      expect(c.hostPort).toEqual(expect.any(Number));
      expect(Date.parse(c.createdAt)).not.toBeNaN();
      expect(await d.inspectContainer(c.id)).toMatchObject({ id: c.id, name: s.name, running: true, hostPort: c.hostPort });
      expect((await d.listContainers({ [LABELS.deployment]: 'dep1', ...h.labels })).map((x) => x.id)).toContain(c.id);
      const back = await d.containerSpec(c.id);
      expect(back).toMatchObject({ name: s.name, image: s.image, env: s.env, port: 8080, cpu: 0.5, memoryMb: 64, labels: s.labels });
      expect(await d.inspectContainer(`cyn-missing-${randomBytes(4).toString('hex')}`)).toBeNull();
    });

    it('refuses a container of an unknown image with not_found', async () => {
      const e = await failure(d.runContainer(spec({ image: `cynchro-test-missing:${randomBytes(4).toString('hex')}`, command: ['true'] })));
      expect(e.code).toBe('not_found');
    });

    it('waits for health: success on an answering port, health_timeout otherwise', async () => {
      const ok = await d.runContainer(spec());
      await d.waitHealthy(ok.id, { timeoutMs: 10_000 });
      await d.waitHealthy(ok.id, { path: '/', timeoutMs: 10_000 });
      const bad = await d.runContainer(spec(h.idle()));
      const t0 = Date.now();
      const e = await failure(d.waitHealthy(bad.id, { timeoutMs: 1500 }));
      expect(e.code).toBe('health_timeout');
      expect(Date.now() - t0).toBeLessThan(6000);
      // Given the published port runContainer answered, the first probe skips the inspect; the verdicts are the same.
      await d.waitHealthy(ok.id, { port: 8080, http: true, hostPort: ok.hostPort!, timeoutMs: 10_000 });
      expect((await failure(d.waitHealthy(bad.id, { port: 8080, http: true, hostPort: bad.hostPort!, timeoutMs: 1500 }))).code).toBe('health_timeout');
      expect((await failure(d.waitHealthy(`cyn-missing-${randomBytes(4).toString('hex')}`, { timeoutMs: 500 }))).code).toBe('not_found');
    });

    it('gives a log snapshot with both streams, timestamps and tail', async () => {
      const c = await d.runContainer(spec());
      await h.say(c.id, 'to stdout', 'stdout');
      await h.say(c.id, 'to stderr', 'stderr');
      const lines = await until('both lines', async () => {
        const l = await d.logs(c.id);
        return l.some((x) => x.text === 'to stderr') && l.some((x) => x.text === 'to stdout') ? l : undefined;
      });
      expect(lines.find((l) => l.text === 'to stdout')).toMatchObject({ stream: 'stdout' });
      expect(lines.find((l) => l.text === 'to stderr')).toMatchObject({ stream: 'stderr' });
      for (const l of lines) expect(Date.parse(l.timestamp)).not.toBeNaN();
      const tail = await d.logs(c.id, { tail: 1 });
      expect(tail).toHaveLength(1);
      expect((await failure(d.logs(`cyn-missing-${randomBytes(4).toString('hex')}`))).code).toBe('not_found');
    });

    it('follows logs live and ends when the consumer aborts', async () => {
      const c = await d.runContainer(spec());
      const ac = new AbortController();
      const seen: LogLine[] = [];
      const done = (async () => {
        for await (const l of d.followLogs(c.id, { signal: ac.signal, tail: 0 })) seen.push(l);
      })();
      await new Promise((r) => setTimeout(r, 300));
      await h.say(c.id, 'live one', 'stdout');
      await until('live line', async () => seen.some((l) => l.text === 'live one'));
      ac.abort();
      await expect(done).resolves.toBeUndefined();
    });

    it('ends a follow when the container is removed', async () => {
      const c = await d.runContainer(spec());
      const seen: string[] = [];
      const done = (async () => {
        for await (const l of d.followLogs(c.id, { followRestarts: true })) seen.push(l.text);
      })();
      await h.say(c.id, 'before removal', 'stdout');
      await until('line', async () => seen.includes('before removal'));
      await d.removeContainer(c.id);
      await expect(done).resolves.toBeUndefined();
    });

    it('follows across a restart when asked to', async () => {
      const c = await d.runContainer(spec());
      const ac = new AbortController();
      const seen: string[] = [];
      const done = (async () => {
        for await (const l of d.followLogs(c.id, { signal: ac.signal, followRestarts: true })) seen.push(l.text);
      })();
      await h.say(c.id, 'first run', 'stdout');
      await until('first', async () => seen.includes('first run'));
      await h.crash(c.id);
      await until('restarted', async () => {
        const i = await d.inspectContainer(c.id);
        return i?.running;
      });
      await until('second run line', async () => {
        await h.say(c.id, 'second run', 'stdout').catch(() => undefined);
        return seen.includes('second run');
      });
      expect(seen.filter((t) => t === 'first run')).toHaveLength(1);
      ac.abort();
      await done;
    });

    it('stops, starts and recreates; recreate gives a new id with the same spec', async () => {
      const s = spec({ env: { KEEP: 'me' }, secretFiles: { API_KEY: `k-${randomBytes(8).toString('hex')}` } });
      const c = await d.runContainer(s);
      await d.stopContainer(c.id, 2);
      expect(await d.inspectContainer(c.id)).toMatchObject({ running: false });
      await d.stopContainer(c.id, 2); // idempotent
      await d.startContainer(c.id);
      expect(await d.inspectContainer(c.id)).toMatchObject({ running: true });
      expect(await h.readSecret(c.id, 'API_KEY')).toBe(s.secretFiles?.API_KEY);
      const r = await d.recreateContainer(c.id);
      expect(r.id).not.toBe(c.id);
      expect(r).toMatchObject({ name: s.name, image: s.image, labels: s.labels, running: true });
      expect(await d.inspectContainer(c.id)).toBeNull();
      expect(await d.containerSpec(r.id)).toMatchObject({ env: { KEEP: 'me' }, port: 8080, secretFiles: s.secretFiles });
      expect(await h.readSecret(r.id, 'API_KEY')).toBe(s.secretFiles?.API_KEY);
      await d.waitHealthy(r.id, { timeoutMs: 10_000 });
      await d.removeContainer(r.id);
      await d.removeContainer(r.id); // idempotent
      await d.stopContainer(r.id); // stopping what is gone is fine too
      expect((await failure(d.recreateContainer(r.id))).code).toBe('not_found');
    });

    it('delivers secret files again after the engine restarts a crashed container', async () => {
      const s = spec({ secretFiles: { DB_PASSWORD: `p-${randomBytes(8).toString('hex')}` } });
      const c = await d.runContainer(s);
      expect(await h.readSecret(c.id, 'DB_PASSWORD')).toBe(s.secretFiles?.DB_PASSWORD);
      await h.crash(c.id);
      await until('secret back after restart', async () => (await h.readSecret(c.id, 'DB_PASSWORD').catch(() => undefined)) === s.secretFiles?.DB_PASSWORD, 15_000);
    });

    it('holds secret files handed back to it: a running container gets them now, a later start and a crash restart too', async () => {
      const s = spec({ secretFiles: { SESSION_KEY: 'old' } });
      const c = await d.runContainer(s);
      expect((await failure(d.holdSecretFiles(c.id, { OTHER: 'x' }))).code).toBe('not_found'); // not its keys
      await d.holdSecretFiles(c.id, { SESSION_KEY: 'new' });
      expect(await h.readSecret(c.id, 'SESSION_KEY')).toBe('new');
      await h.crash(c.id);
      await until('held secret back after restart', async () => (await h.readSecret(c.id, 'SESSION_KEY').catch(() => undefined)) === 'new', 15_000);
      await d.stopContainer(c.id, 2);
      await d.startContainer(c.id);
      expect(await h.readSecret(c.id, 'SESSION_KEY')).toBe('new');
      expect((await failure(d.holdSecretFiles('no-such-container', { K: 'v' }))).code).toBe('not_found');
    });

    it('reports container events with their labels: run, stop, start, forced removal', async () => {
      const t0 = Date.now();
      const w = watch({ since: t0 });
      const s = spec();
      const c = await d.runContainer(s);
      // Up and serving, so its SIGTERM trap is set; a generous grace period, so a loaded engine does not escalate
      // to SIGKILL (a second kill, die 137) and the sequence is the one of a clean stop.
      await d.waitHealthy(c.id, { timeoutMs: 20_000 });
      await d.stopContainer(c.id, 20);
      await d.startContainer(c.id);
      await d.removeContainer(c.id);
      const mine = await w.when(c.id, 'destroy');
      // What dockerd 20.10 emits: a stop is SIGTERM (kill 15), a forced removal of a running container SIGKILL.
      expect(mine.map((e) => e.action)).toEqual(['create', 'start', 'kill', 'die', 'stop', 'start', 'kill', 'die', 'destroy']);
      expect(mine.filter((e) => e.action === 'kill').map((e) => e.signal)).toEqual([15, 9]);
      expect(mine.filter((e) => e.action === 'die').map((e) => e.exitCode)).toEqual([0, 137]);
      for (const e of mine) {
        expect(e.labels).toEqual(s.labels);
        expect(e.name).toBe(s.name);
        expect(e.time).toBeGreaterThanOrEqual(t0 - 1);
        expect(e.time).toBeLessThanOrEqual(Date.now());
      }
      const times = mine.map((e) => e.time);
      expect(times).toEqual([...times].sort((a, b) => a - b));
      await w.stop();
    });

    it('reports a crash the restart policy undoes: die with the exit code, start, restart count up', async ({ annotate }) => {
      const w = watch({ since: Date.now() });
      const c = await d.runContainer(spec());
      const before = await d.inspectContainer(c.id);
      expect(before).toMatchObject({ exitCode: 0, restartCount: 0, restarting: false, oomKilled: false });
      expect(before?.finishedAt).toBeUndefined();
      await h.crash(c.id);
      const mine = await w.when(c.id, 'start', 2);
      expect(mine.map((e) => e.action)).toEqual(['create', 'start', 'die', 'start']);
      expect(mine[2]?.exitCode).toBe(3);
      const after = await until('running again', async () => {
        const i = await d.inspectContainer(c.id);
        return i?.running && i.hostPort !== undefined ? i : undefined;
      });
      // The engine resets the exit code when the run begins; the port is published again (usually another one).
      expect(after).toMatchObject({ state: 'running', exitCode: 0, restartCount: 1, restarting: false });
      expect(Date.parse(after.finishedAt ?? '')).toBeGreaterThanOrEqual(Date.parse(before?.startedAt ?? ''));
      expect(Date.parse(after.startedAt ?? '')).toBeGreaterThanOrEqual(Date.parse(after.finishedAt ?? ''));
      await annotate(`restart-policy restart: host port ${c.hostPort} → ${after.hostPort}`);
      await w.stop();
    });

    it('reports the exit code and restart count of a crash-looping container; a list leaves them out', async () => {
      const s = spec({ ...h.exiting(), port: undefined });
      const c = await d.runContainer(s);
      const looping = await until(
        'a crash loop',
        async () => {
          const i = await d.inspectContainer(c.id);
          return i?.restarting && i.exitCode === 3 && (i.restartCount ?? 0) >= 1 ? i : undefined;
        },
        15_000,
      );
      expect(looping).toMatchObject({ state: 'restarting', running: false, restarting: true, exitCode: 3, oomKilled: false });
      expect(Date.parse(looping.startedAt ?? '')).not.toBeNaN();
      expect(Date.parse(looping.finishedAt ?? '')).not.toBeNaN();
      const listed = (await d.listContainers(s.labels, { all: true })).find((x) => x.id === c.id);
      expect(listed).toBeDefined();
      expect(listed?.exitCode).toBeUndefined();
      expect(listed?.restartCount).toBeUndefined();
      await d.removeContainer(c.id);
    });

    it('reads the resource usage of a running container as docker stats shows it; null once stopped, not_found when gone', async () => {
      const c = await d.runContainer(spec({ cpu: 0.5, memoryMb: 64 }));
      const t0 = Date.now();
      const idle = await d.containerStats(c.id);
      expect(idle).toMatchObject({ memoryLimitBytes: 64 * 1024 * 1024 });
      expect(idle?.memoryBytes).toBeGreaterThan(0);
      expect(idle?.memoryBytes).toBeLessThan(64 * 1024 * 1024);
      expect(idle?.cpuPercent).toBeGreaterThanOrEqual(0);
      expect(idle?.cpuPercent).toBeLessThan(25);
      // The engine's clock, read during the call (second resolution spares a clock skew between it and this process).
      expect(Math.abs(Date.parse(idle?.readAt ?? '') - t0)).toBeLessThan(10_000);

      // A busy loop under a 0.5 cpu limit: about half a core, never much more, however often it is read.
      await h.burnCpu(c.id);
      const readings = [];
      for (let i = 0; i < 3; i++) {
        readings.push(
          await until(`the busy loop's cpu share (reading ${i + 1})`, async () => {
            const s = await d.containerStats(c.id);
            return s && s.cpuPercent > 10 ? s : undefined;
          }, 20_000),
        );
      }
      for (const r of readings) {
        expect(r.cpuPercent).toBeLessThanOrEqual(65);
        expect(r.memoryLimitBytes).toBe(64 * 1024 * 1024);
      }
      expect(Date.parse(readings[2]!.readAt)).toBeGreaterThanOrEqual(Date.parse(readings[0]!.readAt));

      await d.stopContainer(c.id, 2);
      expect(await d.containerStats(c.id)).toBeNull();
      await d.removeContainer(c.id);
      expect((await failure(d.containerStats(c.id))).code).toBe('not_found');
    });

    it('delivers only the events of containers carrying the labels asked for', async () => {
      const w = watch({ since: Date.now() });
      // Another managed value (the engine merges the image's labels in, so this run's image would give it ours if it
      // had none; test/containers.test.ts covers a container without any). Not found by cleanup(): removed below.
      const outsider = await d.runContainer(
        spec({ labels: { ...h.labels, [LABELS.managed]: `elsewhere-${randomBytes(3).toString('hex')}`, [LABELS.app]: 'outsider' } }),
      );
      try {
        const insider = await d.runContainer(spec());
        await d.removeContainer(outsider.id);
        await d.removeContainer(insider.id);
        // Events arrive in order: once the insider's last one is here, the outsider's would have been too.
        await w.when(insider.id, 'destroy');
        expect(w.of(outsider.id)).toEqual([]);
        expect(new Set(w.seen.map((e) => e.labels[LABELS.managed]))).toEqual(new Set([h.labels[LABELS.managed]]));
      } finally {
        await d.removeContainer(outsider.id);
        await w.stop();
      }
    });

    it('replays past events from since, and only from then', async () => {
      const t0 = Date.now();
      const c = await d.runContainer(spec());
      await d.waitHealthy(c.id, { timeoutMs: 20_000 }); // see above: a clean stop
      await d.stopContainer(c.id, 20);
      const w = watch({ since: t0 });
      const replayed = await w.when(c.id, 'stop');
      expect(replayed.map((e) => e.action)).toEqual(['create', 'start', 'kill', 'die', 'stop']);
      await w.stop();
      // Passing the last time seen back (+1 ms) resumes after it: nothing old again, the new start comes.
      const w2 = watch({ since: (replayed.at(-1)?.time ?? 0) + 1 });
      await d.startContainer(c.id);
      expect((await w2.when(c.id, 'start')).map((e) => e.action)).toEqual(['start']);
      await w2.stop();
    });

    it('ends the iteration when the signal aborts, and at once for an aborted signal', async () => {
      const ac = new AbortController();
      const seen: EngineEvent[] = [];
      const done = (async () => {
        for await (const ev of d.events({ labels: h.labels, since: Date.now(), signal: ac.signal })) seen.push(ev);
      })();
      const c = await d.runContainer(spec());
      // Connected and delivering: now the abort has a live stream to end.
      await until('start event', async () => seen.some((e) => e.containerId === c.id && e.action === 'start'));
      ac.abort();
      await expect(done).resolves.toBeUndefined();
      const none: EngineEvent[] = [];
      for await (const ev of d.events({ labels: h.labels, since: 0, signal: AbortSignal.abort() })) none.push(ev);
      expect(none).toEqual([]);
    });

    it('refuses bad secret file names', async () => {
      expect((await failure(d.runContainer(spec({ secretFiles: { '../x': 'y' } })))).code).toBe('invalid_path');
    });

    it('ensures one network per name and lists networks and volumes by label', async () => {
      const netName = `cyn-net-${randomBytes(4).toString('hex')}`;
      const id1 = await d.ensureNetwork(netName, h.labels);
      const id2 = await d.ensureNetwork(netName, h.labels);
      expect(id2).toBe(id1);
      expect((await d.listNetworks(h.labels)).filter((n) => n.name === netName)).toEqual([{ id: id1, name: netName, labels: h.labels }]);
      const vol = `cyn-vol-${randomBytes(4).toString('hex')}`;
      const s = spec({ network: netName, aliases: ['web'], volumes: [{ name: vol, path: '/data' }] });
      const c = await d.runContainer(s);
      expect(c.running).toBe(true);
      const v = (await d.listVolumes(h.labels)).find((x) => x.name === vol);
      // Volumes outlive deployments, so they do not carry the deployment label.
      expect(v?.labels).toEqual({ ...h.labels, [LABELS.app]: 'app1', [LABELS.service]: 'app' });
      expect(await d.containerSpec(c.id)).toMatchObject({ network: netName, aliases: ['web'], volumes: s.volumes });
    });

    it('builds from a directory with labels, lists and prunes images', async () => {
      const appLabels = { ...h.labels, [LABELS.app]: `img-${randomBytes(3).toString('hex')}` };
      const lines: string[] = [];
      const tags: string[] = [];
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        const tag = `cynchro-test-app:${randomBytes(4).toString('hex')}`;
        const b = await d.buildFromDirectory({ dir: h.buildDir, tag, labels: { ...appLabels, [LABELS.deployment]: `d${i}` }, onLine: (l) => lines.push(l) });
        expect(b.tag).toBe(tag);
        tags.push(tag);
        ids.push(b.imageId);
        await new Promise((r) => setTimeout(r, h.imageTimeResolutionMs + 50));
      }
      expect(lines.length).toBeGreaterThan(0);
      const listed = await d.listImages(appLabels);
      expect(listed.map((i) => i.id).sort()).toEqual([...ids].sort());
      expect(listed.find((i) => i.id === ids[0])?.tags).toEqual([tags[0]]);
      const removed = await d.pruneImages(appLabels, 1, [tags[0] as string]);
      expect(removed).toEqual([ids[1]]);
      expect((await d.listImages(appLabels)).map((i) => i.id).sort()).toEqual([ids[0], ids[2]].sort());
      await d.removeImage(ids[0] as string);
      await d.removeImage(ids[0] as string); // idempotent
      expect(await d.imageExists(tags[0] as string)).toBe(false);
    });

    /** A build directory holding just this Dockerfile; removed by the caller. */
    const dockerfileDir = (content: string) => {
      const dir = mkdtempSync(join(tmpdir(), 'cynchro-df-'));
      writeFileSync(join(dir, 'Dockerfile'), content);
      return dir;
    };

    it('refuses image references that are ids or id prefixes wherever a tenant can pass one', async () => {
      const info = await d.inspectImage(h.image);
      expect(info?.id).toMatch(/^sha256:[a-f0-9]{64}$/);
      expect(info?.tags).toContain(h.image);
      const id = info?.id as string;
      const hex = id.slice('sha256:'.length);
      // The engine would resolve each of these to this image: a single hex digit is a prefix too.
      for (const ref of [hex.slice(0, 1), hex.slice(0, 12), hex, `sha256:${hex.slice(0, 12)}`, id]) {
        expect(`${ref} → ${(await failure(d.imageExists(ref))).code}`).toBe(`${ref} → invalid_ref`);
        expect(`${ref} → ${(await failure(d.pullImage(ref))).code}`).toBe(`${ref} → invalid_ref`);
        expect(`${ref} → ${(await failure(d.runContainer(spec({ image: ref })))).code}`).toBe(`${ref} → invalid_ref`);
      }
      // The platform's own records name images by full id; a prefix is refused there too.
      expect((await d.inspectImage(id))?.id).toBe(id);
      expect((await failure(d.inspectImage(hex.slice(0, 12)))).code).toBe('invalid_ref');
      expect((await failure(d.runContainer(spec({ imageId: hex.slice(0, 12) })))).code).toBe('invalid_ref');
      expect((await failure(d.runContainer(spec({ imageId: h.image })))).code).toBe('invalid_ref');
      expect(await d.inspectImage(`cynchro-test-missing:${randomBytes(4).toString('hex')}`)).toBeNull();
    });

    it('runs a built image by its recorded id, and never an image built for another org', async () => {
      const own = await d.buildFromDirectory({ dir: h.buildDir, tag: `cynchro-test-app:${randomBytes(4).toString('hex')}`, labels: h.labels });
      expect(own.imageId).toMatch(/^sha256:[a-f0-9]{64}$/);
      expect(await d.inspectImage(own.imageId)).toMatchObject({ id: own.imageId, tags: [own.tag], labels: expect.objectContaining(h.labels) });
      const s = spec({ image: 'cynchro-test-app:recorded-name', imageId: own.imageId });
      const c = await d.runContainer(s);
      // Created from exactly that image: the engine reports the id.
      expect(c).toMatchObject({ image: own.imageId, running: true });
      expect(await d.containerSpec(c.id)).toMatchObject({ image: s.image, imageId: own.imageId });
      const r = await d.recreateContainer(c.id);
      expect(r.image).toBe(own.imageId);
      await d.waitHealthy(r.id, { timeoutMs: 10_000 });

      // Another org's image (FROM scratch: a build may not start from this org's image for another org).
      const otherLabels = { ...h.labels, [LABELS.org]: `other-${randomBytes(4).toString('hex')}` };
      const otherDir = dockerfileDir('FROM scratch\nLABEL purpose=other-org\n');
      const fromOther = dockerfileDir('');
      try {
        const other = await d.buildFromDirectory({ dir: otherDir, tag: `cynchro-test-other:${randomBytes(4).toString('hex')}`, labels: otherLabels });
        const byId = await failure(d.runContainer(spec({ imageId: other.imageId })));
        expect(byId).toMatchObject({ code: 'invalid_ref', message: expect.stringContaining('was built for another org') });
        expect(byId.message).not.toContain(otherLabels[LABELS.org]);
        expect((await failure(d.runContainer(spec({ image: other.tag })))).code).toBe('invalid_ref');
        // Nor as a base image or a COPY --from source.
        for (const df of [`FROM ${other.tag}\nLABEL x=y\n`, `FROM ${h.image}\nCOPY --from=${other.tag} / /other\n`]) {
          writeFileSync(join(fromOther, 'Dockerfile'), df);
          const e = await failure(d.buildFromDirectory({ dir: fromOther, tag: `cynchro-test-app:${randomBytes(4).toString('hex')}`, labels: h.labels }));
          expect(e).toMatchObject({ code: 'build_failed', message: expect.stringContaining('was built for another org') });
        }
        expect(await d.listContainers(otherLabels, { all: true })).toEqual([]);
      } finally {
        await d.removeByLabels(otherLabels);
        rmSync(otherDir, { recursive: true, force: true });
        rmSync(fromOther, { recursive: true, force: true });
      }
    });

    it('refuses a build that would ADD from a URL, and says how to fetch instead', async () => {
      const dir = dockerfileDir(`FROM ${h.image}\nadd  --chown=0:0 \\\n  ["http://127.0.0.1:9/x", "/x"]\n`);
      try {
        const tag = `cynchro-test-app:${randomBytes(4).toString('hex')}`;
        const lines: string[] = [];
        const e = await failure(d.buildFromDirectory({ dir, tag, labels: h.labels, onLine: (l) => lines.push(l) }));
        expect(e.code).toBe('build_failed');
        expect(e.message).toContain(ADD_URL_REFUSED);
        expect(lines.filter((l) => l.startsWith('ERROR: ') && l.includes('ADD from a URL is refused'))).toHaveLength(1);
        expect(await d.imageExists(tag)).toBe(false);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('cuts an overlong log line and marks it, in snapshots and follows alike', async () => {
      const c = await d.runContainer(spec());
      const ac = new AbortController();
      const followed: string[] = [];
      const done = (async () => {
        for await (const l of d.followLogs(c.id, { signal: ac.signal })) followed.push(l.text);
      })();
      await h.say(c.id, 'x'.repeat(MAX_LOG_LINE_BYTES + 4000), 'stdout');
      await h.say(c.id, 'after the long one', 'stdout');
      const lines = await until('both lines', async () => {
        const l = await d.logs(c.id);
        return l.some((x) => x.text === 'after the long one') ? l : undefined;
      });
      const cut = lines.find((l) => l.text.startsWith('x'))?.text ?? '';
      expect(cut).toMatch(new RegExp(`^x{${MAX_LOG_LINE_BYTES}}… \\[truncated \\d+ bytes\\]$`));
      await until('followed', async () => followed.includes('after the long one'));
      expect(followed.find((t) => t.startsWith('x'))).toBe(cut);
      ac.abort();
      await done;
    });

    it('refuses unsafe git input with the same codes, before doing anything', async () => {
      const base = { branch: 'main', tag: 'cynchro-test-x:1', labels: h.labels };
      const cases: [Partial<Parameters<DockerDriver['buildFromGit']>[0]>, string][] = [
        [{ repoUrl: 'ext::sh -c touch% /tmp/pwned' }, 'unsafe_url'],
        [{ repoUrl: 'file:///etc' }, 'unsafe_url'],
        [{ repoUrl: '--upload-pack=touch /tmp/pwned' }, 'unsafe_url'],
        [{ repoUrl: 'http://example.com/x.git' }, 'unsafe_url'],
        [{ repoUrl: 'https://user:pw@example.com/x.git' }, 'unsafe_url'],
        [{ repoUrl: 'https://example.com/x.git', branch: '--upload-pack=touch /tmp/pwned' }, 'invalid_ref'],
        [{ repoUrl: 'https://example.com/x.git', commit: '--foo' }, 'invalid_ref'],
        [{ repoUrl: 'https://example.com/x.git', dockerfile: '../Dockerfile' }, 'invalid_path'],
        [{ repoUrl: 'https://example.com/x.git', context: '/etc' }, 'invalid_path'],
        [{ repoUrl: 'https://example.com/x.git', context: 'a/../../b' }, 'invalid_path'],
      ];
      for (const [over, code] of cases) {
        const e = await failure(d.buildFromGit({ repoUrl: '', ...base, ...over } as Parameters<DockerDriver['buildFromGit']>[0]));
        expect(`${JSON.stringify(over)} → ${e.code}`).toBe(`${JSON.stringify(over)} → ${code}`);
      }
    });

    it('removes everything by label, idempotently, and refuses an empty selector', async () => {
      const scope = { ...h.labels, [LABELS.app]: `gone-${randomBytes(3).toString('hex')}` };
      const net = `cyn-net-${randomBytes(4).toString('hex')}`;
      await d.ensureNetwork(net, scope);
      const c = await d.runContainer(spec({ labels: scope, network: net, volumes: [{ name: `cyn-vol-${randomBytes(4).toString('hex')}`, path: '/data' }], secretFiles: { K: 'v' } }));
      await d.stopContainer(c.id, 2);
      await d.runContainer(spec({ labels: scope }));
      await d.buildFromDirectory({ dir: h.buildDir, tag: `cynchro-test-app:${randomBytes(4).toString('hex')}`, labels: scope });
      await d.removeByLabels(scope);
      expect(await d.listContainers(scope, { all: true })).toEqual([]);
      expect(await d.listNetworks(scope)).toEqual([]);
      expect(await d.listVolumes(scope)).toEqual([]);
      expect(await d.listImages(scope)).toEqual([]);
      await d.removeByLabels(scope);
      expect((await failure(d.removeByLabels({}))).code).toBe('invalid_ref');
      expect((await failure(d.removeByLabels({ [LABELS.managed]: 'true' }))).code).toBe('invalid_ref');
    });
  });
}
