import { describe, expect, it } from 'vitest';
import { DockerError } from './DockerError.js';
import { checkBuildImages, checkDockerfile, parseDockerfile, type PolicyImage } from './dockerfilePolicy.js';
import { LABELS } from './types.js';

function refusal(content: string | Buffer): string {
  try {
    checkDockerfile(content);
  } catch (err) {
    if (err instanceof DockerError && err.code === 'build_failed') return err.message;
    throw err;
  }
  throw new Error(`not refused:\n${String(content)}`);
}

const HEX = 'a'.repeat(64);

describe('parseDockerfile', () => {
  it('reads instructions as the engine does: case, continuations across comments and blank lines, flags, JSON', () => {
    const ins = parseDockerfile(
      [
        '# a comment \\',
        'from busybox:1 AS Build',
        '  add --chown=1:1 \\',
        '# a comment inside',
        '',
        '   a.txt /a.txt',
        'COPY ["x y", "/z"] trailing',
        'copy --from=build --chown="a b" /src /dst',
        'RUN echo # not a comment',
      ].join('\r\n'),
    );
    expect(ins.map((i) => [i.cmd, i.flags, i.args, i.line])).toEqual([
      ['from', [], ['busybox:1', 'AS', 'Build'], 2],
      ['add', ['--chown=1:1'], ['a.txt', '/a.txt'], 3],
      ['copy', [], ['x y', '/z'], 7],
      ['copy', ['--from=build', '--chown=a b'], ['/src', '/dst'], 8],
      ['run', [], ['echo', '#', 'not', 'a', 'comment'], 9],
    ]);
  });

  it('uses the escape character it is given', () => {
    const text = 'RUN echo a `\nADD http://x /y\n';
    expect(parseDockerfile(text, '\\').map((i) => i.cmd)).toEqual(['run', 'add']);
    expect(parseDockerfile(text, '`').map((i) => i.cmd)).toEqual(['run']);
  });
});

