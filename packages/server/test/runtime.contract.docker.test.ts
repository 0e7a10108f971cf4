// The runtime contract (runtime-contract.ts) on the single-engine runtime and the real Docker engine.
import { createDockerodeDriver, LABELS } from '@cynchro/docker-driver';
import { buildBusybox, imageLabels } from '@cynchro/docker-driver/testing';
import pino from 'pino';
import { AppEvents } from '../src/lib/app-events.js';
import { DockerRuntime } from '../src/modules/runtime/docker-runtime.js';
import { CONTRACT_DEAD, CONTRACT_WEB, describeRuntimeContract } from './runtime-contract.js';

describeRuntimeContract('one Docker engine', async () => {
  const docker = createDockerodeDriver();
  const labels = imageLabels();
  const [web, dead] = await Promise.all([buildBusybox(docker, labels, CONTRACT_WEB), buildBusybox(docker, labels, CONTRACT_DEAD)]);
  const runtime = new DockerRuntime({ docker, events: new AppEvents(), log: pino({ level: 'silent' }) });
  return {
    runtime,
    web,
    dead,
    async close() {
      await docker.removeByLabels({ [LABELS.managed]: 'true', ...labels });
      await docker.removeByLabels(labels);
      await docker.close();
    },
  };
});
