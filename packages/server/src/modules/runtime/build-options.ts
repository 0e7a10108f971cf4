// What either runtime asks the engine to build for a BuildRequest: the same clone, tag and labels on one engine and
// on a Swarm manager (which then pushes it).
import { LABELS, type BuildFromGitOptions } from '@cynchro/docker-driver';
import type { BuildRequest } from './app-runtime.js';
import { builtImageTag, releaseLabels } from './names.js';

export function buildOptions(req: BuildRequest): BuildFromGitOptions {
  return {
    repoUrl: req.repoUrl,
    branch: req.branch,
    ...(req.commit ? { commit: req.commit } : {}),
    dockerfile: req.dockerfile,
    context: req.context,
    ...(req.token ? { token: req.token } : {}),
    tag: builtImageTag(req.ref.appId, req.ref.deploymentId, req.service),
    labels: { ...releaseLabels(req.ref), [LABELS.service]: req.service },
    allowHosts: req.allowHosts,
    onLine: req.onLine,
    signal: req.signal,
    timeoutMs: req.timeoutMs,
  };
}