describe('checkDockerfile: ADD from a URL', () => {
  const base = 'FROM busybox:1\n';
  it.each([
    ['plain', 'ADD http://169.254.169.254/latest/meta-data /m'],
    ['https, lower case', 'add https://example.com/x.tgz /x'],
    ['another scheme', 'ADD ftp://example.com/x /x'],
    ['git over ssh', 'ADD git@github.com:org/repo.git /src'],
    ['JSON form', 'ADD ["http://127.0.0.1:2019/config/", "/c"]'],
    ['JSON form with flags', 'ADD --chown=1:1 ["http://127.0.0.1:2019/config/","/c"]'],
    ['flags', 'ADD --chown=1000:1000 --chmod=600 http://x/y /y'],
    ['continued lines and a comment between', 'ADD \\\n# hidden?\n  http://127.0.0.1:2019/ \\\n  /c'],
    ['quoted', 'ADD "http://x/y" /y'],
    ['escaped', 'ADD http:\\/\\/x/y /y'],
    ['mixed case', 'AdD HTTP://X/Y /y'],
    ['later stage', 'RUN true\nFROM busybox:1 AS two\nADD http://x/y /y'],
    ['ONBUILD', 'ONBUILD ADD http://x/y /y'],
    ['several sources', 'ADD a.txt http://x/y /dst/'],
  ])('refuses %s', (_name, line) => {
    expect(refusal(base + line)).toMatch(/ADD from a URL is refused: the engine would fetch it from the host's network\. Download it in a RUN step \(RUN wget -O/);
  });

  it('refuses a variable as a source (ARG, ENV or the base image could make it a URL)', () => {
    expect(refusal(`${base}ARG U=http://x/y\nADD $U /y`)).toMatch(/variable in its source/);
    expect(refusal(`${base}ADD \${U} /y`)).toMatch(/variable/);
    expect(refusal(`${base}ADD ["$U", "/y"]`)).toMatch(/variable/);
  });

  it('reads a file whose escape directive is a backtick both ways', () => {
    // Engines that honour the directive see RUN + ADD; the backslash reading joins them. Either way: refused.
    expect(refusal('# escape=`\nFROM busybox:1\nRUN echo `\nADD http://x/y /y\n')).toMatch(/ADD from a URL/);
    expect(refusal('# syntax=docker/dockerfile:1\n# escape=`\nFROM busybox:1\nRUN echo \\\nADD http://x/y /y\n')).toMatch(/ADD from a URL/);
  });

  it('allows local sources, COPY, URLs outside ADD, and variables in the destination or in flags', () => {
    const ok = [
      'ADD app.tar.gz /srv/',
      'ADD http-server.conf /etc/',
      'ADD --chown=$UID:$GID a /b',
      'ADD a $HOME/b',
      'COPY . /app',
      'RUN wget -O /x http://example.com/x',
      'ENV URL=http://example.com',
      'LABEL url=https://example.com',
    ];
    expect(checkDockerfile(base + ok.join('\n'))).toEqual([{ ref: 'busybox:1', kind: 'FROM', stagesBefore: [], where: 'Dockerfile line 1' }]);
  });

  it('refuses a Dockerfile larger than 1 MiB', () => {
    expect(refusal(`${base}RUN true\n${'#'.repeat(1024 * 1024)}`)).toMatch(/larger than 1048576 bytes/);
  });
});

describe('checkDockerfile: images named by id', () => {
  it.each([
    ['a short id prefix', 'FROM 9'],
    ['an id prefix', 'FROM 3f2a9c'],
    ['a full id', `FROM ${HEX}`],
    ['sha256:', `FROM sha256:${HEX}`],
    ['sha256: prefix with a platform', 'FROM --platform=linux/amd64 sha256:3f2a'],
    ['an ARG that expands to an id prefix', 'ARG B=3f2a\nFROM ${B}'],
    ['an unknown ARG around a prefix', 'FROM ${NOPE}3f2a'],
    ['COPY --from an id prefix', 'FROM busybox:1\nCOPY --from=3f2a /etc/secret /s'],
    ['COPY --from sha256:', 'FROM busybox:1\nCOPY --from=sha256:3f2a /etc/secret /s'],
    ['COPY --from a stage defined later', 'FROM busybox:1\nCOPY --from=abc /x /x\nFROM busybox:1 AS abc'],
    ['ONBUILD COPY --from an id', 'FROM busybox:1\nONBUILD COPY --from=3f2a /x /x'],
  ])('refuses %s', (_name, text) => {
    expect(refusal(text)).toMatch(/image (id|reference)|could be read as an image id|is an image id/);
  });

  it('refuses what it cannot check before the build', () => {
    expect(refusal('ARG B="$X"\nFROM $B')).toMatch(/cannot be checked/);
    expect(refusal('FROM busybox:1\nCOPY --from=$X /x /x')).toMatch(/COPY --from with a variable/);
  });

  it('lists the images it reads: stages, indexes and scratch are not images', () => {
    const text = [
      'ARG BASE=busybox',
      'ARG TAG',
      'FROM ${BASE}:${TAG:-1} AS Build',
      'FROM scratch',
      'COPY --from=build /a /a',
      'COPY --from=0 /b /b',
      'COPY --from=registry.example/tools:2 /c /c',
      'FROM build',
    ].join('\n');
    expect(checkDockerfile(text).map((i) => [i.kind, i.ref, i.stagesBefore])).toEqual([
      ['FROM', 'busybox:1', []],
      ['COPY --from', 'registry.example/tools:2', ['build', '#1']],
    ]);
  });

  it('separates flags at the bytes 0x85 and 0xA0 as the engine does', () => {
    // "--chown=x" 0xA0 "--from=3f2a": two flags for the engine, so the --from must be seen.
    const text = Buffer.concat([Buffer.from('FROM busybox:1\nCOPY --chown=x'), Buffer.from([0xa0]), Buffer.from('--from=3f2a /s /d\n')]);
    expect(refusal(text)).toMatch(/could be read as an image id/);
  });
});

describe('checkBuildImages', () => {
  const org = { [LABELS.org]: 'org-a' };
  const images = new Map<string, PolicyImage>([
    ['busybox:1', { id: `sha256:${'1'.repeat(64)}`, labels: {}, onBuild: [] }],
    ['mine:1', { id: `sha256:${'2'.repeat(64)}`, labels: { [LABELS.org]: 'org-a' }, onBuild: [] }],
    ['theirs:1', { id: `sha256:${'3'.repeat(64)}`, labels: { [LABELS.org]: 'org-b' }, onBuild: [] }],
    ['trap:1', { id: `sha256:${'4'.repeat(64)}`, labels: {}, onBuild: ['ADD http://169.254.169.254/ /m'] }],
    ['trap:2', { id: `sha256:${'5'.repeat(64)}`, labels: {}, onBuild: ['COPY --from=theirs:1 /secret /s'] }],
    ['fine:1', { id: `sha256:${'6'.repeat(64)}`, labels: {}, onBuild: ['COPY --from=builder /a /a', 'RUN true'] }],
  ]);
  const pulled: string[] = [];
  const engine = {
    lookup: async (ref: string) => images.get(ref) ?? null,
    pull: async (ref: string) => {
      pulled.push(ref);
      if (ref === 'remote:1') images.set(ref, { id: `sha256:${'7'.repeat(64)}`, labels: {}, onBuild: [] });
    },
  };
  const check = (text: string) => checkBuildImages(checkDockerfile(text), org, engine);

  it('allows public images, its own org\'s, stages in triggers, and pulls what is missing first', async () => {
    await check('FROM busybox:1 AS builder\nFROM mine:1\nCOPY --from=busybox:1 /a /a\nFROM builder\nFROM fine:1\nFROM remote:1');
    expect(pulled).toEqual(['remote:1']);
  });

  it('refuses another org\'s image, as a base or a COPY --from, without naming the org', async () => {
    for (const text of ['FROM theirs:1', 'FROM busybox:1\nCOPY --from=theirs:1 /x /x']) {
      const e = await check(text).catch((x: unknown) => x);
      expect(e).toMatchObject({ code: 'build_failed', message: expect.stringContaining('was built for another org') });
      expect((e as Error).message).not.toContain('org-b');
    }
  });

  it('holds a base image\'s ONBUILD triggers to the same rules', async () => {
    await expect(check('FROM trap:1')).rejects.toMatchObject({ code: 'build_failed', message: expect.stringMatching(/ONBUILD trigger of trap:1.*ADD from a URL/) });
    await expect(check('FROM trap:2')).rejects.toMatchObject({ message: expect.stringContaining('was built for another org') });
    await expect(check('FROM nowhere:1')).rejects.toMatchObject({ code: 'build_failed', message: expect.stringContaining('not found') });
  });
});
