export { get } from '../test/http-get.js';
export { freePort } from '../test/spawn-server.js';

import { spawn } from 'node:child_process';

/** Runs a command (argv, never a shell string) and answers its trimmed stdout; rejects with its stderr. */
export function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('close', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`${cmd} ${args.join(' ')}: ${err}`))));
  });
}
