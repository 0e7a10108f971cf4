// What a control plane that nobody asks for /openapi.json never loads (pnpm bench:memory): trpc-to-openapi's
// document generator with zod-openapi, openapi3-ts and yaml (~8 MB resident), and dockerode's BuildKit session
// (@grpc/grpc-js, protobufjs). A child process records every module it resolves, builds the whole server, then asks
// for the document once: the generator comes in then, and only then.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const serverDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

describe('modules loaded on demand', () => {
  it('the server starts without the OpenAPI generator or the BuildKit session; /openapi.json loads the generator', { timeout: 60_000 }, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cynchro-lazy-'));
    const log = path.join(dir, 'resolved.txt');
    try {
      const hook = `data:text/javascript,${encodeURIComponent(`
        import fs from 'node:fs';
        export async function resolve(s, c, next) {
          const r = await next(s, c);
          fs.appendFileSync(${JSON.stringify(log)}, r.url + '\\n');
          return r;
        }`)}`;
      const script = `
        import fs from 'node:fs';
        import { register } from 'node:module';
        register(${JSON.stringify(hook)});
        const { default: pino } = await import('pino');
        const { createFakeDockerDriver } = await import('@cynchro/docker-driver');
        const { loadConfig } = await import('./src/config.js');
        const { createRuntime } = await import('./src/runtime.js');
        const rt = await createRuntime(loadConfig({ DATA_DIR: ${JSON.stringify(path.join(dir, 'data'))}, LOG_LEVEL: 'silent', INGRESS_PROCESS: 'inprocess' }), { log: pino({ level: 'silent' }), docker: createFakeDockerDriver() });
        await rt.app.ready();
        fs.appendFileSync(${JSON.stringify(log)}, 'MARK ready\\n');
        const doc = await rt.app.inject({ method: 'GET', url: '/openapi.json' });
        fs.appendFileSync(${JSON.stringify(log)}, 'MARK openapi ' + doc.statusCode + '\\n');
        await rt.close();
      `;
      await promisify(execFile)(process.execPath, ['--conditions=cynchro-source', '--import', 'tsx', '--input-type=module', '-e', script], { cwd: serverDir, timeout: 50_000 });
      const lines = fs.readFileSync(log, 'utf8').split('\n');
      const ready = lines.indexOf('MARK ready');
      expect(ready).toBeGreaterThan(0);
      expect(lines).toContain('MARK openapi 200');
      const generator = /\/(zod-openapi|openapi3-ts|yaml)\/|\/trpc-to-openapi\/dist\/esm\/generator\//;
      const buildkit = /\/(@grpc|protobufjs)\//;
      const atStart = lines.slice(0, ready);
      expect(atStart.some((l) => l.includes('/trpc-to-openapi/dist/esm/adapters/fastify.mjs'))).toBe(true);
      expect(atStart.filter((l) => generator.test(l) || buildkit.test(l))).toEqual([]);
      expect(lines.slice(ready).some((l) => generator.test(l))).toBe(true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
