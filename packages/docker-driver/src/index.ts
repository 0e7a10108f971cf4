export { LABELS } from './types.js';
export type {
  BuildFromDirectoryOptions,
  BuildFromGitOptions,
  ContainerInfo,
  ContainerSpec,
  DockerDriver,
  EngineEvent,
  EngineEventAction,
  EngineEventsOptions,
  FollowLogsOptions,
  ImageInfo,
  Labels,
  LogLine,
  RegistryAuth,
  WaitHealthyOptions,
} from './types.js';
export { DockerError, type DockerErrorCode } from './DockerError.js';
export { createDockerodeDriver, DEFAULT_PIDS_LIMIT, type DockerodeDriverOptions } from './createDockerodeDriver.js';
export { createFakeDockerDriver, type FakeDockerControls, type FakeDockerDriver } from './createFakeDockerDriver.js';
