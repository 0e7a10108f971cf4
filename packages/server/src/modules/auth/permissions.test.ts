import { describe, expect, it } from 'vitest';
import { appRouter } from '../../trpc/app-router.js';
import type { Meta } from '../../trpc/trpc.js';
import { assertAppInScope, authorize, PERMISSIONS, scopesAllowed, type Grant, type Permission } from './permissions.js';

interface Proc {
  _def: { meta?: Meta; type: 'query' | 'mutation' | 'subscription' };
}
const procedures = Object.entries(appRouter._def.procedures as unknown as Record<string, Proc>);

describe('every procedure of the router', () => {
  it('declares a known permission in its meta', () => {
    expect(procedures.length).toBeGreaterThan(30);
    const missing = procedures.filter(([, p]) => !p._def.meta?.permission || !(p._def.meta.permission in PERMISSIONS)).map(([path]) => path);
    expect(missing, 'procedures without a permission').toEqual([]);
  });

  it('declares how it is audited when it changes something on behalf of someone', () => {
    const silent = procedures
      .filter(([, p]) => p._def.type === 'mutation' && p._def.meta?.permission !== 'public' && !p._def.meta?.audit)
      .map(([path]) => path);
    expect(silent, 'mutations a signed-in caller makes without an audit record').toEqual([]);
    // Public procedures have no actor to record.
    for (const [path, p] of procedures) if (p._def.meta?.permission === 'public') expect(p._def.meta.audit, path).toBe(false);
  });

  it('names where its app is when a permission below the whole org applies to one app', () => {
    // Procedures under /apps/{id} must say so: an app-scoped API token is checked against that field.
    for (const [path, p] of procedures) {
      const rest = p._def.meta?.openapi?.path ?? '';
      if (rest.startsWith('/apps/{id}')) expect(p._def.meta?.app, path).toBe('id');
      if (rest.startsWith('/orgs/{orgId}')) expect(p._def.meta?.orgFromInput, path).toBe(true);
    }
  });
});

const grant = (g: Partial<Grant>): Grant => ({ role: 'owner', tokenId: null, scopes: null, appId: null, ...g });
const allowed = (g: Grant, p: Permission) => {
  try {
    authorize(g, p);
    return true;
  } catch (e) {
    expect((e as { code: string }).code).toBe('forbidden');
    return false;
  }
};

describe('authorize', () => {
  it('follows the role table for sessions', () => {
    const table: Record<string, Permission[]> = {
      owner: ['read', 'deploy', 'secrets', 'manage', 'members.read', 'members.manage', 'audit', 'org.owner'],
      admin: ['read', 'deploy', 'secrets', 'manage', 'members.read', 'members.manage', 'audit'],
      developer: ['read', 'deploy', 'secrets', 'members.read'],
      viewer: ['read', 'members.read'],
    };
    const orgPermissions: Permission[] = ['read', 'deploy', 'secrets', 'manage', 'members.read', 'members.manage', 'audit', 'org.owner'];
    for (const [role, yes] of Object.entries(table)) {
      for (const p of orgPermissions) expect(allowed(grant({ role: role as Grant['role'] }), p), `${role} ${p}`).toBe(yes.includes(p));
      expect(allowed(grant({ role: role as Grant['role'] }), 'account')).toBe(true);
    }
  });

  it('narrows a token to its scopes and refuses it account, member and operator rights', () => {
    const tok = (scopes: Grant['scopes'], role: Grant['role'] = 'owner', appId: string | null = null) => grant({ role, tokenId: 'tok_1', scopes, appId });
    expect(allowed(tok(['read']), 'read')).toBe(true);
    expect(allowed(tok(['read']), 'deploy')).toBe(false);
    expect(allowed(tok(['deploy']), 'read')).toBe(false);
    expect(allowed(tok(['deploy']), 'deploy')).toBe(true);
    expect(allowed(tok(['secrets']), 'secrets')).toBe(true);
    expect(allowed(tok(['manage']), 'manage')).toBe(true);
    // The creator's role still applies: a developer's manage-scoped token cannot delete apps.
    expect(allowed(tok(['manage'], 'developer'), 'manage')).toBe(false);
    expect(allowed(tok(['deploy'], 'viewer'), 'deploy')).toBe(false);
    for (const p of ['account', 'operator', 'members.read', 'members.manage', 'org.owner'] as const) expect(allowed(tok(['read', 'deploy', 'secrets', 'manage']), p), p).toBe(false);
    // The audit log is a GET (read scope) of the whole org: not for app-scoped tokens, and admins only.
    expect(allowed(tok(['read']), 'audit')).toBe(true);
    expect(allowed(tok(['read'], 'owner', 'app_1'), 'audit')).toBe(false);
    expect(allowed(tok(['read'], 'developer'), 'audit')).toBe(false);
  });

  it('keeps an app-scoped token to its app', () => {
    expect(() => assertAppInScope({ appId: 'app_1' }, 'app_1')).not.toThrow();
    expect(() => assertAppInScope({ appId: 'app_1' }, 'app_2')).toThrow(/another app/);
    expect(() => assertAppInScope({ appId: 'app_1' }, null, 'create apps')).toThrow(/cannot do create apps/);
    expect(() => assertAppInScope({ appId: null }, 'app_2')).not.toThrow();
  });

  it('lets a role grant only the scopes it holds', () => {
    expect(scopesAllowed('owner')).toEqual(['read', 'deploy', 'secrets', 'manage']);
    expect(scopesAllowed('admin')).toEqual(['read', 'deploy', 'secrets', 'manage']);
    expect(scopesAllowed('developer')).toEqual(['read', 'deploy', 'secrets']);
    expect(scopesAllowed('viewer')).toEqual(['read']);
  });
});
