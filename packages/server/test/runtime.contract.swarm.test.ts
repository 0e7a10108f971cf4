// The runtime contract (runtime-contract.ts) on the Swarm runtime and a real three-node cluster (network
// namespaces, a registry on the test bridge): the same behaviour the pipeline and reconciler rely on.
import { createDockerodeDriver, createSwarmDriver } from '@cynchro/docker-driver';
import { buildBusybox, imageLabels, startSwarmCluster } from '@cynchro/docker-driver/testing';
import pino from 'pino';
import { AppEvents } from '../src/lib/app-events.js';
import { SwarmRuntime } from '../src/modules/runtime/swarm-runtime.js';
import { CONTRACT_DEAD, CONTRACT_WEB, describeRuntimeContract } from './runtime-contract.js';

describeRuntimeContract(
  'a Swarm cluster of three nodes',
  async () => {
    const cluster = await startSwarmCluster({ nodes: 3, log: () => {} });
    const docker = createDockerodeDriver({ docker: cluster.docker(0) });
    const swarm = createSwarmDriver({ docker: cluster.docker(0) });
    const labels = imageLabels();
    const push = async (dockerfile: string, repo: string) => {
      const local = await buildBusybox(docker, labels, dockerfile);
      await swarm.pushImage(local, `${cluster.registry}/${repo}`, 'contract');
      return `${cluster.registry}/${repo}:contract`;
    };
    const [web, dead] = await Promise.all([push(CONTRACT_WEB, 'contract/web'), push(CONTRACT_DEAD, 'contract/dead')]);
    const runtime = new SwarmRuntime({ docker, swarm, events: new AppEvents(), log: pino({ level: 'silent' }), registry: { host: cluster.registry }, pollMs: 300 });
    return {
      runtime,
      web,
      dead,
      async close() {
        await docker.close();
        await cluster.close();
      },
    };
  },
  { timeoutMs: 180_000 },
);
