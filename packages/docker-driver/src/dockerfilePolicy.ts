// What a tenant's Dockerfile may not ask of the engine, checked before the build starts.
//
// The classic builder (the one this driver asks for, `version: '1'`) does two things on the host's side rather
// than in a build container: it fetches `ADD <url>` sources itself, from the host's network (loopback services such
// as the Caddy admin API, a cloud metadata address), and it resolves `FROM` and `COPY --from` images on the local
// engine, where a bare hex string is an id prefix that matches any local image, another tenant's included. So:
//  - `ADD` whose source is a URL (`http://`, `https://`, any `scheme://`, `git@host:`) is refused, and so is an ADD
//    whose source holds a variable (`$X`, which could expand to a URL from an ARG, an ENV or the base image's
//    environment): ADD sources must be literal. COPY never fetches, so COPY is not limited.
//  - `FROM` and `COPY --from` images must be names (validateImageRef), not ids or id prefixes; earlier stages
//    (by name or index) and `scratch` are fine. A FROM may use the ARGs declared before the first FROM, whose
//    defaults are known here (the driver passes no build args).
//  - Those images, when on the engine (or once pulled), must not carry another org's label, and the ONBUILD
//    triggers of base images (they run in this build) obey the same rules.
//
// The parser follows the engine's (moby/buildkit frontend/dockerfile/parser): instructions are case-insensitive,
// lines continue with the escape character (`\`, or `` ` `` after an `escape` directive) even across comment and
// blank lines, comments are lines starting with `#`, builder flags (`--chown=…`, `--from=…`) come before the
// arguments, and ADD/COPY take a JSON array too. Where parsers of different engine versions could disagree (which
// escape character is in force), every possible reading is checked and any violation refuses the build. Heredocs
// are not parsed: every line is read as a possible instruction, which can only refuse more.
import { DockerError } from './DockerError.js';
import { checkImageOrg } from './imagePolicy.js';
import type { Labels } from './types.js';
import { validateImageRef } from './validateImageRef.js';

/** Larger Dockerfiles are refused rather than read. */
export const MAX_DOCKERFILE_BYTES = 1024 * 1024;

export const ADD_URL_REFUSED =
  'ADD from a URL is refused: the engine would fetch it from the host\'s network. Download it in a RUN step ' +
  '(RUN wget -O /path/file <url>) or commit the file to the repository and COPY it';

export interface Instruction {
  /** Lower case: `add`, `from`, `copy`, `onbuild`, … */
  cmd: string;
  /** Builder flags (`--chown=1:1`), as the engine reads them. */
  flags: string[];
  /** Everything after the flags. */
  rest: string;
  /** The same as bytes (one latin1 character each), for an ONBUILD's own instruction. */
  restBytes: string;
  /** The arguments: the JSON array's strings, or the rest split at whitespace. */
  args: string[];
  /** 1-based line where the instruction starts. */
  line: number;
}

// The parser works on the file's bytes (each byte one latin1 character), as the engine's does: some of its steps
// decode UTF-8 (Go's unicode.IsSpace on runes when trimming), one walks raw bytes (extractBuilderFlags), and a
// decoded string would hide the difference (an invalid byte 0xA0 separates flags there).

/** Go's unicode.IsSpace runes, as UTF-8 byte sequences: ASCII space, U+0085, U+00A0, U+1680, U+2000–U+200A, U+2028, U+2029, U+202F, U+205F, U+3000. */
const SPACE_BYTES = '(?:[\\t\\n\\v\\f\\r ]|\\xC2[\\x85\\xA0]|\\xE1\\x9A\\x80|\\xE2\\x80[\\x80-\\x8A\\xA8\\xA9\\xAF]|\\xE2\\x81\\x9F|\\xE3\\x80\\x80)';
const LEADING_SPACE = new RegExp(`^${SPACE_BYTES}+`);
const TRAILING_SPACE = new RegExp(`${SPACE_BYTES}+$`);
/** The engine's tokenWhitespace: only these separate words and the instruction from its arguments. */
const WORD_SPACE = /[\t\v\f\r ]+/;

const trimLeft = (s: string) => s.replace(LEADING_SPACE, '');
const trimBoth = (s: string) => trimLeft(s).replace(TRAILING_SPACE, '');
const isComment = (raw: string) => trimLeft(raw).startsWith('#');
const bytesOf = (text: string | Buffer) => (typeof text === 'string' ? Buffer.from(text, 'utf8') : text).toString('latin1');
const utf8 = (latin1: string) => Buffer.from(latin1, 'latin1').toString('utf8');

