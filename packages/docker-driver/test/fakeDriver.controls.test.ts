// The fake's test controls, as the server's tests use them.
import { describe, expect, it } from 'vitest';
import { ADD_URL_REFUSED, createFakeDockerDriver, DockerError, FAKE_DEFAULT_USAGE, FAKE_HOST_MEMORY_BYTES, LABELS, MAX_LOG_LINE_BYTES, MAX_LOGS_SNAPSHOT_BYTES, truncationMarker, type EngineEvent } from '../src/index.js';
import { failure } from './helpers/failure.js';
import { watchEvents } from './helpers/watchEvents.js';

const labels = { [LABELS.managed]: 'true', [LABELS.org]: 'o1', [LABELS.app]: 'a1', [LABELS.deployment]: 'd1', [LABELS.service]: 'app' };

describe('fake driver controls', () => {
  it('reports the usage it is told (setStats), kept across restarts; the memory limit is the spec\'s', async () => {
    const d = createFakeDockerDriver();
    d.addImage('app:1');
    const limited = await d.runContainer({ name: 'limited', image: 'app:1', labels, memoryMb: 128 });
    const unlimited = await d.runContainer({ name: 'unlimited', image: 'app:1', labels });
    expect(await d.containerStats(limited.id)).toMatchObject({ ...FAKE_DEFAULT_USAGE, memoryLimitBytes: 128 * 1024 * 1024 });
    expect(await d.containerStats(unlimited.id)).toMatchObject({ memoryLimitBytes: FAKE_HOST_MEMORY_BYTES });
    d.setStats(limited.id, { cpuPercent: 12.5 });
    d.setStats(limited.id, { memoryBytes: 3_000_000 });
    d.crash(limited.id);
    const s = await d.containerStats(limited.id);
    expect(s).toMatchObject({ cpuPercent: 12.5, memoryBytes: 3_000_000, memoryLimitBytes: 128 * 1024 * 1024 });
    expect(Date.parse(s?.readAt ?? '')).not.toBeNaN();
    d.kill(limited.id);
    expect(await d.containerStats(limited.id)).toBeNull();
    expect(() => d.setStats('nope', { cpuPercent: 1 })).toThrow(DockerError);
    d.engineDown();
    expect((await failure(d.containerStats(unlimited.id))).code).toBe('engine');
    d.engineUp();
    expect(await d.containerStats(unlimited.id)).not.toBeNull();
  });

  it('fails builds, pulls and health on request, and records what it was asked', async () => {
    const d = createFakeDockerDriver();
    d.failBuild('https://git.example/broken.git', "The command '/bin/sh -c make' returned a non-zero code: 2");
    const lines: string[] = [];
    await expect(
      d.buildFromGit({ repoUrl: 'https://git.example/broken.git', branch: 'main', tag: 'app:1', labels, token: 't0k', onLine: (l) => lines.push(l) }),
    ).rejects.toMatchObject({ code: 'build_failed', message: expect.stringContaining('non-zero code: 2') });
    expect(lines.at(-1)).toContain('non-zero code: 2');
    expect(d.lastGitBuild()?.token).toBe('t0k');
    expect(JSON.stringify(d.calls)).not.toContain('t0k');
    d.setHeadCommit('a'.repeat(40));
    const ok = await d.buildFromGit({ repoUrl: 'https://git.example/ok.git', branch: 'main', tag: 'app:2', labels });
    expect(ok.commitSha).toBe('a'.repeat(40));
    const c = await d.runContainer({ name: 'web', image: 'app:2', port: 8080, labels, secretFiles: { K: 'v' } });
    await d.waitHealthy(c.id, { timeoutMs: 1000 });
    d.failHealth('app:2');
    await expect(d.waitHealthy(c.id, { timeoutMs: 60_000 })).rejects.toMatchObject({ code: 'health_timeout' });
    d.crash(c.id);
    expect(d.secretFilesOf(c.id)).toEqual({ K: 'v' });
    expect(d.calls.map((x) => x.method)).toContain('waitHealthy');
    expect((await d.inspectContainer(c.id))?.running).toBe(true);
    await expect(d.runContainer({ name: 'web', image: 'app:2', labels })).rejects.toMatchObject({ code: 'engine' });
    expect(d.calls.map((x) => x.method)).toContain('runContainer');
  });

  it('holds builds, images and logs to the real driver\'s confinement rules', async () => {
    const d = createFakeDockerDriver();
    // A repo's Dockerfile, checked as the real driver checks it.
    d.setRepoDockerfile('https://git.example/add.git', 'FROM busybox:1\nADD http://169.254.169.254/latest/meta-data /m\n');
    const lines: string[] = [];
    const e = await failure(d.buildFromGit({ repoUrl: 'https://git.example/add.git', branch: 'main', tag: 'app:add', labels, onLine: (l) => lines.push(l) }));
    expect(e).toMatchObject({ code: 'build_failed', message: expect.stringContaining(ADD_URL_REFUSED) });
    expect(lines.at(-1)).toMatch(/^ERROR: .*ADD from a URL/);
    // Images of another org: not as a base, not to run.
    const theirs = await d.buildFromGit({ repoUrl: 'https://git.example/b.git', branch: 'main', tag: 'theirs:1', labels: { ...labels, [LABELS.org]: 'o2' } });
    d.setRepoDockerfile('https://git.example/from.git', 'FROM theirs:1\n');
    expect((await failure(d.buildFromGit({ repoUrl: 'https://git.example/from.git', branch: 'main', tag: 'app:from', labels }))).message).toContain('another org');
    expect((await failure(d.runContainer({ name: 'x1', image: 'app:ok', imageId: theirs.imageId, labels }))).code).toBe('invalid_ref');
    expect((await failure(d.runContainer({ name: 'x2', image: 'theirs:1', labels }))).code).toBe('invalid_ref');
    expect((await failure(d.runContainer({ name: 'x3', image: theirs.imageId.slice(7, 19), labels }))).code).toBe('invalid_ref');
    expect(await d.inspectImage(theirs.imageId)).toMatchObject({ id: theirs.imageId, labels: { [LABELS.org]: 'o2' } });
    // Log lines are cut, and a snapshot keeps the newest lines within its byte budget.
    d.addImage('app:1');
    const c = await d.runContainer({ name: 'logs', image: 'app:1', labels });
    d.emitLog(c.id, 'x'.repeat(MAX_LOG_LINE_BYTES + 10));
    for (let i = 0; i < 200; i++) d.emitLog(c.id, `${'y'.repeat(16_000)} ${i}`);
    const all = await d.logs(c.id, { tail: 1000 });
    expect(all.reduce((n, l) => n + Buffer.byteLength(l.text), 0)).toBeLessThanOrEqual(MAX_LOGS_SNAPSHOT_BYTES);
    expect(all.at(-1)?.text).toMatch(/ 199$/);
    const first = [];
    for await (const l of d.followLogs(c.id, { signal: AbortSignal.timeout(1000) })) {
      first.push(l.text);
      break;
    }
    expect(first).toEqual(['x'.repeat(MAX_LOG_LINE_BYTES) + truncationMarker(10)]);
  });

  const actions = (evs: EngineEvent[]) => evs.map((e) => e.action);

  it('emits what the engine emits for a crash, docker kill, docker restart and docker rm -f', async () => {
    const d = createFakeDockerDriver();
    d.addImage('app:1');
    const w = watchEvents(d);
    const c = await d.runContainer({ name: 'web', image: 'app:1', port: 8080, labels, secretFiles: { K: 'v' } });
    const port0 = c.hostPort;
    d.crash(c.id, 2);
    expect(actions(await w.when(c.id, 'start', 2))).toEqual(['create', 'start', 'die', 'start']);
    expect(w.of(c.id)[2]).toMatchObject({ exitCode: 2, labels, name: 'web' });
    const crashed = await d.inspectContainer(c.id);
    // A restart publishes the port anew, as the engine does (it hands out the next ephemeral port).
    expect(crashed).toMatchObject({ running: true, restartCount: 1, exitCode: 0, restarting: false });
    expect(crashed?.hostPort).not.toBe(port0);
    expect(d.secretFilesOf(c.id)).toEqual({ K: 'v' });

    d.restartExternally(c.id);
    expect(actions(await w.when(c.id, 'restart')).slice(4)).toEqual(['kill', 'die', 'stop', 'start', 'restart']);
    expect(await d.inspectContainer(c.id)).toMatchObject({ running: true, restartCount: 0 });

    d.kill(c.id);
    const killedEvents = await w.when(c.id, 'kill', 2);
    await w.when(c.id, 'die', 3);
    expect(actions(w.of(c.id)).slice(9)).toEqual(['kill', 'die']);
    expect(killedEvents.at(-1)?.signal).toBe(9);
    expect(w.of(c.id).at(-1)?.exitCode).toBe(137);
    const killed = await d.inspectContainer(c.id);
    expect(killed).toMatchObject({ state: 'exited', running: false, restarting: false, exitCode: 137 });
    expect(killed?.hostPort).toBeUndefined();
    expect(d.secretFilesOf(c.id)).toBeUndefined();
    expect(() => d.kill(c.id)).toThrow(DockerError); // not running

    await d.startContainer(c.id);
    d.removeExternally(c.id);
    expect(actions(await w.when(c.id, 'destroy')).slice(11)).toEqual(['start', 'kill', 'die', 'destroy']);
    expect(await d.inspectContainer(c.id)).toBeNull();
    const gone = await d.runContainer({ name: 'stopped', image: 'app:1', labels });
    await d.stopContainer(gone.id);
    d.removeExternally(gone.id);
    expect(actions(await w.when(gone.id, 'destroy'))).toEqual(['create', 'start', 'kill', 'die', 'stop', 'destroy']);
    await w.stop();
  });

  it('crash-loops a container until it recovers, and containers of a crashOnStart image from the start', async () => {
    const d = createFakeDockerDriver();
    d.addImage('app:1');
    d.addImage('broken:1');
    d.crashOnStart('broken:1', 4);
    const w = watchEvents(d);
    const c = await d.runContainer({ name: 'web', image: 'app:1', port: 8080, labels });
    d.crashLoop(c.id, 5);
    d.crashLoop(c.id, 5);
    expect(actions(await w.when(c.id, 'die', 2))).toEqual(['create', 'start', 'die', 'start', 'die']);
    const looping = await d.inspectContainer(c.id);
    expect(looping).toMatchObject({ state: 'restarting', running: false, restarting: true, exitCode: 5, restartCount: 2 });
    expect(looping?.hostPort).toBeUndefined();
    expect((await d.listContainers(labels)).map((x) => x.id)).not.toContain(c.id);
    await expect(d.waitHealthy(c.id, { timeoutMs: 1000 })).rejects.toMatchObject({ code: 'health_timeout' });
    d.recover(c.id);
    await w.when(c.id, 'start', 3);
    expect(await d.inspectContainer(c.id)).toMatchObject({ running: true, restarting: false, exitCode: 0, restartCount: 2 });
    expect(() => d.recover(c.id)).toThrow(/not in a crash loop/);

    const b = await d.runContainer({ name: 'broken', image: 'broken:1', labels });
    expect(b).toMatchObject({ running: false, state: 'restarting', exitCode: 4, restartCount: 1 });
    expect(actions(await w.when(b.id, 'die'))).toEqual(['create', 'start', 'die']);
    await d.stopContainer(b.id);
    expect(await d.inspectContainer(b.id)).toMatchObject({ state: 'exited', restarting: false });
    await w.stop();
  });

  it('reports health checks, recreate and the default managed=true filter', async () => {
    const d = createFakeDockerDriver();
    d.addImage('app:1');
    const w = watchEvents(d); // no labels: managed=true only
    const other = watchEvents(d, { labels: { [LABELS.managed]: 'driver-test' } });
    const c = await d.runContainer({ name: 'web', image: 'app:1', labels });
    const t = await d.runContainer({ name: 'test-owned', image: 'app:1', labels: { ...labels, [LABELS.managed]: 'driver-test' } });
    d.setHealth(c.id, 'unhealthy');
    expect((await w.when(c.id, 'health')).at(-1)).toMatchObject({ action: 'health', health: 'unhealthy' });
    const r = await d.recreateContainer(c.id);
    await w.when(r.id, 'start');
    // The real driver's order: the new container first (under a temporary name), then the old one goes.
    expect(w.seen.slice(3).map((e) => [e.action, e.containerId === r.id ? 'new' : 'old'])).toEqual([
      ['create', 'new'],
      ['kill', 'old'],
      ['die', 'old'],
      ['destroy', 'old'],
      ['start', 'new'],
    ]);
    expect(w.of(r.id)[0]?.name).toMatch(/^web-recreate-/);
    expect(w.of(r.id)[1]?.name).toBe('web');
    expect(w.of(t.id)).toEqual([]);
    expect(actions(await other.when(t.id, 'start'))).toEqual(['create', 'start']);
    expect(other.of(c.id)).toEqual([]);
    await w.stop();
    await other.stop();
  });

  it('replays from since, with a bounded history, and ends iterations on abort and on close', async () => {
    const d = createFakeDockerDriver();
    d.addImage('app:1');
    const t0 = Date.now();
    const first = await d.runContainer({ name: 'first', image: 'app:1', labels });
    let last = '';
    for (let i = 0; i < 400; i++) {
      last = (await d.runContainer({ name: `c${i}`, image: 'app:1', labels })).id;
      await d.removeContainer(last);
    }
    // 2 + 400 × (create, start, kill, die, destroy) = 2002 events happened; the last 1000 are kept.
    const all = watchEvents(d, { since: t0 });
    await all.when(last, 'destroy');
    expect(all.seen).toHaveLength(1000);
    expect(all.of(first.id)).toEqual([]);
    expect(all.seen.every((e, i) => i === 0 || e.time >= (all.seen[i - 1]?.time ?? 0))).toBe(true);
    const later = watchEvents(d, { since: (all.seen.at(-1)?.time ?? 0) + 1 });
    await d.stopContainer(first.id);
    expect(actions(await later.when(first.id, 'stop'))).toEqual(['kill', 'die', 'stop']);
    await later.stop();
    const open = watchEvents(d);
    await d.close();
    expect(await open.ended).toBeUndefined(); // ended quietly by close()
    // The driver can be followed again after close (server tests hand one driver to a restarted runtime).
    const again = watchEvents(d);
    await d.startContainer(first.id);
    await again.when(first.id, 'start');
    await again.stop();
    await all.stop();
  });

  it('a dockerd restart: iterations throw, calls fail while it is down, running containers come back on new ports', async () => {
    const d = createFakeDockerDriver();
    d.addImage('app:1');
    const c = await d.runContainer({ name: 'web', image: 'app:1', port: 8080, labels, secretFiles: { K: 'v' } });
    const stopped = await d.runContainer({ name: 'stopped', image: 'app:1', port: 8080, labels });
    await d.stopContainer(stopped.id);
    const followed = (async () => {
      for await (const l of d.followLogs(c.id, { followRestarts: true })) void l;
    })().then(
      () => undefined,
      (err: unknown) => err,
    );
    const w = watchEvents(d);
    const t0 = Date.now();
    d.engineDown();
    const e = await w.ended;
    expect(e).toBeInstanceOf(DockerError);
    expect(e).toMatchObject({ code: 'engine' });
    // What a dockerd shutdown delivers before the connection goes: its running containers stopping.
    expect(actions(w.seen)).toEqual(['kill', 'die', 'stop']);
    expect(w.of(c.id)).toHaveLength(3);
    expect(await followed).toMatchObject({ code: 'engine' });
    expect((await failure(d.inspectContainer(c.id))).code).toBe('engine');
    expect((await failure(d.ping())).code).toBe('engine');
    expect((await failure(d.runContainer({ name: 'x', image: 'app:1', labels }))).code).toBe('engine');
    expect(await watchEvents(d).ended).toMatchObject({ code: 'engine' });
    expect(() => d.crash(c.id)).toThrow(/down/);
    d.engineUp();
    // The caller reconnects with since: the starts of the restarted containers are there, nothing from before.
    const back = watchEvents(d, { since: t0 - 60_000 });
    expect(actions(await back.when(c.id, 'start'))).toEqual(['start']);
    expect(back.seen.map((x) => x.containerId)).toEqual([c.id]);
    const up = await d.inspectContainer(c.id);
    expect(up).toMatchObject({ running: true, restartCount: 0 });
    expect(up?.hostPort).not.toBe(c.hostPort);
    expect(d.secretFilesOf(c.id)).toEqual({ K: 'v' });
    expect(await d.inspectContainer(stopped.id)).toMatchObject({ running: false, state: 'exited' });
    d.restartEngine();
    expect(await back.ended).toMatchObject({ code: 'engine' });
    // The shutdown's events, then the break: the start that follows is for the next subscription's since.
    expect(actions(back.of(c.id))).toEqual(['start', 'kill', 'die', 'stop']);
    const afterRestart = watchEvents(d, { since: t0 });
    expect(actions(await afterRestart.when(c.id, 'start'))).toEqual(['start']);
    await afterRestart.stop();
    expect((await d.inspectContainer(c.id))?.hostPort).not.toBe(up?.hostPort);
  });
});
