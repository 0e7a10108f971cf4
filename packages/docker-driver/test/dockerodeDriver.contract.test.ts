import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, hostname, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { createDockerodeDriver } from '../src/index.js';
import { describeDriverContract } from './driverContract.js';
import { buildBusybox, exec, runLabels } from './helpers/engine.js';

// PID 1 is this shell: it serves with a daemonized httpd, exits 3 when /crash appears (a "crash" the
// restart policy undoes) and stops at once on SIGTERM.
const SERVE =
  'trap "exit 0" TERM; rm -f /crash; mkdir -p /www; echo ok > /www/index.html; httpd -p 8080 -h /www; ' +
  'while [ ! -e /crash ]; do sleep 0.1; done; exit 3';
const IDLE = 'trap "exit 0" TERM; rm -f /crash; while [ ! -e /crash ]; do sleep 0.1; done; exit 3';

describeDriverContract('dockerode driver on the real engine', async () => {
  const labels = runLabels();
  const driver = createDockerodeDriver();
  const image = await buildBusybox(driver, labels);
  const buildDir = mkdtempSync(join(tmpdir(), 'cynchro-ctx-'));
  writeFileSync(join(buildDir, 'Dockerfile'), `FROM ${image}\nRUN ["/bin/sh","-c","echo built > /built"]\n`);
  return {
    driver,
    labels,
    image,
    serving: () => ({ image, command: ['sh', '-c', SERVE] }),
    idle: () => ({ image, command: ['sh', '-c', IDLE] }),
    say: async (id, text, stream) => {
      const r = await exec(id, ['sh', '-c', `echo "$0" > /proc/1/fd/${stream === 'stdout' ? 1 : 2}`, text]);
      if (r.code !== 0) throw new Error(`say failed: ${r.out}`);
    },
    readSecret: async (id, key) => {
      const r = await exec(id, ['cat', `/run/secrets/${key}`]);
      return r.code === 0 ? r.out : undefined;
    },
    crash: async (id) => {
      await exec(id, ['touch', '/crash']);
    },
    burnCpu: async (id) => {
      // In the background with its output elsewhere, so the exec ends while the loop goes on.
      const r = await exec(id, ['sh', '-c', 'while :; do :; done >/dev/null 2>&1 </dev/null &']);
      if (r.code !== 0) throw new Error(`burnCpu failed: ${r.out}`);
    },
    exiting: () => ({ image, command: ['sh', '-c', 'exit 3'] }),
    unpullable: '127.0.0.1:1/cynchro/nothing:latest',
    buildDir,
    imageTimeResolutionMs: 1000,
    // The engine runs on this machine (the tests reach its containers on 127.0.0.1): the same CPUs (both honour
    // the CPU affinity), the same MemTotal from /proc/meminfo, the same host name.
    engine: { name: hostname(), cpus: availableParallelism(), memoryBytes: totalmem() },
    cleanup: async () => {
      await driver.removeByLabels(labels);
      await driver.close();
      rmSync(buildDir, { recursive: true, force: true });
    },
  };
});