/** `\` always; `` ` `` too when an escape directive asks for it (a directive's reach differs between parsers). */
export function escapeCandidates(text: string | Buffer): string[] {
  const out = ['\\'];
  const directive = new RegExp(`^${SPACE_BYTES}*#${SPACE_BYTES}*escape${SPACE_BYTES}*=${SPACE_BYTES}*\``, 'im');
  if (directive.test(bytesOf(text))) out.push('`');
  return out;
}

/** Splits a Dockerfile into instructions, as the engine's parser does with `escape` as the escape character. */
export function parseDockerfile(text: string | Buffer, escape = '\\'): Instruction[] {
  const lines = bytesOf(text)
    .replace(/^\xEF\xBB\xBF/, '')
    .split('\n')
    .map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  const continuation = new RegExp(`${escape === '`' ? '`' : '\\\\'}[ \\t]*$`);
  const trimContinuation = (l: string): [string, boolean] => (continuation.test(l) ? [l.replace(continuation, ''), false] : [l, true]);
  const out: Instruction[] = [];
  for (let i = 0; i < lines.length; i++) {
    const startLine = i + 1;
    const first = lines[i] as string;
    let [line, ended] = trimContinuation(isComment(first) ? '' : trimLeft(first));
    if (ended && line === '') continue;
    while (!ended && i + 1 < lines.length) {
      const raw = lines[++i] as string;
      // Comment and blank lines inside a continuation are skipped, and the continuation goes on.
      if (isComment(raw)) continue;
      if (trimLeft(raw) === '') continue;
      let more: string;
      [more, ended] = trimContinuation(raw);
      line += more;
    }
    const ins = parseLine(line, startLine);
    if (ins) out.push(ins);
  }
  return out;
}

/** One instruction given as text (an ONBUILD trigger from an image's config). */
export function parseInstruction(line: string, lineNo = 1): Instruction | null {
  return parseLine(bytesOf(line), lineNo);
}

/** One logical line (continuations joined, as bytes) → an instruction, or null for an empty one. */
function parseLine(line: string, lineNo: number): Instruction | null {
  const trimmed = trimBoth(line);
  if (!trimmed) return null;
  const m = WORD_SPACE.exec(trimmed);
  const cmd = (m ? trimmed.slice(0, m.index) : trimmed).toLowerCase();
  const after = m ? trimmed.slice(m.index + m[0].length) : '';
  const { rest, flags } = extractBuilderFlags(after);
  return { cmd: utf8(cmd), flags: flags.map(utf8), rest: utf8(rest), restBytes: rest, args: argsOf(utf8(rest)), line: lineNo };
}

/**
 * The engine's extractBuilderFlags, byte for byte: it walks the bytes and asks Go's unicode.IsSpace about each
 * byte as if it were a rune, so the bytes 0x85 and 0xA0 separate words there too.
 */
function extractBuilderFlags(line: string): { rest: string; flags: string[] } {
  const isSpace = (c: string) => /[\t\n\v\f\r \x85\xA0]/.test(c);
  const words: string[] = [];
  let phase: 'spaces' | 'word' | 'quote' = 'spaces';
  let word = '';
  let quote = '';
  let blankOK = false;
  let ch = '';
  for (let pos = 0; pos <= line.length; pos++) {
    if (pos !== line.length) ch = line[pos] as string;
    if (phase === 'spaces') {
      if (pos === line.length) break;
      if (isSpace(ch)) continue;
      if (ch !== '-' || pos + 1 === line.length || line[pos + 1] !== '-') return { rest: line.slice(pos), flags: words };
      phase = 'word';
    }
    if ((phase === 'word' || phase === 'quote') && pos === line.length) {
      if (word !== '--' && (blankOK || word.length > 0)) words.push(word);
      break;
    }
    if (phase === 'word') {
      if (isSpace(ch)) {
        phase = 'spaces';
        if (word === '--') return { rest: line.slice(pos), flags: words };
        if (blankOK || word.length > 0) words.push(word);
        word = '';
        blankOK = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
        phase = 'quote';
        continue;
      }
      if (ch === '\\') {
        if (pos + 1 === line.length) continue;
        pos++;
        ch = line[pos] as string;
      }
      word += ch;
      continue;
    }
    // In quotes.
    if (ch === quote) {
      phase = 'word';
      continue;
    }
    if (ch === '\\') {
      if (pos + 1 === line.length) {
        phase = 'word';
        continue;
      }
      pos++;
      ch = line[pos] as string;
    }
    word += ch;
  }
  return { rest: '', flags: words };
}

