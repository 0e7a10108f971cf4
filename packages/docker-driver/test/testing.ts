// What other packages' tests reuse against the real engine: busybox images built FROM scratch, a smart-HTTP git
// server standing in for GitHub, exec into and kill containers, and a scan of Docker's disk.
export { buildBusybox, busyboxDir, exec, findOnDockerDisk, imageLabels, killContainer, runLabels, uniqueName } from './helpers/engine.js';
export { startGitHttpServer, type GitHttpServer } from './scripts/git-http-server.js';
// A real multi-node Swarm cluster on this machine (engines in network namespaces, a registry): the Swarm tests' base.
export {
  cleanStaleSwarmClusters,
  listSwarmClusters,
  removeSwarmCluster,
  startSwarmCluster,
  SWARM_CLUSTER_BASE,
  type SwarmCluster,
  type SwarmClusterNode,
  type SwarmClusterOptions,
} from './helpers/swarmCluster.js';
