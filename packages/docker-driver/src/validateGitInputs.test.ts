import { describe, expect, it } from 'vitest';
import { DockerError } from './DockerError.js';
import { isAllowedHost, validateBranch, validateRelativePath, validateRepoUrl } from './validateGitInputs.js';

const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (e) {
    return (e as DockerError).code;
  }
};

describe('git input validation', () => {
  it('accepts https anywhere and http only for allowed hosts', () => {
    expect(validateRepoUrl('https://github.com/acme/api.git', []).href).toBe('https://github.com/acme/api.git');
    expect(code(() => validateRepoUrl('http://git.local:8080/x.git', []))).toBe('unsafe_url');
    expect(validateRepoUrl('http://git.local:8080/x.git', ['git.local:8080']).host).toBe('git.local:8080');
    expect(code(() => validateRepoUrl('http://git.local:9090/x.git', ['git.local:8080']))).toBe('unsafe_url');
    expect(validateRepoUrl('http://git.local:9090/x.git', ['git.local']).port).toBe('9090');
  });

  it('refuses transports, options, credentials and control characters', () => {
    for (const u of [
      'ext::sh -c id',
      'fd::3',
      'file:///etc',
      'ssh://git@github.com/x.git',
      'git://github.com/x.git',
      '--upload-pack=id',
      '-u',
      'https://user:pass@github.com/x.git',
      'https://github.com/x.git\n',
      'https://github.com/a b.git',
      'github.com/x.git',
      '',
    ])
      expect(`${JSON.stringify(u)} ${code(() => validateRepoUrl(u, ['github.com']))}`).toBe(`${JSON.stringify(u)} unsafe_url`);
  });

  it('matches allowed hosts by host and optional port', () => {
    const u = new URL('http://127.0.0.1:4000/x');
    expect(isAllowedHost(u, ['127.0.0.1:4000'])).toBe(true);
    expect(isAllowedHost(u, ['127.0.0.1'])).toBe(true);
    expect(isAllowedHost(u, ['127.0.0.2', ' '])).toBe(false);
    expect(isAllowedHost(new URL('https://git.example/x'), ['git.example:443'])).toBe(true);
  });

  it('checks branches lexically before git does', () => {
    expect(code(() => validateBranch('feature/x-1'))).toBeUndefined();
    for (const b of ['-x', '--upload-pack=id', 'a b', 'a\u0000b', '@{-1}', ''])
      expect(code(() => validateBranch(b))).toBe('invalid_ref');
  });

  it('keeps paths relative and free of ..', () => {
    expect(code(() => validateRelativePath('docker/Dockerfile.prod', 'dockerfile'))).toBeUndefined();
    expect(code(() => validateRelativePath('.', 'context'))).toBeUndefined();
    for (const p of ['/etc/passwd', '../x', 'a/../../x', 'a/..', '\\\\server\\share', 'C:/x', ''])
      expect(code(() => validateRelativePath(p, 'dockerfile'))).toBe('invalid_path');
  });
});