/** The JSON array form (the engine decodes the first JSON value and ignores what follows), else words. */
function argsOf(rest: string): string[] {
  const r = rest.replace(/^[\s\u0085]+/, '');
  if (r.startsWith('[')) {
    const end = jsonArrayEnd(r);
    if (end > 0) {
      try {
        const v: unknown = JSON.parse(r.slice(0, end));
        if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
      } catch {
        // Not JSON: words, as the engine falls back to.
      }
    }
  }
  return rest.split(WORD_SPACE).filter(Boolean);
}

function jsonArrayEnd(s: string): number {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '[' || c === '{') depth++;
    else if (c === ']' || c === '}') {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return -1;
}

/** Quotes and escape characters removed, as the engine's word processing would, to see what a word becomes. */
const unquote = (s: string) => s.replace(/["'\\`]/g, '');

/** Why an ADD source is refused, or null. */
function remoteSource(word: string): string | null {
  const w = unquote(word).toLowerCase();
  if (w.includes('://')) return 'a URL';
  // scp-like git remotes (git@github.com:org/repo.git), which BuildKit's ADD clones.
  if (/^[^/\s]*@[^/\s]+:/.test(w)) return 'a git remote';
  return null;
}

function checkAdd(ins: Instruction, where: string): void {
  // URLs: every word is looked at (flags and destination too), so whatever the exact split, a URL is refused.
  for (const w of [...ins.flags, ...ins.args, ...ins.rest.split(WORD_SPACE)]) {
    if (remoteSource(w)) throw new DockerError('build_failed', `${where}: ${ADD_URL_REFUSED}`);
  }
  // Variables: in the sources (everything but the last word, in both readings of the arguments).
  const words = ins.rest.split(WORD_SPACE).filter(Boolean);
  const sources = [...(ins.args.length > 1 ? ins.args.slice(0, -1) : ins.args), ...(words.length > 1 ? words.slice(0, -1) : words)];
  if (sources.some((w) => w.includes('$')))
    throw new DockerError(
      'build_failed',
      `${where}: ADD with a variable in its source is refused (it could expand to a URL the engine would fetch from the host's network); write the source literally, or use COPY`,
    );
}

/** An image the build reads, found by name on the engine: what the policy needs to know about it. */
export interface PolicyImage {
  id: string;
  labels: Labels;
  /** The base image's ONBUILD triggers (instruction text), run right after FROM. */
  onBuild: string[];
}

export interface ExternalImage {
  ref: string;
  kind: 'FROM' | 'COPY --from';
  /** Stage names (lower case) defined before it, for its ONBUILD triggers' COPY --from. */
  stagesBefore: string[];
  where: string;
}

const isStageIndex = (s: string) => /^[+-]?\d+$/.test(s);

/**
 * Checks a Dockerfile's text (no engine needed): refused ADD sources and image references. Returns the images it
 * reads from the engine (FROM, COPY --from), for checkBuildImages.
 */
export function checkDockerfile(content: string | Buffer, file = 'Dockerfile'): ExternalImage[] {
  if ((typeof content === 'string' ? Buffer.byteLength(content) : content.length) > MAX_DOCKERFILE_BYTES)
    throw new DockerError('build_failed', `${file} is larger than ${MAX_DOCKERFILE_BYTES} bytes`);
  const seen = new Map<string, ExternalImage>();
  for (const escape of escapeCandidates(content)) {
    for (const img of checkReading(parseDockerfile(content, escape), file)) if (!seen.has(`${img.kind} ${img.ref}`)) seen.set(`${img.kind} ${img.ref}`, img);
  }
  return [...seen.values()];
}

function checkReading(instructions: Instruction[], file: string): ExternalImage[] {
  const globalArgs = new Map<string, string | null>();
  const stages: string[] = [];
  const images: ExternalImage[] = [];
  let sawFrom = false;
  for (const ins of instructions) {
    const where = `${file} line ${ins.line}`;
    checkInstruction(ins, where, stages, images, false);
    if (ins.cmd === 'arg' && !sawFrom) {
      for (const a of ins.args) {
        const eq = a.indexOf('=');
        if (eq < 0) globalArgs.set(a, '');
        else globalArgs.set(a.slice(0, eq), argDefault(a.slice(eq + 1)));
      }
    }
    if (ins.cmd === 'from') {
      sawFrom = true;
      const [raw = '', as, name] = ins.args;
      const ref = expand(raw, globalArgs, where);
      const isStage = stages.includes(ref.toLowerCase());
      if (ref !== 'scratch' && !isStage) {
        validateBuildRef(ref, `${where}: FROM ${raw}`);
        images.push({ ref, kind: 'FROM', stagesBefore: [...stages], where });
      }
      stages.push(as?.toLowerCase() === 'as' && name ? name.toLowerCase() : `#${stages.length}`);
    }
  }
  return images;
}

/**
 * One instruction's rules. `trigger`: an ONBUILD trigger of a base image, whose COPY --from names are read in the
 * child's stages.
 */
function checkInstruction(ins: Instruction, where: string, stages: string[], images: ExternalImage[], trigger: boolean): void {
  if (ins.cmd === 'add') checkAdd(ins, where);
  if (ins.cmd === 'copy') {
    for (const f of ins.flags) {
      const eq = f.indexOf('=');
      if (f.slice(2, eq < 0 ? undefined : eq).toLowerCase() !== 'from') continue;
      const from = eq < 0 ? '' : f.slice(eq + 1);
      if (from.includes('$'))
        throw new DockerError('build_failed', `${where}: COPY --from with a variable is refused; name the stage or image literally`);
      if (isStageIndex(from) || stages.includes(from.toLowerCase())) continue;
      validateBuildRef(from, `${where}: COPY --from=${from}`);
      images.push({ ref: from, kind: 'COPY --from', stagesBefore: [...stages], where });
    }
  }
  if (ins.cmd === 'onbuild') {
    const sub = parseLine(ins.restBytes, ins.line);
    // Our own ONBUILD triggers run in a later build (which checks them again as a base image's): refuse them now.
    if (sub) checkInstruction(sub, `${where} (ONBUILD)`, trigger ? stages : [], [], true);
  }
}

function validateBuildRef(ref: string, what: string): void {
  try {
    validateImageRef(ref, what);
  } catch (err) {
    throw new DockerError('build_failed', `${(err as Error).message} (images must be named, never by id)`);
  }
}

/** An ARG default as the engine would read it, or null when it cannot be known here (it uses $, escapes). */
function argDefault(v: string): string | null {
  let s = v;
  if (s.length >= 2 && (s[0] === '"' || s[0] === "'") && s.endsWith(s[0] as string)) s = s.slice(1, -1);
  if (/[$\\`"']/.test(s)) return null;
  return s;
}

/** $X, ${X}, ${X:-word}, ${X:+word} with the global ARGs (unknown names are empty, as in the engine). */
function expand(raw: string, args: Map<string, string | null>, where: string): string {
  if (!raw.includes('$')) return raw;
  const cannot = () => new DockerError('build_failed', `${where}: FROM ${raw} cannot be checked before the build; name the base image literally`);
  const value = (name: string) => {
    const v = args.get(name);
    if (v === null) throw cannot();
    return v ?? '';
  };
  const out = raw.replace(/\$(?:([A-Za-z_][A-Za-z0-9_]*)|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:-|:\+)([^${}\\`"']*))?\})/g, (_m, bare: string, name: string, op: string, word: string) => {
    if (bare) return value(bare);
    const v = value(name);
    if (op === ':-') return v || word;
    if (op === ':+') return v ? word : '';
    return v;
  });
  if (/[$\\`"']/.test(out)) throw cannot();
  return out;
}

/**
 * Checks the images a build reads, on the engine: each is looked up (pulled first when missing, as the builder
 * would), must not carry another org's label than `buildLabels`, and a base image's ONBUILD triggers follow the
 * same rules as the Dockerfile.
 */
export async function checkBuildImages(
  images: ExternalImage[],
  buildLabels: Labels,
  engine: { lookup(ref: string): Promise<PolicyImage | null>; pull(ref: string): Promise<void> },
): Promise<void> {
  const done = new Set<string>();
  const visit = async (img: ExternalImage): Promise<void> => {
    const key = `${img.kind} ${img.ref} ${img.stagesBefore.join(',')}`;
    if (done.has(key)) return;
    done.add(key);
    let found = await engine.lookup(img.ref);
    if (!found) {
      await engine.pull(img.ref);
      found = await engine.lookup(img.ref);
    }
    if (!found) throw new DockerError('build_failed', `${img.where}: image ${img.ref} not found`);
    checkImageOrg(found.labels, buildLabels, `${img.where}: ${img.kind} image ${img.ref}`, 'build_failed');
    if (img.kind !== 'FROM') return;
    for (const t of found.onBuild) {
      const trigger = parseInstruction(t);
      if (!trigger) continue;
      const where = `${img.where}: ONBUILD trigger of ${img.ref} (${trigger.cmd.toUpperCase()})`;
      const more: ExternalImage[] = [];
      checkInstruction(trigger, where, img.stagesBefore, more, true);
      for (const m of more) await visit({ ...m, where });
    }
  };
  for (const img of images) await visit(img);
}
