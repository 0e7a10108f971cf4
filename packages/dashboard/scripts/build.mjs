#!/usr/bin/env node
// Builds the dashboard into dist/ with Vite (the config lives here, so the root build's staleness digest, which reads
// src/, scripts/ and package.json, sees every input), then prints the gzip size of what a browser downloads and fails
// above the budget: the dashboard must stay small enough to load fast on a slow link.
import fs from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { build } from 'vite';

const pkgDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outDir = path.join(pkgDir, 'dist');
/** gzip bytes of every file in dist (the HTML, scripts and styles). */
export const BUDGET_GZIP_BYTES = 250 * 1024;

// A test runner's NODE_ENV=test (vitest global setups call the root build) would make React's development build.
process.env.NODE_ENV = 'production';

await build({
  mode: 'production',
  configFile: false,
  root: path.join(pkgDir, 'src'),
  base: '/ui/',
  logLevel: 'warn',
  plugins: [react()],
  // The SDK's sources (as tests and tsx use them): no need for its compiled dist.
  resolve: { conditions: ['cynchro-source', 'module', 'browser', 'development|production'] },
  build: {
    outDir,
    emptyOutDir: true,
    // One script and one stylesheet, no inline module-preload shim: the CSP allows scripts from 'self' only.
    modulePreload: false,
    assetsInlineLimit: 0,
    sourcemap: false,
    target: 'es2022',
  },
});

let total = 0;
const rows = [];
for (const f of walk(outDir)) {
  const gz = gzipSync(fs.readFileSync(f), { level: 9 }).length;
  total += gz;
  rows.push(`  ${path.relative(outDir, f)}  ${(gz / 1024).toFixed(1)} kB gzip`);
}
console.error(`dashboard bundle:\n${rows.join('\n')}\n  total ${(total / 1024).toFixed(1)} kB gzip (budget ${BUDGET_GZIP_BYTES / 1024} kB)`);
if (total > BUDGET_GZIP_BYTES) {
  console.error(`dashboard: the bundle is over its budget (${(total / 1024).toFixed(1)} kB > ${BUDGET_GZIP_BYTES / 1024} kB gzip)`);
  process.exit(1);
}

function* walk(dir) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yield* walk(p);
    else if (!e.name.startsWith('.')) yield p;
  }
}
