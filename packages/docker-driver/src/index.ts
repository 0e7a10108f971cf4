export { LABELS } from './types.js';
export type {
  BuildFromDirectoryOptions,
  BuildFromGitOptions,
  ContainerInfo,
  ContainerSpec,
  ContainerStats,
  DockerDriver,
  EngineEvent,
  EngineEventAction,
  EngineEventsOptions,
  EngineInfo,
  FollowLogsOptions,
  ImageInfo,
  Labels,
  LogLine,
  RegistryAuth,
  RemoteHeadOptions,
  WaitHealthyOptions,
} from './types.js';
export { DockerError, type DockerErrorCode } from './DockerError.js';
export { createDockerodeDriver, DEFAULT_PIDS_LIMIT, type DockerodeDriverOptions } from './createDockerodeDriver.js';
export { createFakeDockerDriver, FAKE_DEFAULT_USAGE, FAKE_ENGINE_HOST, FAKE_HOST_MEMORY_BYTES, type FakeDockerControls, type FakeDockerDriver } from './createFakeDockerDriver.js';
// Confinement limits (issue 11): what every container, build, log read and git run is held to.
export { CONTAINER_CAPABILITIES, CONTAINER_NOFILE_LIMIT } from './hardening.js';
export { BUILD_DEFAULT_CPU, BUILD_DEFAULT_MEMORY_MB } from './buildImage.js';
export { ADD_URL_REFUSED, MAX_DOCKERFILE_BYTES } from './dockerfilePolicy.js';
export { MAX_LOG_LINE_BYTES, MAX_LOGS_SNAPSHOT_BYTES, truncationMarker } from './lines.js';
export { GIT_STDERR_TAIL_CHARS, GIT_STDOUT_MAX_CHARS } from './runGit.js';
export { MAX_PASSWD_BYTES } from './secretFiles.js';
export { isImageId, validateImageId, validateImageRef } from './validateImageRef.js';
export { parseCidr, pickSubnet, validatePool } from './subnetPool.js';
export { createSwarmDriver, type SwarmDriverOptions } from './createSwarmDriver.js';
export type { SwarmDriver, SwarmNode, SwarmServiceInfo, SwarmServiceSpec, SwarmTask } from './swarmTypes.js';
export { httpProbe, tcpProbe } from './probePort.js';
