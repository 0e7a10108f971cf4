import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appRouter } from '../src/trpc/app-router.js';
import type { Meta } from '../src/trpc/trpc.js';
import { startHarness, type Harness } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});

function documentedProcedures(): { path: string; method: string; meta: Meta }[] {
  return Object.values(appRouter._def.procedures as unknown as Record<string, { _def: { meta?: Meta } }>)
    .map((p) => p._def.meta)
    .filter((m): m is Meta => !!m?.openapi)
    .map((meta) => ({ path: meta.openapi!.path.replace(/:(\w+)/g, '{$1}'), method: meta.openapi!.method.toLowerCase(), meta }));
}

describe('/openapi.json', () => {
  it('lists every documented procedure with a real success schema and its error codes', async () => {
    const res = await h.app.inject({ url: '/openapi.json' });
    expect(res.statusCode).toBe(200);
    const doc = res.json();
    expect(doc.openapi).toMatch(/^3\./);
    const procs = documentedProcedures();
    expect(procs.length).toBeGreaterThanOrEqual(6);
    for (const { path, method, meta } of procs) {
      const op = doc.paths[path]?.[method];
      expect(op, `${method} ${path}`).toBeDefined();
      const status = String(meta.successStatus ?? 200);
      if (status === '204') {
        // No content: documented as such, with no body schema.
        expect(op.responses['204'], `${method} ${path} 204`).toEqual({ description: 'No content' });
      } else {
        const schema = op.responses[status]?.content?.['application/json']?.schema;
        expect(schema, `${method} ${path} ${status}`).toBeDefined();
        expect(Object.keys(schema).length, `${method} ${path} has an empty schema`).toBeGreaterThan(0);
      }
      for (const code of meta.errors ?? []) {
        const documented = Object.entries(op.responses).some(([, r]) => String((r as { description?: string }).description).includes(`\`${code}\``));
        expect(documented, `${method} ${path} documents ${code}`).toBe(true);
      }
      expect(op.responses.default).toBeUndefined();
    }
    expect(doc.components.schemas.Error.properties.error.enum).toContain('invalid_credentials');
    expect(doc.components.securitySchemes.Authorization).toMatchObject({ type: 'http', scheme: 'bearer' });
  });

  it('protected operations declare the bearer scheme, open ones do not', async () => {
    const doc = (await h.app.inject({ url: '/openapi.json' })).json();
    expect(doc.paths['/auth/me'].get.security).toEqual([{ Authorization: [] }]);
    expect(doc.paths['/auth/login'].post.security).toBeUndefined();
  });

  it('/docs renders the document for people', async () => {
    const res = await h.app.inject({ url: '/docs' });
    // Scalar's plugin may redirect /docs to /docs/; follow one redirect as a browser would.
    const page = res.statusCode >= 300 && res.statusCode < 400 ? await h.app.inject({ url: res.headers.location as string }) : res;
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.body).toContain('/openapi.json');
  });
});
