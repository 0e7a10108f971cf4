// Asks on the terminal; a secret answer is not echoed. Without a TTY, reads one line from stdin.
import { createInterface } from 'node:readline';

export async function prompt(question: string, opts: { secret?: boolean; default?: string } = {}): Promise<string> {
  const input = process.stdin;
  const output = process.stderr;
  const label = `${question}${opts.default ? ` [${opts.default}]` : ''}: `;
  const rl = createInterface({ input, output, terminal: input.isTTY === true });
  if (opts.secret && input.isTTY) {
    // Echo nothing while the answer is typed.
    (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = (s: string) => {
      if (s.startsWith(label)) output.write(label);
      else if (s.includes('\n') || s.includes('\r')) output.write('\n');
    };
  }
  try {
    const answer = await new Promise<string>((resolve) => {
      rl.question(label, resolve);
      rl.once('close', () => resolve(''));
    });
    return answer.trim() || opts.default || '';
  } finally {
    rl.close();
  }
}
