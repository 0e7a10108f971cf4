// Part of the SDK's build (scripts/build.mjs): rolls the declarations tsc emitted into dist/index.d.ts and
// dist/node/index.d.ts (plus a shared chunk) with rollup-plugin-dts, inlining what they take from @cynchro/server
// (the client view of the router, the error body), which is not published. Published packages (@trpc/*, ws…) stay
// imports. Fails when a bundled declaration still names an unpublished workspace package.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { rollup } from 'rollup';
import { dts } from 'rollup-plugin-dts';

const sdk = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(sdk, 'dist');
const staging = path.join(sdk, 'dist-dts');

const bundle = await rollup({
  input: { index: path.join(dist, 'index.d.ts'), 'node/index': path.join(dist, 'node', 'index.d.ts') },
  plugins: [dts({ includeExternal: ['@cynchro/server'], tsconfig: path.join(sdk, 'tsconfig.build.json') })],
  onwarn(warning, warn) {
    // The server's declarations are read whole, then shaken down to what the SDK names: Node built-ins they import
    // (tsconfig.build.json has no Node types) never reach the output, which the packed-install test type-checks.
    if (warning.code === 'CIRCULAR_DEPENDENCY' || (warning.code === 'UNRESOLVED_IMPORT' && warning.exporter?.startsWith('node:'))) return;
    warn(warning);
  },
});
fs.rmSync(staging, { recursive: true, force: true });
await bundle.write({ dir: staging, format: 'es', entryFileNames: '[name].d.ts', chunkFileNames: 'shared-[hash].d.ts' });
await bundle.close();

const bundled = fs.readdirSync(staging, { recursive: true }).filter((f) => f.endsWith('.d.ts'));
for (const f of bundled) {
  const unpublished = fs.readFileSync(path.join(staging, f), 'utf8').match(/from ['"](@cynchro\/[^'"]+)['"]|import\(['"](@cynchro\/[^'"]+)['"]\)/);
  if (unpublished) throw new Error(`${f} still imports ${unpublished[1] ?? unpublished[2]}`);
}
// Replace tsc's per-file declarations by the bundles.
for (const f of fs.readdirSync(dist, { recursive: true })) {
  if (/\.d\.ts(\.map)?$/.test(f)) fs.rmSync(path.join(dist, f));
}
for (const f of bundled) {
  fs.mkdirSync(path.dirname(path.join(dist, f)), { recursive: true });
  fs.renameSync(path.join(staging, f), path.join(dist, f));
}
fs.rmSync(staging, { recursive: true, force: true });
