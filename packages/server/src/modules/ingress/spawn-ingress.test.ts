import { describe, expect, it } from 'vitest';
import { ingressEntry, ingressExecArgv } from './spawn-ingress.js';

describe('spawning the ingress', () => {
  it('runs ingress-main beside the running code, .ts from src', () => {
    expect(ingressEntry()).toMatch(/\/src\/ingress-main\.ts$/);
  });

  it('keeps the loader flags and export conditions, drops the control plane\'s diagnostics', () => {
    const tsx = ['--require', '/x/tsx/preflight.cjs', '--import', 'file:///x/tsx/loader.mjs'];
    expect(ingressExecArgv('/a/ingress-main.ts', [...tsx, '--conditions=cynchro-source'])).toEqual([...tsx, '--conditions=cynchro-source']);
    expect(ingressExecArgv('/a/ingress-main.ts', [...tsx, '--inspect=9229', '--cpu-prof', '--cpu-prof-dir', '/tmp/p', '--max-old-space-size=64'])).toEqual([...tsx, '--max-old-space-size=64']);
    expect(ingressExecArgv('/a/ingress-main.js', ['--cpu-prof', '--heapsnapshot-signal', 'SIGUSR1'])).toEqual([]);
    // A runner that transforms TypeScript itself: tsx's loader instead of its flags.
    expect(ingressExecArgv('/a/ingress-main.ts', ['--conditions', 'x'])).toEqual(['--import', 'tsx']);
  });
});
