// deployInputFromCompose: real-world Compose files (fixtures/compose) become the `services` of POST /deploy that the
// server's own schema accepts; everything Cynchro cannot run is refused, each problem with its key and line.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DeployInput, ServiceInput } from '../../server/src/modules/deploy/deploy.schema.js';
import { ComposeError, deployInputFromCompose, type ComposeOptions, type ComposeProblem } from '../src/index.js';

const fixture = (name: string) => fs.readFileSync(fileURLToPath(new URL(`./fixtures/compose/${name}.yml`, import.meta.url)), 'utf8');

/** The problems deployInputFromCompose throws (failing the test when it does not). */
function problems(yaml: string, options?: ComposeOptions): ComposeProblem[] {
  try {
    deployInputFromCompose(yaml, options);
  } catch (e) {
    expect(e).toBeInstanceOf(ComposeError);
    return [...(e as ComposeError).problems];
  }
  throw new Error('expected a ComposeError');
}
const where = (ps: ComposeProblem[]) => ps.map(({ key, line }) => ({ key, line }));

/** The server's own validation of the whole body. */
function acceptedByServer(body: unknown): void {
  const r = DeployInput.safeParse(body);
  expect(r.success, r.success ? '' : JSON.stringify(r.error.issues)).toBe(true);
}

/** The server's validation of each service (a body with services and repo: see the build-from-repo test). */
function servicesAcceptedByServer(services: unknown[]): void {
  for (const s of services) {
    const r = ServiceInput.safeParse(s);
    expect(r.success, r.success ? '' : JSON.stringify(r.error.issues)).toBe(true);
  }
}

/** One service from a small file: `services:\n  s:\n` + the indented lines. */
const one = (lines: string, options?: ComposeOptions) =>
  deployInputFromCompose(`services:\n  s:\n${lines.replace(/^/gm, '    ')}\n`, options).services[0]!;

