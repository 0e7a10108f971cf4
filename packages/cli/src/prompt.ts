// Asks on the terminal (stderr), one shared reader for every question so piped answers ("email\npassword\n")
// are read line by line. A secret answer is not echoed on a TTY.
import { createInterface, type Interface } from 'node:readline';

let rl: Interface | undefined;
const queue: string[] = [];
const waiters: ((line: string) => void)[] = [];
let ended = false;
let muted = false;

function reader(): Interface {
  if (rl) return rl;
  const r = createInterface({ input: process.stdin, output: process.stderr, terminal: process.stdin.isTTY === true });
  (r as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = (s: string) => {
    if (!muted) process.stderr.write(s);
  };
  r.on('line', (line) => {
    const w = waiters.shift();
    if (w) w(line);
    else queue.push(line);
  });
  r.on('close', () => {
    ended = true;
    for (const w of waiters.splice(0)) w('');
  });
  rl = r;
  return r;
}

export async function prompt(question: string, opts: { secret?: boolean; default?: string } = {}): Promise<string> {
  reader();
  process.stderr.write(`${question}${opts.default ? ` [${opts.default}]` : ''}: `);
  muted = !!opts.secret && process.stdin.isTTY === true;
  try {
    const line = queue.length ? queue.shift()! : ended ? '' : await new Promise<string>((resolve) => waiters.push(resolve));
    return line.trim() || opts.default || '';
  } finally {
    if (muted) process.stderr.write('\n');
    muted = false;
  }
}

/**
 * The next line of standard input, as is (no question asked, nothing echoed on a TTY): `--password-stdin`,
 * `--repo-token-stdin`, a token piped in. Empty when stdin is closed.
 */
export async function readLine(): Promise<string> {
  reader();
  muted = process.stdin.isTTY === true;
  try {
    const line = queue.length ? queue.shift()! : ended ? '' : await new Promise<string>((resolve) => waiters.push(resolve));
    return line.replace(/\r$/, '');
  } finally {
    if (muted) process.stderr.write('\n');
    muted = false;
  }
}

/** Lets the process exit: call once no more questions will be asked. */
export function closePrompts(): void {
  rl?.close();
  rl = undefined;
}
