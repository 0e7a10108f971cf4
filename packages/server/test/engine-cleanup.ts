// The end of a real-engine test file: the user's apps deleted through the API (as a user would), the server closed,
// then anything of the user's org and the test's own images removed from the engine by label.
import { LABELS, type DockerDriver, type Labels } from '@cynchro/docker-driver';
import type { Harness } from './harness.js';
import type { LiveServer } from './spawn-server.js';
import type { Reply, TestUser } from './vault-helpers.js';

export async function cleanUpEngine(o: {
  h: Harness | undefined;
  call: (method: string, url: string, opts?: { token?: string }) => Promise<Reply>;
  user: TestUser | undefined;
  docker: DockerDriver | undefined;
  testImages: Labels;
  /** Closed after the server (a git server, say). */
  alsoClose?: () => Promise<void> | undefined;
}): Promise<void> {
  if (o.user && o.h) {
    const apps = (await o.call('GET', '/apps', { token: o.user.accessToken })).body?.apps ?? [];
    for (const a of apps) await o.call('DELETE', `/apps/${a.id}`, { token: o.user.accessToken });
  }
  await o.h?.close();
  await o.alsoClose?.();
  if (o.user) await o.docker?.removeByLabels({ [LABELS.org]: o.user.orgId });
  await o.docker?.removeByLabels(o.testImages);
  await o.docker?.close();
}

/**
 * The end of a test file whose server runs as its own process: the server stopped (its ingress process too), then
 * everything of the org it served and the test's own images removed from the engine by label.
 */
export async function cleanUpLiveServer(o: { server: LiveServer | undefined; docker: DockerDriver; orgId: string | undefined; testImages: Labels }): Promise<void> {
  await o.server?.stop();
  if (o.orgId) await o.docker.removeByLabels({ [LABELS.org]: o.orgId }, { volumes: true, images: true });
  await o.docker.removeByLabels(o.testImages);
  await o.docker.close();
}
