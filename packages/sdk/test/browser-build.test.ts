// The main entry must bundle for browsers: no Node built-ins, and `ws` only behind the runtime's own WebSocket.
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { expect, it } from 'vitest';

it('bundles for the browser without Node-only imports', async () => {
  const entry = fileURLToPath(new URL('../src/index.ts', import.meta.url));
  const r = await build({ entryPoints: [entry], bundle: true, platform: 'browser', format: 'esm', write: false, logLevel: 'silent' });
  expect(r.errors).toEqual([]);
  const code = r.outputFiles[0]!.text;
  expect(code).not.toMatch(/from\s*["']node:|require\(["']node:|from\s*["']ws["']/);
  expect(code).toContain('globalThis');
});
