import { createFakeDockerDriver, FAKE_ENGINE_HOST } from '../src/index.js';
import { describeDriverContract } from './driverContract.js';
import { runLabels } from './helpers/engine.js';

describeDriverContract('in-memory fake', async () => {
  const labels = runLabels();
  const driver = createFakeDockerDriver();
  const unpullable = '127.0.0.1:1/cynchro/nothing:latest';
  driver.addImage('fake/busybox:1');
  driver.addImage('fake/idle:1');
  driver.failHealth('fake/idle:1');
  driver.addImage('fake/exit3:1');
  driver.crashOnStart('fake/exit3:1', 3);
  driver.failPull(unpullable, 'dial tcp 127.0.0.1:1: connect: connection refused');
  return {
    driver,
    labels,
    image: 'fake/busybox:1',
    serving: () => ({ image: 'fake/busybox:1', command: ['serve'] }),
    idle: () => ({ image: 'fake/idle:1', command: ['idle'] }),
    say: async (id, text, stream) => driver.emitLog(id, text, stream),
    readSecret: async (id, key) => driver.secretFilesOf(id)?.[key],
    crash: async (id) => driver.crash(id, 3),
    burnCpu: async (id) => driver.setStats(id, { cpuPercent: 49.5, memoryBytes: 6 * 1024 * 1024 }),
    exiting: () => ({ image: 'fake/exit3:1', command: ['exit', '3'] }),
    unpullable,
    buildDir: '/nonexistent/fake-context',
    imageTimeResolutionMs: 1,
    engine: FAKE_ENGINE_HOST,
    cleanup: async () => {
      await driver.removeByLabels(labels);
      await driver.close();
    },
  };
});
