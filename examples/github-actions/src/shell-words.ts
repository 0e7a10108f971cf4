// One simple shell command split into its words, as bash would before running it: whitespace separates words,
// single quotes are literal, double quotes keep spaces and expand $VAR / ${VAR}, a backslash escapes the next
// character, a backslash-newline continues the line. Anything that would make it more than one plain command
// (pipes, lists, redirections, substitutions, globs) is refused: then it is not a command this example runs as argv.

export function shellWords(command: string, env: Record<string, string | undefined>): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let i = 0;
  const s = command.trim();
  const variable = (): string => {
    // At a '$': ${NAME} or $NAME.
    const braced = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}/.exec(s.slice(i));
    const plain = /^\$([A-Za-z_][A-Za-z0-9_]*)/.exec(s.slice(i));
    const m = braced ?? plain;
    if (!m) throw new Error(`unsupported expansion at "${s.slice(i, i + 10)}" in: ${command}`);
    i += m[0].length;
    return env[m[1]!] ?? '';
  };
  while (i < s.length) {
    const c = s[i]!;
    if (c === ' ' || c === '\t' || c === '\n') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      i++;
    } else if (c === '\\') {
      if (s[i + 1] === '\n') i += 2; // line continuation
      else {
        word += s[i + 1] ?? '';
        inWord = true;
        i += 2;
      }
    } else if (c === "'") {
      const end = s.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unterminated ' in: ${command}`);
      word += s.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (c === '"') {
      inWord = true;
      i++;
      for (;;) {
        if (i >= s.length) throw new Error(`unterminated " in: ${command}`);
        const d = s[i]!;
        if (d === '"') {
          i++;
          break;
        }
        if (d === '$') word += variable();
        else if (d === '`') throw new Error(`command substitution is not supported: ${command}`);
        else if (d === '\\' && '"\\$`'.includes(s[i + 1] ?? '')) {
          word += s[i + 1];
          i += 2;
        } else {
          word += d;
          i++;
        }
      }
    } else if (c === '$') {
      // Unquoted: bash would split the value on whitespace; refuse values that would be split.
      const v = variable();
      if (/\s/.test(v)) throw new Error(`an unquoted variable holds whitespace in: ${command}`);
      word += v;
      if (v) inWord = true; // an unquoted empty value is no word at all
    } else if ('|&;<>()`*?[]{}#~'.includes(c)) {
      throw new Error(`not a single plain command ("${c}"): ${command}`);
    } else {
      word += c;
      inWord = true;
      i++;
    }
  }
  if (inWord) words.push(word);
  return words;
}