describe('real-world files', () => {
  it('web + postgres + redis: named volumes, depends_on with conditions, environment as map and list, limits', () => {
    const out = deployInputFromCompose(fixture('web-postgres-redis'));
    expect(out).toEqual({
      services: [
        {
          name: 'web',
          image: 'ghcr.io/acme/shop-web:1.4.2',
          command: ['node', 'dist/server.js', '--port', '8080'],
          port: 8080,
          env: { NODE_ENV: 'production', DATABASE_URL: 'postgres://shop:devpass@db:5432/shop', REDIS_URL: 'redis://cache:6379/0', WORKERS: '4' },
          dependsOn: ['db', 'cache'],
          replicas: 2,
          cpu: 0.5,
          memory: 256,
          domain: 'shop.example.com',
          healthcheck: { path: '/healthz' },
        },
        {
          name: 'db',
          image: 'postgres:16-alpine',
          env: { POSTGRES_USER: 'shop', POSTGRES_DB: 'shop', POSTGRES_PASSWORD: 'devpass', PGDATA: '/var/lib/postgresql/data/pgdata' },
          volumes: [{ name: 'db-data', path: '/var/lib/postgresql/data' }],
          cpu: 1,
          memory: 1024,
        },
        {
          name: 'cache',
          image: 'redis:7-alpine',
          command: ['redis-server', '--appendonly', 'yes', '--maxmemory', '200mb', '--save', ''],
          volumes: [{ name: 'cache-data', path: '/data' }],
          cpu: 0.25,
          memory: 512,
        },
      ],
    });
    acceptedByServer({ name: 'shop', ...out });
  });

  it('${VAR} takes the variables given (the CLI passes its environment)', () => {
    const out = deployInputFromCompose(fixture('web-postgres-redis'), { variables: { POSTGRES_PASSWORD: 'from-env' } });
    expect(out.services[0]!.env!.DATABASE_URL).toBe('postgres://shop:from-env@db:5432/shop');
    expect(out.services[1]!.env!.POSTGRES_PASSWORD).toBe('from-env');
  });

  it('build-from-repo: {context, dockerfile} and a string context, built from options.repo; merge keys; image ignored beside build', () => {
    const repo = 'https://github.com/acme/shop';
    const out = deployInputFromCompose(fixture('build-from-repo'), { repo });
    expect(out).toEqual({
      repo,
      services: [
        {
          name: 'api',
          context: 'services/api',
          dockerfile: 'docker/Dockerfile.prod',
          env: { LOG_LEVEL: 'info' },
          port: 3000,
          healthcheck: { path: '/health' },
          envFrom: ['api-secrets'],
          secretFiles: ['api-tls'],
        },
        { name: 'frontend', context: 'frontend', port: 8080, dependsOn: ['api'] },
      ],
    });
    // Each service as the server's ServiceInput takes it. The whole body is not checked here: deploy.schema.ts asks
    // build services for a top-level repo, and its "exactly one of image, repo or services" check refuses one.
    servicesAcceptedByServer(out.services);
  });

  it('build services without a repo are refused at their build key', () => {
    expect(where(problems(fixture('build-from-repo')))).toEqual([
      { key: 'services.api.build', line: 12 },
      { key: 'services.frontend.build', line: 27 },
    ]);
  });

  it('the repo (and branch) may come from the top-level x-cynchro; options.repo wins', () => {
    const yaml = 'x-cynchro:\n  repo: https://github.com/acme/file\n  branch: release\nservices:\n  api:\n    build: .\n';
    expect(deployInputFromCompose(yaml)).toEqual({ repo: 'https://github.com/acme/file', branch: 'release', services: [{ name: 'api', context: '.' }] });
    expect(deployInputFromCompose(yaml, { repo: 'https://github.com/acme/flag' }).repo).toBe('https://github.com/acme/flag');
  });

  it('a worker without ports: not routed, command as a list, environment from variables, memory in bytes', () => {
    const out = deployInputFromCompose(fixture('worker'), { variables: { QUEUES: 'default,mail' } });
    expect(out).toEqual({
      services: [
        { name: 'web', image: 'acme/web:2.0', port: 8000 },
        {
          name: 'worker',
          image: 'acme/web:2.0',
          command: ['celery', '-A', 'acme.tasks', 'worker', '--loglevel=INFO'],
          env: { BROKER_URL: 'redis://web:6379/1', QUEUES: 'default,mail' },
          dependsOn: ['web'],
          replicas: 3,
          memory: 512,
        },
      ],
    });
    expect(out.services[1]).not.toHaveProperty('port');
    acceptedByServer({ name: 'jobs', ...out });
  });

  it('an environment key without a value and no such variable is a problem, not an empty value', () => {
    const ps = problems(fixture('worker'));
    expect(where(ps)).toEqual([{ key: 'services.worker.environment[1]', line: 18 }]);
    expect(ps[0]!.message).toMatch(/^QUEUES has no value here/);
  });
});

