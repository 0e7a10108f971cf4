#!/usr/bin/env node
// A developer's handle on the Swarm tests' cluster (packages/docker-driver/test/helpers/swarmCluster.ts), as root:
//   node scripts/swarm-cluster.mjs up [--nodes N]   start one that outlives this command; prints its addresses
//   node scripts/swarm-cluster.mjs ls               the clusters present
//   node scripts/swarm-cluster.mjs down [ID...]     remove the given clusters, or the detached and stale ones
// Then e.g. `docker -H <manager> node ls`, or RUNTIME=swarm REGISTRY=<registry> DOCKER_HOST=<manager> pnpm dev.
import { tsImport } from 'tsx/esm/api';

const helper = await tsImport('../packages/docker-driver/test/helpers/swarmCluster.ts', import.meta.url);
const [command, ...rest] = process.argv.slice(2);

function usage() {
  console.error('usage: node scripts/swarm-cluster.mjs up [--nodes N] | ls | down [ID...]');
  process.exit(2);
}

if (command === 'up') {
  let nodes = 3;
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === '--nodes') nodes = Number(rest[++i]);
    else usage();
  }
  const cluster = await helper.startSwarmCluster({ nodes, detached: true });
  console.log(
    JSON.stringify(
      {
        id: cluster.id,
        registry: cluster.registry,
        managerDockerHost: cluster.managerDockerHost,
        hostAddr: cluster.hostAddr,
        nodes: cluster.nodes.map((n) => ({ name: n.name, role: n.role, addr: n.addr, dockerHost: n.dockerHost, log: `${n.dir}/dockerd.log` })),
      },
      null,
      2,
    ),
  );
  console.log(`remove it with: node scripts/swarm-cluster.mjs down ${cluster.id}`);
} else if (command === 'ls') {
  for (const c of helper.listSwarmClusters()) {
    console.log(`${c.id}  ${c.detached ? 'detached' : c.alive ? 'owned by a running test' : 'stale'}  manager ${c.manager ?? '-'}  registry ${c.registry ?? '-'}`);
  }
} else if (command === 'down') {
  // Without ids: the detached ones (a cluster owned by a running test is that test's to remove).
  const ids = rest.length > 0 ? rest : helper.listSwarmClusters().filter((c) => c.detached).map((c) => c.id);
  for (const id of ids) {
    await helper.removeSwarmCluster(id);
    console.log(`removed ${id}`);
  }
  const stale = await helper.cleanStaleSwarmClusters();
  for (const id of stale) console.log(`removed stale ${id}`);
} else {
  usage();
}
// The engines run detached; open client sockets must not keep this command alive.
process.exit(0);
