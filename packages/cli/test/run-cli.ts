// The `cynchro` bin in its own process on plain node, as a user runs it (the compiled CLI: the project's global
// setup builds it): CYNCHRO_* variables cleared, then `env`.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'cynchro.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the bin with `config` as XDG_CONFIG_HOME and `input` on its stdin. */
export function runCli(config: string, args: string[], opts: { input?: string; env?: Record<string, string> } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], {
      env: { ...process.env, XDG_CONFIG_HOME: config, CYNCHRO_URL: '', CYNCHRO_TOKEN: '', CYNCHRO_PASSWORD: '', ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    child.stdin.end(opts.input ?? '');
  });
}
