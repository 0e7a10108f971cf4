import { describe, expect, it } from 'vitest';
import { apiHostOf, conflictingHolder, domainShapeProblem, isIpLiteral, isUnder, parentsOf } from './domain-policy.js';

const cfg = { rootDomain: 'apps.test', publicApiUrl: 'https://api.apps.test' };

describe('domainShapeProblem', () => {
  const validation: [string, string][] = [
    ['an IPv4 literal', '127.0.0.1'],
    ['a short IPv4 form browsers accept', '127.1'],
    ['a hex IPv4 form', '0x7f.0x1'],
    ['a name ending in a number', 'metadata.169'],
    ['localhost', 'localhost'],
    ['a name under localhost (outside the app space)', 'admin.localhost'],
    ['a single label', 'intranet'],
    ['two labels deep under ROOT_DOMAIN', 'login.shop.apps.test'],
    ['three labels deep under ROOT_DOMAIN', 'a.b.c.apps.test'],
  ];
  for (const [what, domain] of validation) {
    it(`refuses ${what} (${domain}) as validation`, () => {
      expect(domainShapeProblem(domain, cfg)?.code).toBe('validation');
    });
  }

  const taken: [string, string, typeof cfg][] = [
    ['the ROOT_DOMAIN apex', 'apps.test', cfg],
    ['the host of PUBLIC_API_URL, one label under ROOT_DOMAIN', 'api.apps.test', cfg],
    ['the API host outside ROOT_DOMAIN', 'api.example.test', { rootDomain: 'apps.test', publicApiUrl: 'https://api.example.test/' }],
    ['a name under the API host', 'x.api.example.test', { rootDomain: 'apps.test', publicApiUrl: 'https://api.example.test' }],
    ['a parent of the API host', 'example.test', { rootDomain: 'apps.test', publicApiUrl: 'https://api.example.test' }],
    ['a parent of ROOT_DOMAIN', 'example.com', { rootDomain: 'apps.example.com', publicApiUrl: 'https://cp.other.com' }],
  ];
  for (const [what, domain, c] of taken) {
    it(`refuses ${what} (${domain}) as domain_taken`, () => {
      expect(domainShapeProblem(domain, c)?.code).toBe('domain_taken');
    });
  }

  const fine: [string, string, typeof cfg][] = [
    ['a default domain', 'shop.apps.test', cfg],
    ['a service default domain', 'api-shop.apps.test', cfg],
    ['a domain of your own', 'www.example.com', cfg],
    ['a deep domain of your own', 'a.b.c.example.com', cfg],
    ['<name>.localhost when ROOT_DOMAIN is localhost (the default), the API on localhost', 'shop.localhost', { rootDomain: 'localhost', publicApiUrl: 'http://localhost:3000' }],
    ['one label under ROOT_DOMAIN when the API host is the parent of ROOT_DOMAIN', 'shop.apps.example.com', { rootDomain: 'apps.example.com', publicApiUrl: 'https://example.com' }],
    ['any name when the API is reached by IP', 'www.example.com', { rootDomain: 'apps.test', publicApiUrl: 'http://10.0.0.5:3000' }],
  ];
  for (const [what, domain, c] of fine) {
    it(`accepts ${what} (${domain})`, () => {
      expect(domainShapeProblem(domain, c)).toBeNull();
    });
  }

  it('keeps the default ROOT_DOMAIN=localhost usable but refuses deeper names and the apex', () => {
    const local = { rootDomain: 'localhost', publicApiUrl: 'http://localhost:3000' };
    expect(domainShapeProblem('a.b.localhost', local)?.code).toBe('validation');
    expect(domainShapeProblem('localhost', local)?.code).toBe('validation');
  });
});

describe('helpers', () => {
  it('isUnder, parentsOf, isIpLiteral, apiHostOf', () => {
    expect(isUnder('a.example.com', 'example.com')).toBe(true);
    expect(isUnder('example.com', 'example.com')).toBe(false);
    expect(isUnder('badexample.com', 'example.com')).toBe(false);
    expect(parentsOf('a.b.example.com')).toEqual(['b.example.com', 'example.com', 'com']);
    expect(isIpLiteral('1password.com')).toBe(false);
    expect(isIpLiteral('[::1]')).toBe(true);
    expect(apiHostOf('http://127.0.0.1:3000')).toBeUndefined();
    expect(apiHostOf('https://API.Example.com/')).toBe('api.example.com');
  });
});

describe('conflictingHolder', () => {
  const me = { appId: 'app_me', orgId: 'org_me' };
  const held = [
    { domain: 'shop.acme.com', app_id: 'app_theirs', org_id: 'org_them' },
    { domain: 'www.mine.com', app_id: 'app_sibling', org_id: 'org_me' },
    { domain: 'own.com', app_id: 'app_me', org_id: 'org_me' },
  ];
  it("refuses the same name, a name inside or containing another org's domain", () => {
    expect(conflictingHolder(['shop.acme.com'], held, me)?.domain).toBe('shop.acme.com');
    expect(conflictingHolder(['login.shop.acme.com'], held, me)?.message).toMatch(/inside/);
    expect(conflictingHolder(['acme.com'], held, me)?.message).toMatch(/contains/);
    expect(conflictingHolder(['ok.com', 'acme.com'], held, me)?.domain).toBe('acme.com');
  });
  it("allows siblings, nesting with the same org's apps, and the app's own domains; never the same name twice", () => {
    expect(conflictingHolder(['blog.acme.com', 'mine.com', 'x.www.mine.com', 'own.com'], held, me)).toBeNull();
    expect(conflictingHolder(['www.mine.com'], held, me)?.message).toMatch(/another app/);
  });
});
