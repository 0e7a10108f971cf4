// Shared by the SDK's live-server suites: unique names, a busybox web image built FROM scratch, ingress requests.
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { createDockerodeDriver, type DockerDriver } from '@cynchro/docker-driver';
import { buildBusybox, imageLabels } from '@cynchro/docker-driver/testing';

export const uniq = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;
export const email = (prefix = 'sdk') => `${uniq(prefix)}@example.com`;
export const masterKey = () => randomBytes(32).toString('hex');

/** A web app image: prints a greeting and a tick per second, serves /www on 8080 with busybox httpd; exits at once on SIGTERM. */
export const WEB_DOCKERFILE = [
  'RUN ["/bin/sh","-c","mkdir /www && echo hello from cynchro > /www/index.html"]',
  `CMD ["/bin/sh","-c","trap 'exit 0' TERM; echo app-started; (i=0; while true; do echo tick $i; i=$((i+1)); sleep 1; done) & httpd -f -p 8080 -h /www & wait"]`,
].join('\n');

export interface TestImages {
  driver: DockerDriver;
  build(extraDockerfile: string): Promise<string>;
  cleanup(): Promise<void>;
}

/** Images labelled for this run only; cleanup() removes every one of them. */
export function testImages(): TestImages {
  const driver = createDockerodeDriver();
  const labels = imageLabels();
  return {
    driver,
    build: (extra) => buildBusybox(driver, labels, extra),
    async cleanup() {
      await driver.removeByLabels(labels, { images: true }).catch(() => {});
      await driver.close();
    },
  };
}

/** GET through the embedded ingress, choosing the virtual host (fetch cannot set Host). */
export function viaIngress(ingressPort: number | string, domain: string, path = '/'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: Number(ingressPort), path, headers: { host: domain } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
  });
}