describe('refusals: every problem, each with its key and line', () => {
  it('refused.yml', () => {
    const ps = problems(fixture('refused'));
    expect(where(ps)).toEqual([
      { key: 'services.web.privileged', line: 5 },
      { key: 'services.web.ports[1]', line: 8 },
      { key: 'services.web.volumes[0]', line: 10 },
      { key: 'services.web.volumes[1]', line: 11 },
      { key: 'services.web.devices', line: 13 },
      { key: 'services.web.cap_add', line: 15 },
      { key: 'services.web.frobnicate', line: 16 },
      { key: 'services.web.env_file', line: 17 },
      { key: 'services.sidecar.network_mode', line: 20 },
      { key: 'services.sidecar.pid', line: 21 },
      { key: 'services.sidecar.ipc', line: 22 },
      { key: 'services.sidecar.userns_mode', line: 23 },
      { key: 'services.sidecar.extra_hosts', line: 24 },
      { key: 'services.sidecar.volumes_from', line: 26 },
      { key: 'services.sidecar.volumes[0]', line: 29 },
      { key: 'services.sidecar.volumes[1]', line: 32 },
      { key: 'services.sidecar.secrets', line: 34 },
      { key: 'services.sidecar.healthcheck', line: 36 },
      { key: 'services.sidecar.depends_on[0]', line: 38 },
      { key: 'services.Bad_Name', line: 39 },
      { key: 'services.Bad_Name.build', line: 40 },
      { key: 'secrets', line: 43 },
    ]);
    const msg = Object.fromEntries(ps.map((p) => [p.key, p.message]));
    expect(msg['services.web.privileged']).toMatch(/privileged/);
    expect(msg['services.web.ports[1]']).toMatch(/one port/);
    expect(msg['services.web.volumes[0]']).toMatch(/^bind mounts are refused.*named volume \(name:\/app\/src\)/);
    expect(msg['services.web.frobnicate']).toMatch(/^unknown or unsupported key/);
    expect(msg['services.web.env_file']).toMatch(/Cynchro secret.*x-cynchro\.envFrom/);
    expect(msg['services.sidecar.network_mode']).toMatch(/^host networking is refused/);
    expect(msg['services.sidecar.volumes[0]']).toMatch(/^bind mounts are refused/);
    expect(msg['services.sidecar.volumes[1]']).toMatch(/^tmpfs mounts are not supported/);
    expect(msg['services.sidecar.secrets']).toMatch(/x-cynchro\.secretFiles/);
    expect(msg['services.sidecar.healthcheck']).toMatch(/x-cynchro\.healthcheck\.path/);
    expect(msg['services.sidecar.depends_on[0]']).toBe('no service named "nosuch" in this file');
    expect(msg['services.Bad_Name']).toMatch(/DNS-safe.*"bad-name"/);
  });

  it("ComposeError's message lists every problem with its line and key", () => {
    try {
      deployInputFromCompose(fixture('refused'));
      expect.unreachable();
    } catch (e) {
      const m = (e as ComposeError).message;
      expect(m.split('\n')[0]).toBe('The Compose file cannot be deployed (22 problems):');
      expect(m).toContain('\n  line 5: services.web.privileged: privileged containers are never run');
      expect(m).toContain('\n  line 43: secrets: Compose secrets are files on your machine');
      expect(m.split('\n')).toHaveLength(23);
    }
  });

  it.each([
    ['privileged: true', 'privileged'],
    ['devices: ["/dev/kvm"]', 'devices'],
    ['cap_add: [NET_ADMIN]', 'cap_add'],
    ['pid: host', 'pid'],
    ['ipc: host', 'ipc'],
    ['userns_mode: host', 'userns_mode'],
    ['extra_hosts: ["a:1.2.3.4"]', 'extra_hosts'],
    ['volumes_from: [other]', 'volumes_from'],
    ['network_mode: host', 'network_mode'],
    ['network_mode: "service:other"', 'network_mode'],
    ['security_opt: ["seccomp:unconfined"]', 'security_opt'],
    ['entrypoint: /bin/sh', 'entrypoint'],
    ['env_file: .env', 'env_file'],
    ['secrets: [a]', 'secrets'],
    ['configs: [a]', 'configs'],
    ['profiles: [debug]', 'profiles'],
    ['working_dir: /app', 'working_dir'],
    ['no_such_key: 1', 'no_such_key'],
  ])('%s → refused at services.s.<key>, line 4', (line, key) => {
    expect(where(problems(`services:\n  s:\n    image: a/b:1\n    ${line}\n`))).toEqual([{ key: `services.s.${key}`, line: 4 }]);
  });

  it.each([
    ['- ./data:/data', 'bind mounts are refused'],
    ['- /srv/data:/data', 'bind mounts are refused'],
    ['- ~/data:/data', 'bind mounts are refused'],
    ['- /data', 'anonymous volumes are not supported'],
    ['- data:/data:ro', 'read-only volumes are not supported'],
    ['- data:relative', 'must be absolute'],
    ['- undeclared:/data', 'volume "undeclared" is not declared'],
    ['- {type: bind, source: ., target: /data}', 'bind mounts are refused'],
    ['- {type: volume, target: /data}', 'anonymous volumes are not supported'],
    ['- {type: volume, source: data, target: /data, read_only: true}', 'read-only volumes are not supported'],
  ])('volume %s → %s', (item, message) => {
    const ps = problems(`services:\n  s:\n    image: a/b:1\n    volumes:\n      ${item}\nvolumes:\n  data:\n`);
    expect(ps.map((p) => p.line)).toContain(5);
    expect(ps.find((p) => p.line === 5)).toMatchObject({ key: expect.stringMatching(/^services\.s\.volumes\[0\]/), message: expect.stringContaining(message) });
  });

  it('ports: udp, ranges, non-numbers and long-form options are refused', () => {
    expect(problems('services:\n  s:\n    image: a/b:1\n    ports: ["53:53/udp"]\n')).toEqual([{ key: 'services.s.ports[0]', line: 4, message: 'only tcp: the ingress routes HTTP (got udp)' }]);
    expect(problems('services:\n  s:\n    image: a/b:1\n    ports:\n      - "3000-3005"\n')[0]).toMatchObject({ key: 'services.s.ports[0]', line: 5, message: expect.stringMatching(/ranges/) });
    expect(problems('services:\n  s:\n    image: a/b:1\n    ports: ["http"]\n')[0]).toMatchObject({ key: 'services.s.ports[0]', message: '"http" is not a port (1–65535)' });
    expect(where(problems('services:\n  s:\n    image: a/b:1\n    ports:\n      - target: 80\n        bogus: 1\n'))).toEqual([{ key: 'services.s.ports[0].bogus', line: 6 }]);
    expect(where(problems('services:\n  s:\n    image: a/b:1\n    ports:\n      - published: 80\n'))).toEqual([{ key: 'services.s.ports[0]', line: 5 }]);
  });

  it('build: args, other keys and paths outside the repo are refused', () => {
    const o = { repo: 'https://github.com/acme/x' };
    expect(where(problems('services:\n  s:\n    build:\n      context: .\n      args:\n        A: 1\n      target: prod\n', o))).toEqual([
      { key: 'services.s.build.args', line: 5 },
      { key: 'services.s.build.target', line: 7 },
    ]);
    expect(problems('services:\n  s:\n    build: /home/me/app\n', o)[0]).toMatchObject({ key: 'services.s.build', line: 3, message: expect.stringMatching(/inside the app's repo/) });
    expect(problems('services:\n  s:\n    build: ../other\n', o)[0]).toMatchObject({ key: 'services.s.build', message: expect.stringMatching(/no "\.\."/) });
    expect(problems('services:\n  s:\n    build: https://github.com/acme/other.git\n', o)[0]).toMatchObject({ message: expect.stringMatching(/another repo/) });
    expect(problems('services:\n  s:\n    build:\n      dockerfile: /Dockerfile\n', o)[0]).toMatchObject({ key: 'services.s.build.dockerfile', line: 4 });
  });

  it('a service needs image or build; services are required and not empty', () => {
    expect(problems('services:\n  s:\n    command: x\n')).toEqual([{ key: 'services.s', line: 2, message: "needs image, or build (from the app's repo)" }]);
    expect(where(problems('version: "3"\n'))).toEqual([{ key: 'services', line: 1 }]);
    expect(where(problems('services: {}\n'))).toEqual([{ key: 'services', line: 1 }]);
    expect(where(problems('- a\n- b\n'))).toEqual([{ key: '', line: 1 }]);
  });

  it('depends_on: unknown services, itself, one-shot conditions and unknown options', () => {
    const ps = problems('services:\n  a:\n    image: a/b:1\n    depends_on:\n      a:\n        condition: service_started\n      b:\n        condition: service_completed_successfully\n      c:\n        wait: true\n  b:\n    image: a/b:1\n');
    expect(where(ps)).toEqual([
      { key: 'services.a.depends_on.a', line: 5 },
      { key: 'services.a.depends_on.b.condition', line: 8 },
      { key: 'services.a.depends_on.c', line: 9 },
      { key: 'services.a.depends_on.c.wait', line: 10 },
    ]);
    expect(ps.map((p) => p.message)).toEqual([
      'a service cannot depend on itself',
      expect.stringMatching(/one-shot jobs are not supported/),
      'no service named "c" in this file',
      'unknown depends_on option (condition, restart, required)',
    ]);
  });

  it('container_name other than the service name, restart "no", network options, external networks and volumes', () => {
    const ps = problems(
      [
        'services:',
        '  s:',
        '    image: a/b:1',
        '    container_name: my-postgres',
        '    restart: "no"',
        '    networks:',
        '      backend:',
        '        aliases: [database]',
        'networks:',
        '  backend:',
        '    external: true',
        'volumes:',
        '  data:',
        '    driver: nfs',
        '  other:',
        '    external: true',
      ].join('\n'),
    );
    expect(where(ps)).toEqual([
      { key: 'services.s.container_name', line: 4 },
      { key: 'services.s.restart', line: 5 },
      { key: 'services.s.networks.backend.aliases', line: 8 },
      { key: 'networks.backend.external', line: 11 },
      { key: 'volumes.data.driver', line: 14 },
      { key: 'volumes.other.external', line: 16 },
    ]);
    expect(ps[0]!.message).toMatch(/"my-postgres" would not resolve/);
  });

  it('deploy: modes other than replicated, placement, unknown resources; a memory or cpus it cannot read', () => {
    const ps = problems(
      [
        'services:',
        '  s:',
        '    image: a/b:1',
        '    deploy:',
        '      mode: global',
        '      placement:',
        '        constraints: [node.role == manager]',
        '      resources:',
        '        limits:',
        '          cpus: lots',
        '          memory: 2 pages',
        '          pids: 100',
        '        reservations:',
        '          devices:',
        '            - capabilities: [gpu]',
      ].join('\n'),
    );
    expect(where(ps)).toEqual([
      { key: 'services.s.deploy.mode', line: 5 },
      { key: 'services.s.deploy.placement', line: 6 },
      { key: 'services.s.deploy.resources.limits.cpus', line: 10 },
      { key: 'services.s.deploy.resources.limits.memory', line: 11 },
      { key: 'services.s.deploy.resources.limits.pids', line: 12 },
      { key: 'services.s.deploy.resources.reservations.devices', line: 14 },
    ]);
    expect(ps[2]!.message).toBe('"lots" is not a number of cores, such as 0.5');
    expect(ps[3]!.message).toBe('"2 pages" is not an amount of memory, such as 256M or 1g');
    expect(where(problems('services:\n  s:\n    image: a/b:1\n    mem_limit: 1g\n    deploy:\n      resources:\n        limits:\n          memory: 2g\n'))).toEqual([
      { key: 'services.s.mem_limit', line: 4 },
    ]);
  });

  it('x-cynchro: unknown keys, a healthcheck path without "/", envFrom not a list; unknown top-level keys', () => {
    const ps = problems('x-cynchro:\n  domain: x.example.com\nservices:\n  s:\n    image: a/b:1\n    x-cynchro:\n      port: 80\n      healthcheck:\n        path: healthz\n      envFrom: api-secrets\nmodels:\n  llm: {}\n');
    expect(where(ps)).toEqual([
      { key: 'x-cynchro.domain', line: 2 },
      { key: 'services.s.x-cynchro.port', line: 7 },
      { key: 'services.s.x-cynchro.healthcheck.path', line: 9 },
      { key: 'services.s.x-cynchro.envFrom', line: 10 },
      { key: 'models', line: 11 },
    ]);
  });

  it('variables: unset without a default, ${VAR:?message}, unterminated references', () => {
    const ps = problems('services:\n  s:\n    image: acme/${IMAGE}:1\n    environment:\n      A: ${NEED:?set NEED first}\n      B: "${OOPS"\n', { variables: {} });
    expect(ps).toEqual([
      { key: 'services.s.environment.A', line: 5, message: 'NEED is not set: set NEED first' },
      { key: 'services.s.environment.B', line: 6, message: 'unterminated ${ in "${OOPS"' },
      { key: 'services.s.image', line: 3, message: expect.stringMatching(/^\$\{IMAGE\} is not set in the environment/) },
    ].sort((a, b) => a.line - b.line));
  });

  it('YAML syntax errors and duplicate keys name their line', () => {
    expect(problems('services:\n  web:\n    image: a/b:1\n    image: a/b:2\n')).toEqual([{ key: '', line: 4, message: 'YAML: Map keys must be unique' }]);
    const bad = problems('services:\n  web:\n    image: [unclosed\n');
    expect(bad.length).toBeGreaterThan(0);
    expect(bad[0]!.key).toBe('');
    expect(bad[0]!.message).toMatch(/^YAML: /);
  });
});

describe('the accepted forms', () => {
  it.each([
    ['"8080"', 8080],
    ['8080', 8080],
    ['"80:8080"', 8080],
    ['"127.0.0.1:80:8080/tcp"', 8080],
    ['"[::1]:80:8080"', 8080],
    ['{target: 8080, published: "80", host_ip: 0.0.0.0, protocol: tcp, mode: host}', 8080],
  ])('ports: [%s] → port %d (the container port)', (item, port) => {
    expect(one(`image: a/b:1\nports: [${item}]`).port).toBe(port);
  });

  it.each([
    ['"0.5"', 0.5],
    ['0.25', 0.25],
    ['2', 2],
    ['".5"', 0.5],
  ])('cpus %s → %d cores', (v, cpu) => {
    expect(one(`image: a/b:1\ndeploy:\n  resources:\n    limits:\n      cpus: ${v}`).cpu).toBe(cpu);
  });

  it.each([
    ['256M', 256],
    ['256m', 256],
    ['256mb', 256],
    ['1g', 1024],
    ['1G', 1024],
    ['1.5gb', 1536],
    ['512m', 512],
    ['268435456', 256],
    ['268435457', 257],
    ['300000k', 293],
  ])('memory %s → %d MB (rounded up)', (v, mb) => {
    expect(one(`image: a/b:1\ndeploy:\n  resources:\n    limits:\n      memory: ${v}`).memory).toBe(mb);
  });

  it.each([
    ['npm start', ['npm', 'start']],
    [`sh -c 'echo "$$HOME" && sleep 1'`, ['sh', '-c', 'echo "$HOME" && sleep 1']],
    [`"node" "server.js" --name "a b" --q=\\"x\\"`, ['node', 'server.js', '--name', 'a b', '--q="x"']],
    [`echo a\\ b ''`, ['echo', 'a b', '']],
    [`  spaced   out  `, ['spaced', 'out']],
  ])('command %s → %j', (cmd, words) => {
    expect(one(`image: a/b:1\ncommand: ${JSON.stringify(cmd)}`).command).toEqual(words);
  });

  it('command: unterminated quotes are a problem at the command key', () => {
    expect(problems(`services:\n  s:\n    image: a/b:1\n    command: "sh -c 'echo"\n`)).toEqual([{ key: 'services.s.command', line: 4, message: 'unterminated single quote' }]);
  });

  it('environment: map values as written (numbers, booleans, empty), list items split at the first "="', () => {
    expect(one('image: a/b:1\nenvironment:\n  A: 1\n  B: true\n  C: ""\n  D: 0.10').env).toEqual({ A: '1', B: 'true', C: '', D: '0.10' });
    expect(where(problems('services:\n  s:\n    image: a/b:1\n    environment:\n      - A=x=y\n      - C\n'))).toEqual([{ key: 'services.s.environment[1]', line: 6 }]);
    expect(one('image: a/b:1\nenvironment:\n  - A=x=y\n  - B=\n  - C', { variables: { C: 'from-env' } }).env).toEqual({ A: 'x=y', B: '', C: 'from-env' });
    expect(one('image: a/b:1\nenvironment:\n  TOKEN:', { variables: { TOKEN: 't' } }).env).toEqual({ TOKEN: 't' });
    expect(problems('services:\n  s:\n    image: a/b:1\n    environment:\n      spring.profile: x\n')[0]).toMatchObject({ key: 'services.s.environment.spring.profile', line: 5 });
  });

  it('interpolation: $$, $VAR, ${VAR}, defaults, alternatives, nested defaults', () => {
    const variables = { TAG: '2.1', EMPTY: '', NAME: 'shop' };
    const env = one(
      [
        'image: acme/web:${TAG}',
        'environment:',
        '  A: $$NOT_A_VAR',
        '  B: ${EMPTY:-fallback}',
        '  C: ${EMPTY-kept-empty}',
        '  D: ${UNSET:-${NAME}-default}',
        '  E: ${NAME:+set}',
        '  F: ${UNSET:+set}',
        '  G: $NAME/db',
        '  H: price $5',
      ].join('\n'),
      { variables },
    );
    expect(env.image).toBe('acme/web:2.1');
    expect(env.env).toEqual({ A: '$NOT_A_VAR', B: 'fallback', C: '', D: 'shop-default', E: 'set', F: '', G: 'shop/db', H: 'price $5' });
  });

  it('volume names become DNS-safe; two that would collide are refused', () => {
    const out = deployInputFromCompose('services:\n  s:\n    image: a/b:1\n    volumes: ["My_Data.v2:/data", "cache:/cache:rw"]\nvolumes:\n  My_Data.v2:\n  cache:\n    labels: {a: b}\n');
    expect(out.services[0]!.volumes).toEqual([{ name: 'my-data-v2', path: '/data' }, { name: 'cache', path: '/cache' }]);
    expect(where(problems('services:\n  s:\n    image: a/b:1\nvolumes:\n  db_data:\n  db-data:\n'))).toEqual([{ key: 'volumes.db-data', line: 6 }]);
    const declared = 'services:\n  s:\n    image: a/b:1\n    volumes: [data:/data]\nvolumes:\n  data:\n    external: false\nnetworks:\n  default:\n    external: false\n';
    expect(deployInputFromCompose(declared).services[0]!.volumes).toEqual([{ name: 'data', path: '/data' }]);
  });

  it('ignored keys: expose, labels, restart, networks by name, container_name equal to the service, healthcheck disabled, other x-*', () => {
    const s = one(
      [
        'image: a/b:1',
        'expose: ["9000"]',
        'labels: {traefik.enable: "true"}',
        'restart: on-failure:3',
        'networks: [front, back]',
        'container_name: s',
        'healthcheck:',
        '  disable: true',
        'x-notes: anything',
        'deploy:',
        '  restart_policy: {condition: any}',
        '  update_config: {parallelism: 1}',
        '  resources:',
        '    reservations: {cpus: "0.1", memory: 64M}',
      ].join('\n'),
    );
    expect(s).toEqual({ name: 's', image: 'a/b:1' });
  });

  it('merge keys: several sources, explicit keys win, the first source wins over later ones', () => {
    const out = deployInputFromCompose(
      [
        'x-a: &a',
        '  image: acme/a:1',
        '  environment: {FROM: a}',
        'x-b: &b',
        '  image: acme/b:1',
        '  command: ["b"]',
        'services:',
        '  s:',
        '    <<: [*a, *b]',
        '    environment: {FROM: s}',
      ].join('\n'),
    );
    expect(out.services).toEqual([{ name: 's', image: 'acme/a:1', env: { FROM: 's' }, command: ['b'] }]);
  });

  it('service order is the file order (the first routed service gets the app domain)', () => {
    const out = deployInputFromCompose('services:\n  zeta:\n    image: a/b:1\n    ports: ["80"]\n  alpha:\n    image: a/b:1\n    ports: ["81"]\n');
    expect(out.services.map((s) => s.name)).toEqual(['zeta', 'alpha']);
  });
});
